import Foundation
import GatewayTestSupport
import NIOHTTP1
import Reservations
import Synchronization
import Testing
import TestSupport

/// The reservation routes: several VMs as one, all or none (docs/API.md, "Reservations").
@Suite(.timeLimit(.minutes(10))) struct ReservationRouteTests {
    @Test func aReservationIsMadeSeenRenewedAndReturned() async throws {
        try await withGateway { gateway async throws in
            try await gateway.createVMs(4)
            let alice = try await gateway.createUser("alice", quota: 4)
            let bob = try await gateway.createUser("bob", quota: 4)
            let made = try await gateway.call(.POST, "/v1/reservations", token: alice, body: #"{"count": 3, "lease_seconds": 600}"#)
            #expect(made.status == 201, "\(made.text)")
            let id = try #require(made["id"])
            let vms = try #require(made.data?["vms"] as? [[String: Any]])
            #expect(vms.count == 3 && vms.allSatisfy { $0["reservation_id"] as? String == id && $0["status"] as? String == "checked-out" })
            #expect(made["user"] == "alice" && made.data?["lease_seconds"] as? Int == 600 && made["lease_expires_at"] != nil)
            let mine = try await gateway.call(.GET, "/v1/reservations/mine", token: alice)
            #expect((mine.json?["data"] as? [[String: Any]])?.map { $0["id"] as? String } == [id])
            #expect(try await gateway.call(.GET, "/v1/reservations/\(id)", token: alice).status == 200)
            #expect(try await gateway.call(.GET, "/v1/reservations/\(id)").status == 200, "an admin sees it")
            let hidden = try await gateway.call(.GET, "/v1/reservations/\(id)", token: bob)
            #expect(hidden.status == 404 && hidden.code == "reservation_not_found")
            #expect(try await gateway.call(.GET, "/v1/reservations/\(UUID().uuidString.lowercased())", token: bob).text == hidden.text)
            let renewed = try await gateway.call(.POST, "/v1/reservations/\(id)/renew", token: alice, body: #"{"lease_seconds": 1200}"#)
            #expect(renewed.status == 200 && renewed.data?["lease_seconds"] as? Int == 1200, "\(renewed.text)")
            let history = try await gateway.call(.GET, "/v1/vms/mine/history", token: alice)
            let events = (history.data?["items"] as? [[String: Any]]) ?? []
            #expect(events.filter { $0["reservation_id"] as? String == id }.count == 6, "3 checkouts and 3 renewals name it")
            let returned = try await gateway.call(.DELETE, "/v1/reservations/\(id)", token: alice)
            #expect(returned.status == 200)
            #expect((returned.data?["vms"] as? [[String: Any]])?.allSatisfy { $0["status"] as? String == "available" } == true)
            #expect(try await gateway.call(.GET, "/v1/reservations/\(id)", token: alice).code == "reservation_not_found")
            #expect(try await gateway.call(.GET, "/v1/admin/pool").data?["counts"] as? [String: Int] == [
                "provisioning": 0, "available": 4, "checked-out": 0, "error": 0, "deprovisioning": 0, "set-aside": 0])
        }
    }

    /// The reaper (no request asks) returns a reservation whose lease ran out, every VM of it in
    /// one script: Redis, read directly, never shows part of it returned.
    @Test func aLeaseThatRunsOutReturnsEveryVMOfTheReservationAtOnce() async throws {
        let pool = "reservation-lease-\(UUID().uuidString)"
        try await withGateways(2, pool: pool) { gateways in
            try await gateways[0].createVMs(3)
            let alice = try await gateways[0].createUser("alice", quota: 3)
            let made = try await gateways[0].call(.POST, "/v1/reservations", token: alice, body: #"{"count": 3, "lease_seconds": 1}"#)
            let id = try #require(made["id"])
            let keys = PoolKeys(pool: pool)
            try await withRedisClient(.test(try await SharedRedis.url(), connectionCount: 1)) { redis async throws in
                try await waitUntil("the reaper returned it") {
                    let available = try? await redis.send(.init("HGET", ["\(keys.prefix):pool", "count:available"])).string
                    #expect(available == "0" || available == "3", "never part of it")
                    return available == "3"
                }
                #expect(try await redis.send(.init("EXISTS", ["\(keys.prefix):reservation:\(id)"])) == .integer(0))
            }
            let history = try await gateways[1].call(.GET, "/v1/admin/events?user=alice")
            let expired = (history.data?["items"] as? [[String: Any]] ?? []).filter { $0["action"] as? String == "lease_expired" }
            #expect(expired.count == 3 && expired.allSatisfy { $0["reservation_id"] as? String == id && $0["actor"] as? String == "system" })
        }
    }

    /// A path's own route wins over a capture (`mine` is no reservation id): 405 lists the methods
    /// of that route alone, each once, as for `/v1/vms/mine` next to `/v1/vms/{vm_id}`.
    @Test func otherMethodsOnAPathGet405WithItsOwnMethods() async throws {
        try await withGateway { gateway async throws in
            for (method, path, allowed) in [(HTTPMethod.DELETE, "/v1/reservations/mine", "GET"), (.OPTIONS, "/v1/reservations/mine", "GET"),
                                            (.PUT, "/v1/vms/mine", "GET"), (.PUT, "/v1/reservations/\(UUID().uuidString)", "DELETE, GET"),
                                            (.GET, "/v1/reservations", "POST")] {
                let answer = try await gateway.call(method, path)
                #expect(answer.status == 405 && answer.headers["Allow"].first == allowed, "\(method) \(path): \(answer.headers["Allow"])")
            }
        }
    }

    /// Refusals take nothing and change nothing: too few VMs, the quota, the cap, bad input.
    @Test func aRefusedReservationChangesNothing() async throws {
        try await withGateway(configure: { $0.maxVMCount = 4 }) { gateway async throws in
            try await gateway.createVMs(3)
            let alice = try await gateway.createUser("alice", quota: 2)
            let before = try await gateway.snapshot()
            let cases: [(String, Int, String)] = [
                (#"{"count": 2}"#, 201, ""),
                (#"{"count": 3}"#, 429, "quota_exceeded"),
                (#"{"count": 5}"#, 409, "invalid_state"),
                (#"{}"#, 400, "bad_request"), (#"{"count": 0}"#, 400, "bad_request"), (#"{"count": 101}"#, 400, "bad_request"),
                (#"{"count": 1, "vms": [{"count": 1}]}"#, 400, "bad_request"), (#"{"vms": []}"#, 400, "bad_request"),
                (#"{"vms": [{"count": 1, "colour": "red"}]}"#, 400, "bad_request"), (#"{"vms": [{"size": "huge", "count": 1}]}"#, 400, "bad_request"),
                (#"{"count": 1, "lease_seconds": 0}"#, 400, "bad_request"),
            ]
            for (index, (body, status, code)) in cases.enumerated() {
                let token = index == 0 ? try await gateway.createUser("bob", quota: 5) : alice
                let answer = try await gateway.call(.POST, "/v1/reservations", token: token, body: body)
                #expect(answer.status == status && (code.isEmpty || answer.code == code), "\(body): \(answer.text)")
            }
            // bob took 2 of 3: 2 more for alice is too few, and nothing of hers changes
            let afterBob = try await gateway.snapshot()
            #expect(afterBob != before)
            let few = try await gateway.call(.POST, "/v1/reservations", token: alice, body: #"{"count": 2}"#)
            #expect(few.status == 503 && few.code == "no_vm_available" && few.headers["Retry-After"].first != nil)
            for query in ["wait=-1", "wait=3601", "wait=x", "wait=5&size=small"] {
                let refused = try await gateway.call(.POST, "/v1/reservations?\(query)", token: alice, body: #"{"count": 1}"#)
                #expect(refused.status == 400 && refused.code == "bad_request", "\(query): \(refused.text)")
            }
            #expect(try await gateway.snapshot() == afterBob)
        }
    }

    /// 20 clients on 3 gateways reserve groups of 1 to 5 of 20 VMs, some with Idempotency-Key
    /// retries, and return them (some a VM at a time): every answer holds exactly what was asked,
    /// no VM is in two reservations at once, and the pool's keys, reservations included, stay
    /// true in atomic snapshots taken all along.
    @Test func twentyClientsOnThreeGatewaysNeverHoldAPartialGroup() async throws {
        let pool = "reservations-\(UUID().uuidString)"
        try await withGateways(3, pool: pool, configure: { $0.maxVMCount = 20 }) { gateways in
            try await gateways[0].createVMs(20)
            var users: [String] = []
            for index in 0..<20 { users.append(try await gateways[index % 3].createUser("user\(index)", quota: 6)) }
            let tokens = users
            let findings = Findings(), held = Holdings()
            let prefix = PoolKeys(pool: pool).prefix
            try await withRedisClient(.test(try await SharedRedis.url(), connectionCount: 1)) { redis in
                try await withThrowingTaskGroup { group in
                    for (index, token) in tokens.enumerated() {
                        group.addTask {
                            var generator = SeededGenerator(seed: UInt64(index + 1))
                            for round in 0..<10 {
                                let gateway = gateways[(index + round) % 3], count = Int.random(in: 1...5, using: &generator)
                                let key = round % 3 == 0 ? "k-\(index)-\(round)" : nil
                                guard let (id, ids) = try await held.reserve(count, at: "/v1/reservations", token: token, on: gateway,
                                                                             retryingOn: gateways[(index + round + 1) % 3], key: key,
                                                                             findings: findings) else { continue }
                                // give back: a VM alone first, sometimes, then the reservation
                                if round % 2 == 0, ids.count > 1 {
                                    held.drop([ids[0]], of: id)
                                    let checkin = try await gateway.call(.POST, "/v1/checkins", token: token, body: #"{"vm_id": "\#(ids[0])"}"#)
                                    if checkin.status != 200 { findings.add(["checkin \(checkin.text)"]) }
                                }
                                held.drop(ids, of: id)
                                let returned = try await gateway.call(.DELETE, "/v1/reservations/\(id)", token: token)
                                if returned.status != 200 { findings.add(["return \(returned.text)"]) }
                            }
                        }
                    }
                    group.addTask {  // the pool read again and again, each time in one atomic step
                        for _ in 0..<50 {
                            findings.add(try await poolInconsistencies(redis, prefix: prefix))
                            try await Task.sleep(for: .milliseconds(20))
                        }
                    }
                    try await group.waitForAll()
                }
                #expect(findings.all.isEmpty, "\(findings.all.prefix(10))")
                #expect(try await poolInconsistencies(redis, prefix: prefix) == [])
                let stats = try await gateways[0].call(.GET, "/v1/admin/pool")
                #expect((stats.data?["counts"] as? [String: Int])?["available"] == 20, "every VM back")
            }
        }
    }
}

/// Which reservation holds each VM, as the answers said.
final class Holdings: Sendable {
    /// A client's reservation of `count` VMs (`POST path` on `gateway`); with an Idempotency-Key
    /// `key`, asked again on `retryGateway`, which must answer the same reservation. Answers its
    /// id and its VMs' ids, recorded here (`take`); nil when refused with 503. Anything else, a
    /// group of another size and a VM in two reservations are findings.
    func reserve(
        _ count: Int, at path: String, token: String, on gateway: Gateway, retryingOn retryGateway: Gateway, key: String?,
        findings: Findings
    ) async throws -> (id: String, vms: [String])? {
        let headers = key.map { [("Idempotency-Key", $0)] } ?? []
        var made = try await gateway.call(.POST, path, token: token, body: #"{"count": \#(count)}"#, headers: headers)
        if key != nil, made.status == 201 {  // a retry gets the same reservation, not a second
            let again = try await retryGateway.call(.POST, path, token: token, body: #"{"count": \#(count)}"#, headers: headers)
            if again["id"] != made["id"] { findings.add(["a retry made a second reservation: \(again.text)"]) }
            made = again
        }
        guard made.status == 201, let id = made["id"], let vms = made.data?["vms"] as? [[String: Any]] else {
            if made.status != 503 { findings.add(["\(made.status) \(made.text)"]) }
            return nil
        }
        let ids = vms.compactMap { $0["vm_id"] as? String }
        if ids.count != count { findings.add(["asked for \(count), held \(ids.count)"]) }
        findings.add(take(ids, into: id))
        return (id, ids)
    }

    private let reservationOf = Mutex<[String: String]>([:])

    /// Records that reservation `id` holds `vms`; answers those another reservation held already.
    func take(_ vms: [String], into id: String) -> [String] {
        reservationOf.withLock { held in
            vms.compactMap { vm in
                defer { held[vm] = id }
                return held[vm].map { "\(vm) in \($0) and \(id)" }
            }
        }
    }

    /// `vms` leave reservation `id` (those it still holds).
    func drop(_ vms: [String], of id: String) {
        reservationOf.withLock { held in for vm in vms where held[vm] == id { held[vm] = nil } }
    }
}
