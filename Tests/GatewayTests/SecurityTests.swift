import AsyncHTTPClient
import Foundation
import GatewayTestSupport
import NIOHTTP1
import RedisServerProcess
import Testing
import TestSupport
@testable import ReservationHTTP

/// Security: failed authentications limited per client address, the admin token rotated with no
/// restart, no secret in the logs, bounded headers, and nothing of one user visible to another.
@Suite(.timeLimit(.minutes(10))) struct SecurityTests {
    @Test func anAddressThatFailsToAuthenticateTooOftenIsRefusedForAWhile() async throws {
        try await withGateway(configure: { $0.authenticationFailureLimit = 3 }) { gateway async throws in
            let alice = try await gateway.createUser("alice", quota: 1)
            for attempt in 1...3 {
                let bad = try await gateway.call(.GET, "/v1/vms/mine", token: "wrong-token-\(attempt)")
                #expect(bad.status == 401)
            }
            for token in ["wrong-token-4", alice, adminToken] {
                let refused = try await gateway.call(.GET, "/v1/vms/mine", token: token)
                #expect(refused.status == 429 && refused.code == "too_many_failed_authentications", "\(refused.text)")
                let wait = try #require(refused.headers["Retry-After"].first.flatMap { Int($0) })
                #expect((1...60).contains(wait))
                #expect(refused.message == "Too many failed authentications from this address; retry in \(wait) seconds")
            }
            #expect(try await gateway.call(.GET, "/healthz", token: nil).status == 200, "requests without a token are not refused")
        }
    }

    @Test func behindAProxyTheForwardedAddressIsTheOneCounted() async throws {
        try await withGateway(configure: {
            $0.authenticationFailureLimit = 2
            $0.trustForwardedFor = true
        }) { gateway async throws in
            let from = { (address: String) in [("X-Forwarded-For", "203.0.113.50, \(address)")] }
            for _ in 0..<2 { #expect(try await gateway.call(.GET, "/v1/vms/mine", token: "bad-token-xyz", headers: from("198.51.100.7")).status == 401) }
            #expect(try await gateway.call(.GET, "/v1/vms/mine", headers: from("198.51.100.7")).status == 429)
            #expect(try await gateway.call(.GET, "/v1/vms/mine", headers: from("198.51.100.8")).status == 200, "another client")
        }
    }

    @Test func aFailureWindowEnds() async throws {
        let failures = AuthenticationFailures(limit: 2, window: .milliseconds(200))
        #expect(!failures.mayRefuse, "no window open: requests need not look up their address")
        failures.recordFailure(of: "a")
        #expect(failures.mayRefuse && failures.refusal(for: "a") == nil)
        failures.recordFailure(of: "a")
        #expect(failures.refusal(for: "a") != nil && failures.refusal(for: "b") == nil)
        try await waitUntil("the window ends") { failures.refusal(for: "a") == nil }
        #expect(!failures.mayRefuse)
        failures.recordFailure(of: "a")
        #expect(failures.mayRefuse && failures.refusal(for: "a") == nil, "a new window counts from zero")
    }

    @Test func headersBeyondTheLimitAreRefusedWithoutBeingServed() async throws {
        try await withGateway { gateway async throws in
            let connection = try RawHTTPConnection(port: gateway.port)
            let big = String(repeating: "x", count: 200_000)
            try? connection.send("GET /v1/admin/pool HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \(adminToken)\r\nX-Big: \(big)\r\n\r\n")
            let answer = await connection.readAnswer()
            #expect(answer.isEmpty || answer.hasPrefix("HTTP/1.1 431") || answer.hasPrefix("HTTP/1.1 400"), "\(answer.prefix(200))")
            #expect(!answer.contains("\"status\":\"success\""))
            #expect(try await gateway.call(.GET, "/healthz", token: nil).status == 200, "the gateway goes on")
        }
    }

    @Test func aUserLearnsNothingOfAnotherUsersVMsOrName() async throws {
        try await withGateway { gateway async throws in
            try await gateway.createVMs(4)
            let alice = try await gateway.createUser("alice-secret-name", quota: 2)
            let bob = try await gateway.createUser("bob", quota: 1)
            let vm = try await gateway.call(.POST, "/v1/checkouts", token: alice, body: #"{"lease_seconds": 600}"#)
            let id = try #require(vm["vm_id"]), ip = try #require(vm["ip"])
            let reservation = try #require(try await gateway.call(.POST, "/v1/reservations", token: alice, body: #"{"count": 1}"#)["id"])
            // every operation of docs/openapi.json, about alice's VM and name where it takes one
            let document = try JSONSerialization.jsonObject(with: Data(contentsOf: OpenAPITests.file)) as? [String: Any]
            let paths = document?["paths"] as? [String: [String: Any]] ?? [:]
            let bodies = [
                "/v1/checkins": #"{"vm_id": "\#(id)"}"#, "/v1/checkouts/{vm_id}/renew": #"{"lease_seconds": 60}"#,
                "/v1/admin/users": #"{"name": "alice-secret-name"}"#, "/v1/admin/pool": #"{"max_vm_count": 1}"#,
                "/v1/admin/users/{name}": #"{"quota": 9}"#, "/v1/reservations": #"{"count": 1}"#,
                "/v1/reservations/{id}/renew": #"{"lease_seconds": 60}"#,
            ]
            // bob's own checkout is his to make: it goes last, after the pool is compared
            let own: Set<String> = ["POST /v1/checkouts", "GET /checkoutVM/", "POST /v1/reservations"]
            var probes: [(HTTPMethod, String, String?)] = []
            var last: [(HTTPMethod, String, String?)] = []
            for (template, operations) in paths {
                var path = template.replacingOccurrences(of: "{vm_id}", with: id).replacingOccurrences(of: "{name}", with: "alice-secret-name")
                    .replacingOccurrences(of: "{id}", with: reservation)
                if ["/getVM/", "/getVMStatus/", "/checkinVM/", "/deleteVM/"].contains(template) { path += "?vm_id=\(id)" }
                for method in operations.keys {
                    let probe = (HTTPMethod(rawValue: method.uppercased()), path, bodies[template])
                    if own.contains("\(method.uppercased()) \(template)") { last.append(probe) } else { probes.append(probe) }
                }
            }
            #expect(probes.count + last.count >= 34, "every operation of the document")
            probes += [(.POST, "/v1/checkins", #"{"ip": "\#(ip)"}"#), (.GET, "/v1/vms/mine/history?vm_id=\(id)", nil),
                       (.GET, "/checkinVM/?ip=\(ip)", nil), (.GET, "/v1/admin/events?user=alice-secret-name", nil)]
            let before = try await gateway.snapshot()
            func probe(_ list: [(HTTPMethod, String, String?)]) async throws {
                for (method, path, body) in list {
                    let answer = try await gateway.call(method, path, token: bob, body: body)
                    #expect(!answer.text.contains("alice-secret-name"), "\(method) \(path) names alice: \(answer.text)")
                    #expect(!answer.text.contains(ip), "\(method) \(path) shows alice's VM: \(answer.text)")
                    if answer.status < 400 {
                        #expect(!answer.text.contains(id), "\(method) \(path) shows alice's VM: \(answer.text)")
                    }
                }
            }
            try await probe(probes)
            #expect(try await gateway.snapshot() == before, "and changes nothing")
            try await probe(last)
        }
    }
}
