import Foundation
import GatewayTestSupport
import Hummingbird
import RedisClient
import RedisServerProcess
import Reservations
import Testing
import TestSupport
@testable import ReservationHTTP

/// docs/openapi.json against the server: it is what /openapi.json serves, it describes every
/// route the router has and no other, and schemathesis, generating requests from it (valid and
/// invalid), finds no answer that breaks it: no 500, no undocumented status, no body off its
/// schema, no rejected-input-accepted, 401 without a token, 405 for other methods; and no request
/// it refuses changes anything in Redis (Tests/schemathesis/unchanged_on_rejection.py).
@Suite(.timeLimit(.minutes(20))) struct OpenAPITests {
    static let file = repositoryRoot.appending(path: "docs/openapi.json")

    @Test func theServerServesTheDocumentOfTheRepository() async throws {
        try await withGateway { gateway async throws in
            let served = try await gateway.call(.GET, "/openapi.json", token: nil)
            #expect(served.status == 200 && served.headers["Content-Type"].first?.hasPrefix("application/json") == true)
            #expect(served.text == (try String(contentsOf: Self.file, encoding: .utf8)))
            #expect(served.json?["openapi"] as? String == "3.1.0")
        }
    }

    /// The router's routes against the document's paths. A pool's routes are also under
    /// `/pools/{pool}`: the document says so with its second server, not with each path again.
    @Test func theDocumentDescribesEveryRouteAndNoOther() async throws {
        let document = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: Self.file)) as? [String: Any])
        let paths = try #require(document["paths"] as? [String: [String: Any]])
        var described: Set<String> = []
        for (path, operations) in paths {
            let normalized = "/" + path.split(separator: "/").joined(separator: "/")
            for method in operations.keys { described.insert("\(method.uppercased()) \(normalized)") }
        }
        let servers = try #require(document["servers"] as? [[String: Any]]).compactMap { $0["url"] as? String }
        #expect(servers == ["http://127.0.0.1:5000", "http://127.0.0.1:5000/pools/{pool}"])
        let client = RedisClient(configuration: .init(url: RedisURL()))
        let store = ReservationStore(redis: client, keys: PoolKeys(), defaultQuota: 1)
        let router = buildRouter(pools: ServedPools([ServedPool(name: "default", store: store, room: WaitingRoom())]),
                                 adminTokens: AdminTokens([]), configuration: GatewayConfiguration())
        let routes = router.routes.map { route in
            "\(route.method) /" + "\(route.path)".split(separator: "/").map { $0.hasPrefix(":") ? "{\($0.dropFirst())}" : $0 }.joined(separator: "/")
        }
        let prefix = " /pools/{pool}"
        let served = Set(routes.filter { !$0.contains(prefix) })
        let pooled = Set(routes.filter { $0.contains(prefix) }.map { $0.replacingOccurrences(of: prefix, with: " ") })
        #expect(served.subtracting(described).isEmpty, "routes the document leaves out: \(served.subtracting(described).sorted())")
        #expect(described.subtracting(served).isEmpty, "routes the server does not have: \(described.subtracting(served).sorted())")
        let operations: Set = ["GET /healthz", "GET /readyz", "GET /metrics", "GET /openapi.json", "GET /ui", "GET /ui/app.js", "GET /ui/style.css"]
        #expect(pooled == served.subtracting(operations), "under /pools/{pool}: \(pooled.symmetricDifference(served.subtracting(operations)).sorted())")
    }
}
