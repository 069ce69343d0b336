import AsyncHTTPClient
import Foundation
import Hummingbird
import NIOCore
import NIOHTTP1
import RedisClient
import RedisServerProcess
import ReservationHTTP
import ServiceLifecycle
import Synchronization
import TestSupport

public let adminToken = "test-admin-token-0123456789abcdef"

/// One HTTP client for every test, with room for many concurrent connections, and deadlines
/// for a broken machine, not a slow one (tests of a deadline measure it themselves).
public let testHTTPClient: HTTPClient = {
    var configuration = HTTPClient.Configuration()
    configuration.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = 256
    configuration.timeout = .init(connect: .seconds(60), read: .seconds(120))
    return HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
}()

/// A gateway listening on a loopback port: in this process (`withGateways`) or a `vmreserve
/// serve` process (`GatewayProcess`).
public struct Gateway: Sendable {
    public let port: Int
    /// Put before every path called: `/pools/NAME` for a pool other than the gateway's first.
    public var pathPrefix = ""
    /// A gateway that serves HTTPS: called at https://localhost with this client (which trusts
    /// the test's CA). Nil: plain http to 127.0.0.1.
    public var https: HTTPClient?

    public init(port: Int, pathPrefix: String = "", https: HTTPClient? = nil) {
        self.port = port
        self.pathPrefix = pathPrefix
        self.https = https
    }

    /// The same gateway, its calls for the pool `name` (under `/pools/NAME`).
    public func pool(_ name: String) -> Gateway {
        Gateway(port: port, pathPrefix: "/pools/\(name)", https: https)
    }

    public func call(
        _ method: HTTPMethod, _ path: String, token: String? = adminToken, body: String? = nil,
        headers: [(String, String)] = []
    ) async throws -> APIResponse {
        let base = https == nil ? "http://127.0.0.1:\(port)" : "https://localhost:\(port)"
        var request = HTTPClientRequest(url: base + pathPrefix + path)
        request.method = method
        if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(string: body))
        }
        let response = try await (https ?? testHTTPClient).execute(request, timeout: .seconds(120))
        let bytes = try await response.body.collect(upTo: 16 << 20)
        return APIResponse(status: Int(response.status.code), headers: response.headers, text: String(buffer: bytes))
    }
}

/// An answer, with its JSON envelope picked apart.
public struct APIResponse: @unchecked Sendable {
    public let status: Int
    public let headers: HTTPHeaders
    public let text: String
    /// The parsed body (nil when it is not JSON).
    public let json: [String: Any]?

    public init(status: Int, headers: HTTPHeaders, text: String) {
        self.status = status
        self.headers = headers
        self.text = text
        json = (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any]
    }

    public var data: [String: Any]? { json?["data"] as? [String: Any] }
    public var items: [[String: Any]]? { json?["data"] as? [[String: Any]] }
    public var code: String? { json?["code"] as? String }
    public var message: String? { json?["message"] as? String }
    public var envelopeStatus: String? { json?["status"] as? String }

    public subscript(field: String) -> String? { data?[field] as? String }

    /// The value of an unlabelled metric in a Prometheus text answer.
    public func gauge(_ name: String) -> Double? {
        text.split(separator: "\n").first { $0.hasPrefix(name + " ") }.flatMap { Double($0.dropFirst(name.count + 1)) }
    }
}

/// Runs `count` gateways on one Redis (by default the shared one, on a pool of its own) for the
/// length of `body`, each with its own Redis client, and waits until every one is ready. Their
/// Redis deadline is long enough for a busy machine; a test of the deadline sets its own.
public func withGateways<T: Sendable>(
    _ count: Int = 1,
    redis: RedisURL? = nil,
    pool: String = "test-\(UUID().uuidString)",
    configure: @Sendable (inout GatewayConfiguration) -> Void = { _ in },
    _ body: @Sendable ([Gateway]) async throws -> T
) async throws -> T {
    let redis = if let redis { redis } else { try await SharedRedis.url() }
    return try await withThrowingTaskGroup { group in
        let (ports, portContinuation) = AsyncStream.makeStream(of: Int.self)
        for _ in 0..<count {
            var configuration = GatewayConfiguration(
                host: "127.0.0.1", port: 0,
                redis: .test(redis),
                adminToken: adminToken, maxVMCount: 100, defaultQuota: 5, devMode: false, pool: pool, logLevel: .warning
            )
            configure(&configuration)
            let app = try buildApplication(configuration) { channel in
                portContinuation.yield(channel.localAddress?.port ?? 0)
            }
            group.addTask {
                try await app.runService(gracefulShutdownSignals: [])
                return nil as T?
            }
        }
        var gateways: [Gateway] = []
        for await port in ports {
            gateways.append(Gateway(port: port))
            if gateways.count == count { break }
        }
        for gateway in gateways {
            try await waitUntil("the gateway is ready") {
                (try? await gateway.call(.GET, "/readyz", token: nil).status) == 200
            }
        }
        defer { group.cancelAll() }
        return try await body(gateways)
    }
}

/// One gateway on a pool of its own on the shared redis-server.
public func withGateway<T: Sendable>(
    configure: @Sendable (inout GatewayConfiguration) -> Void = { _ in },
    _ body: @Sendable (Gateway) async throws -> T
) async throws -> T {
    try await withGateways(configure: configure) { gateways in try await body(gateways[0]) }
}

/// One gateway on a redis-server of the test's own, for tests that stop, pause or reconfigure it.
public func withGatewayOnOwnRedis<T: Sendable>(
    configure: @Sendable (inout GatewayConfiguration) -> Void = { _ in },
    _ body: @Sendable (Gateway, RedisServerProcess) async throws -> T
) async throws -> T {
    try await withRedisServer { server in
        try await withGateways(redis: server.url, configure: configure) { gateways in
            try await body(gateways[0], server)
        }
    }
}

extension Gateway {
    /// Creates `count` VMs as the admin; returns their records.
    @discardableResult
    public func createVMs(_ count: Int) async throws -> [[String: Any]] {
        let response = try await call(.POST, "/v1/admin/vms", body: #"{"count": \#(count)}"#)
        guard response.status == 201, let items = response.items else {
            throw TestSupportError("creating VMs failed: \(response.status) \(response.text)")
        }
        return items
    }

    /// Creates a user and returns their token.
    public func createUser(_ name: String, quota: Int, role: String = "user") async throws -> String {
        let response = try await call(.POST, "/v1/admin/users", body: #"{"name": "\#(name)", "quota": \#(quota), "role": "\#(role)"}"#)
        guard response.status == 201, let token = response["token"] else {
            throw TestSupportError("creating user \(name) failed: \(response.status) \(response.text)")
        }
        return token
    }

    /// Everything a client can see of the pool's state and history, for before/after comparisons.
    public func snapshot() async throws -> String {
        let vms = try await call(.GET, "/v1/admin/vms?limit=1000").text
        let pool = try await call(.GET, "/v1/admin/pool").text
        let users = try await call(.GET, "/v1/admin/users").text
        let history = try await call(.GET, "/v1/admin/events?limit=1000").text
        return [vms, pool, users, history].joined(separator: "\n")
    }
}

extension APIResponse {
    /// Seconds from checkout to the lease's end, as the answer (a VM) shows them.
    public func leaseLength() throws -> Double {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        guard let start = self["checked_out_at"].flatMap(formatter.date(from:)),
              let end = self["lease_expires_at"].flatMap(formatter.date(from:))
        else { throw TestSupportError("no lease in \(text)") }
        return end.timeIntervalSince(start)
    }
}
