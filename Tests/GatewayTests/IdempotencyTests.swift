import Foundation
import GatewayTestSupport
import Testing
import TestSupport

/// Idempotency-Key over HTTP: a client that times out and retries, on any gateway, holds one VM,
/// not two; the same key for another request, or a malformed key, is refused.
@Suite(.timeLimit(.minutes(10))) struct IdempotencyTests {
    private func held(_ gateway: Gateway, _ token: String) async throws -> [String] {
        (try await gateway.call(.GET, "/v1/vms/mine", token: token).items ?? []).compactMap { $0["vm_id"] as? String }
    }

    @Test func clientsThatGiveUpAndRetryOnAnyGatewayHoldOneVMEach() async throws {
        try await withGateways(3) { gateways async throws in
            try await gateways[0].createVMs(40)
            let users = 12
            var tokens: [String] = []
            for index in 0..<users { tokens.append(try await gateways[0].createUser("client\(index)", quota: 5)) }
            let answers = try await withThrowingTaskGroup(of: (Int, String?).self) { group in
                for (index, token) in tokens.enumerated() {
                    let key = "job-\(index)-\(UUID().uuidString)"
                    // the first try: sent, then the client gives up without reading the answer
                    let request = "POST /v1/checkouts HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \(token)\r\n"
                        + "Idempotency-Key: \(key)\r\nContent-Length: 0\r\n\r\n"
                    let connection = try RawHTTPConnection(port: gateways[index % 3].port)
                    try connection.send(request)
                    connection.close()
                    // then three retries at once, one to each gateway
                    for gateway in gateways {
                        group.addTask {
                            let answer = try await gateway.call(.POST, "/v1/checkouts", token: token, headers: [("Idempotency-Key", key)])
                            #expect(answer.status == 201, "\(answer.text)")
                            return (index, answer["vm_id"])
                        }
                    }
                }
                var answers: [Int: [String]] = [:]
                for try await (index, id) in group { if let id { answers[index, default: []].append(id) } }
                return answers
            }
            for (index, token) in tokens.enumerated() {
                let ids = answers[index] ?? []
                #expect(ids.count == 3 && Set(ids).count == 1, "client \(index): every retry answered the same VM: \(ids)")
                #expect(try await held(gateways[1], token) == [ids.first].compactMap { $0 }, "client \(index) holds that one VM only")
            }
            let pool = try await gateways[2].call(.GET, "/v1/admin/pool")
            #expect((pool.data?["counts"] as? [String: Int])?["checked-out"] == users)
        }
    }

    @Test func aKeyIsForOneRequestAndMustBeWellFormed() async throws {
        try await withGateway { gateway async throws in
            try await gateway.createVMs(3)
            let alice = try await gateway.createUser("alice", quota: 3)
            let first = try await gateway.call(.POST, "/v1/checkouts", token: alice, headers: [("Idempotency-Key", "a-1")])
            #expect(first.status == 201)
            // the original design's route is the same request: the same answer
            let legacy = try await gateway.call(.GET, "/checkoutVM/", token: alice, headers: [("Idempotency-Key", "a-1")])
            #expect(legacy.status == 201 && legacy["vm_id"] == first["vm_id"])
            let before = try await gateway.snapshot()
            let other = try await gateway.call(.POST, "/v1/checkouts", token: alice, body: #"{"lease_seconds": 60}"#,
                                               headers: [("Idempotency-Key", "a-1")])
            #expect(other.status == 422 && other.code == "idempotency_key_reused")
            #expect(other.message == "This Idempotency-Key was already used for a different request")
            for headers in [[("Idempotency-Key", "")], [("Idempotency-Key", String(repeating: "k", count: 256))],
                            [("Idempotency-Key", "two words")], [("Idempotency-Key", "a"), ("Idempotency-Key", "b")]] {
                let bad = try await gateway.call(.POST, "/v1/checkouts", token: alice, headers: headers)
                #expect(bad.status == 400 && bad.code == "bad_request", "\(headers): \(bad.text)")
            }
            #expect(try await gateway.snapshot() == before, "refused requests change nothing")
            #expect(try await held(gateway, alice).count == 1)
        }
    }

    @Test func aRetriedCreateMakesNoMoreVMs() async throws {
        try await withGateways(2) { gateways async throws in
            let headers = [("Idempotency-Key", "batch-7")]
            let first = try await gateways[0].call(.POST, "/v1/admin/vms", body: #"{"count": 3}"#, headers: headers)
            let again = try await gateways[1].call(.POST, "/v1/admin/vms", body: #"{"count": 3}"#, headers: headers)
            #expect(first.status == 201 && again.status == 201)
            #expect(first.items?.compactMap { $0["vm_id"] as? String } == again.items?.compactMap { $0["vm_id"] as? String })
            #expect(try await gateways[0].call(.GET, "/v1/admin/pool").data?["total"] as? Int == 3)
            let more = try await gateways[1].call(.POST, "/v1/admin/vms", body: #"{"count": 4}"#, headers: headers)
            #expect(more.status == 422)
        }
    }

    @Test func aRetryWhileTheFirstStillWaitsIsToldSoThenGetsTheSameVM() async throws {
        try await withGateways(2, configure: { $0.maxWait = .seconds(600) }) { gateways async throws in
            try await gateways[0].createVMs(1)
            let holder = try await gateways[0].createUser("holder", quota: 1)
            let held = try #require(try await gateways[0].call(.POST, "/v1/checkouts", token: holder)["vm_id"])
            let alice = try await gateways[0].createUser("alice", quota: 2)
            let headers = [("Idempotency-Key", "wait-1")]
            let waiting = Task { try await gateways[0].call(.POST, "/v1/checkouts?wait=600", token: alice, headers: headers) }
            // (a retry that comes before the first is queued finds no VM either: 503, not kept)
            try await waitUntil("the first request waits") {
                (try? await gateways[1].call(.POST, "/v1/checkouts", token: alice, headers: headers))?.code == "idempotency_key_in_use"
            }
            let busy = try await gateways[1].call(.POST, "/v1/checkouts?wait=5", token: alice, headers: headers)
            #expect(busy.status == 409 && busy.code == "idempotency_key_in_use")
            #expect(busy.headers["Retry-After"] == ["1"])
            #expect(try await gateways[1].call(.POST, "/v1/checkins", token: holder, body: #"{"vm_id": "\#(held)"}"#).status == 200)
            let served = try await waiting.value
            #expect(served.status == 201 && served["vm_id"] == held)
            let retried = try await gateways[1].call(.POST, "/v1/checkouts", token: alice, headers: headers)
            #expect(retried.status == 201 && retried["vm_id"] == held)
            #expect(try await self.held(gateways[0], alice) == [held])
        }
    }
}
