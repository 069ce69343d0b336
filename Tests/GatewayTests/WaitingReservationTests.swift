import Foundation
import GatewayTestSupport
import RedisClient
import Reservations
import Synchronization
import Testing
import TestSupport

/// `POST /v1/reservations?wait=N` across several gateways: one queue with waiting checkouts,
/// VMs set aside for the group at its head, the whole group in one step, and nothing kept for a
/// wait that ends or a client that goes away (docs/API.md, "Waiting for a group").
@Suite(.timeLimit(.minutes(10))) struct WaitingReservationTests {
    static func queueLength(_ redis: RedisClient, _ pool: String) async throws -> Int {
        try await WaitingCheckoutTests.queueLength(redis, pool)
    }

    static var anHour: Duration { WaitingCheckoutTests.anHour }

    static func statuses(_ gateway: Gateway, _ ids: [String]) async throws -> [String?] {
        var statuses: [String?] = []
        for id in ids { statuses.append(try await gateway.call(.GET, "/v1/vms/\(id)")["status"]) }
        return statuses
    }

    /// `vms` VMs, `held` of them reserved by the user `holder`, and the users alice (quota 3) and
    /// bob (quota 1): the VMs' ids and the three tokens.
    static func busyPool(_ gateway: Gateway, vms: Int, held: Int) async throws
        -> (ids: [String], holder: String, alice: String, bob: String)
    {
        let ids = try await gateway.createVMs(vms).compactMap { $0["vm_id"] as? String }
        let holder = try await gateway.createUser("holder", quota: held)
        let alice = try await gateway.createUser("alice", quota: 3)
        let bob = try await gateway.createUser("bob", quota: 1)
        #expect(try await gateway.call(.POST, "/v1/reservations", token: holder, body: #"{"count": \#(held)}"#).status == 201)
        return (ids, holder, alice, bob)
    }

    @Test func aGroupWaitsOnOneGatewayWhileItsVMsFreeUpOnAnother() async throws {
        let pool = "group-wait-\(UUID().uuidString)"
        try await withGateways(3, pool: pool, configure: { $0.maxWait = Self.anHour }) { gateways in
            let (ids, holder, alice, bob) = try await Self.busyPool(gateways[0], vms: 3, held: 3)
            try await withRedisClient(.test(try await SharedRedis.url(), connectionCount: 1)) { redis async throws in
                async let group = gateways[1].call(.POST, "/v1/reservations?wait=3600", token: alice,
                                                   body: #"{"count": 3, "lease_seconds": 300}"#)
                try await waitUntil("the group is queued") { (try? await Self.queueLength(redis, pool)) == 1 }
                async let single = gateways[2].call(.POST, "/v1/checkouts?wait=3600", token: bob)
                try await waitUntil("bob is queued behind it") { (try? await Self.queueLength(redis, pool)) == 2 }
                for id in ids.prefix(2) {
                    #expect(try await gateways[0].call(.POST, "/v1/checkins", token: holder, body: #"{"vm_id": "\#(id)"}"#).status == 200)
                }
                let setAside = try await gateways[0].call(.GET, "/v1/vms/\(ids[0])")
                #expect(setAside["status"] == "set-aside" && setAside["user"] == nil && setAside["reservation_id"] != nil)
                #expect(try await Self.statuses(gateways[0], ids) == ["set-aside", "set-aside", "checked-out"])
                let counts = try await gateways[0].call(.GET, "/v1/admin/pool").data?["counts"] as? [String: Int]
                #expect(counts?["set-aside"] == 2 && counts?["available"] == 0)
                #expect(try await gateways[0].call(.POST, "/v1/checkins", token: holder, body: #"{"vm_id": "\#(ids[2])"}"#).status == 200)

                let served = try await group
                #expect(served.status == 201, "\(served.text)")
                let vms = try #require(served.data?["vms"] as? [[String: Any]])
                #expect(Set(vms.compactMap { $0["vm_id"] as? String }) == Set(ids))
                #expect(served.data?["lease_seconds"] as? Int == 300, "the lease it asked for, not the claim lease")
                #expect(served["id"] == setAside["reservation_id"], "set aside for the reservation it became")
                #expect(try await Self.queueLength(redis, pool) == 1, "bob still waits")
                #expect(try await gateways[1].call(.POST, "/v1/checkins", token: alice, body: #"{"vm_id": "\#(ids[1])"}"#).status == 200)
                let bobs = try await single
                #expect(bobs.status == 201 && bobs["vm_id"] == ids[1])
                #expect(try await poolInconsistencies(redis, prefix: PoolKeys(pool: pool).prefix) == [])
            }
        }
    }

    /// Groups and single checkouts served strictly in the order they arrived, across gateways:
    /// a group of three at the head is not passed by a single checkout behind it.
    @Test func groupsAndCheckoutsAreServedInTheOrderTheyArrived() async throws {
        let pool = "group-order-\(UUID().uuidString)"
        let sizes = [3, 1, 2, 1, 3, 2]
        try await withGateways(3, pool: pool, configure: { $0.maxVMCount = 12; $0.maxWait = Self.anHour }) { gateways in
            let ids = try await gateways[0].createVMs(12).compactMap { $0["vm_id"] as? String }
            let holder = try await gateways[0].createUser("holder", quota: 12)
            #expect(try await gateways[0].call(.POST, "/v1/reservations", token: holder, body: #"{"count": 12}"#).status == 201)
            var created: [String] = []
            for index in sizes.indices { created.append(try await gateways[0].createUser("w\(index)", quota: 3)) }
            let tokens = created, served = WaitingCheckoutTests.ServedOrder()
            try await withRedisClient(.test(try await SharedRedis.url(), connectionCount: 1)) { redis async throws in
                try await withThrowingTaskGroup { group in
                    for (index, token) in tokens.enumerated() {
                        group.addTask {
                            // a group of one is a single checkout
                            let answer = sizes[index] == 1
                                ? try await gateways[index % 3].call(.POST, "/v1/checkouts?wait=3600", token: token)
                                : try await gateways[index % 3].call(.POST, "/v1/reservations?wait=3600", token: token,
                                                                     body: #"{"count": \#(sizes[index])}"#)
                            #expect(answer.status == 201, "\(answer.text)")
                            served.record(index)
                        }
                        try await waitUntil("waiter \(index) is queued") { (try? await Self.queueLength(redis, pool)) == index + 1 }
                    }
                    // VMs free up one at a time; each waiter is served once it has all it asked for
                    var freed = 0
                    for (index, size) in sizes.enumerated() {
                        for id in ids[freed..<(freed + size)] {
                            #expect(try await gateways[(freed + 1) % 3].call(.POST, "/v1/checkins", token: holder,
                                                                              body: #"{"vm_id": "\#(id)"}"#).status == 200)
                            freed += 1
                        }
                        try await waitUntil("waiter \(index) is served") { served.count == index + 1 }
                    }
                    try await group.waitForAll()
                }
                #expect(try await poolInconsistencies(redis, prefix: PoolKeys(pool: pool).prefix) == [])
            }
            #expect(served.order == Array(sizes.indices), "served in arrival order")
        }
    }

    @Test func aWaitThatEndsIs503AndItsSetAsideVMGoesToTheNextWaiter() async throws {
        let pool = "group-ends-\(UUID().uuidString)"
        try await withGateways(2, pool: pool, configure: { $0.maxWait = Self.anHour }) { gateways in
            let (ids, _, alice, bob) = try await Self.busyPool(gateways[0], vms: 3, held: 2)
            // one VM is free: set aside for alice's group the moment it queues; bob comes after
            // (should alice's two seconds be over by then on a slow machine, bob takes it himself)
            let clock = ContinuousClock(), start = clock.now
            async let group = gateways[0].call(.POST, "/v1/reservations?wait=2", token: alice, body: #"{"count": 3}"#)
            try await withRedisClient(.test(try await SharedRedis.url(), connectionCount: 1)) { redis async throws in
                try await waitUntil("the group is queued or done") {
                    (try? await Self.queueLength(redis, pool)) == 1 || clock.now - start > .seconds(2)
                }
            }
            async let single = gateways[1].call(.POST, "/v1/checkouts?wait=3600", token: bob)
            let ended = try await group
            #expect(clock.now - start >= .seconds(2))
            #expect(ended.status == 503 && ended.code == "no_vm_available" && ended.headers.first(name: "Retry-After") != nil)
            let bobs = try await single
            #expect(bobs.status == 201 && bobs["vm_id"] != nil && ids.contains(bobs["vm_id"] ?? ""), "\(bobs.text)")
            let mine = try await gateways[0].call(.GET, "/v1/reservations/mine", token: alice)
            #expect((mine.json?["data"] as? [Any])?.isEmpty == true)
            #expect(try await poolInconsistencies(at: try await SharedRedis.url(), pool: pool) == [])
        }
    }

    @Test func aClientThatGoesAwayLeavesTheQueueAndItsSetAsideVMsGoBack() async throws {
        let pool = "group-gone-\(UUID().uuidString)"
        try await withGateways(pool: pool, configure: { $0.maxWait = Self.anHour }) { gateways in
            let gateway = gateways[0]
            let ids = try await gateway.createVMs(3).compactMap { $0["vm_id"] as? String }
            let holder = try await gateway.createUser("holder", quota: 1)
            let leaver = try await gateway.createUser("leaver", quota: 3)
            #expect(try await gateway.call(.POST, "/v1/checkouts", token: holder).status == 201)
            try await withRedisClient(.test(try await SharedRedis.url(), connectionCount: 1)) { redis async throws in
                let body = #"{"count": 3}"#
                let connection = try RawHTTPConnection(port: gateway.port)
                try connection.send("POST /v1/reservations?wait=3600 HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer \(leaver)\r\n"
                                    + "Content-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)")
                try await waitUntil("the group is queued") { (try? await Self.queueLength(redis, pool)) == 1 }
                #expect(try await Self.statuses(gateway, ids).filter { $0 == "set-aside" }.count == 2, "the two free VMs set aside")
                connection.close()
                try await waitUntil("the gateway saw the client go and took it out of the queue") {
                    (try? await redis.send(.init("HLEN", ["\(PoolKeys(pool: pool).prefix):waiting"])).int) == 0
                }
                #expect(try await Self.statuses(gateway, ids).filter { $0 == "available" }.count == 2)
                #expect(try await poolInconsistencies(redis, prefix: PoolKeys(pool: pool).prefix) == [])
            }
        }
    }
}
