import Foundation
import GatewayTestSupport
import RedisClient
import Reservations
import Synchronization
import Testing
import TestSupport

/// `POST /v1/checkouts?wait=N` across several gateways: served when a VM frees up, first come
/// first served, 503 when the wait ends, and never a VM for a client that went away.
@Suite(.timeLimit(.minutes(10))) struct WaitingCheckoutTests {
    /// The gateways' longest wait, and the wait of every request no test means to see end: a
    /// slow machine must not end it (the gateway's default is 30 s).
    static let anHour = Duration.seconds(3600)

    /// A client of the shared Redis that reads the pool's queue directly (no gateway involved).
    static func queueLength(_ redis: RedisClient, _ pool: String) async throws -> Int {
        try await redis.send(.init("ZCARD", ["\(PoolKeys(pool: pool).prefix):waiters"])).int ?? -1
    }

    @Test func aWaiterOnOneGatewayGetsTheVMCheckedInOnAnother() async throws {
        let pool = "wait-\(UUID().uuidString)"
        try await withGateways(2, pool: pool, configure: { $0.maxWait = Self.anHour }) { gateways in
            let id = try #require(try await gateways[0].createVMs(1)[0]["vm_id"] as? String)
            let holder = try await gateways[0].createUser("holder", quota: 1)
            let waiter = try await gateways[0].createUser("waiter", quota: 1)
            #expect(try await gateways[0].call(.POST, "/v1/checkouts?wait=5", token: holder).status == 201, "free: at once")
            try await withRedisClient(.test(try await SharedRedis.url(), connectionCount: 1)) { redis async throws in
                async let waited = gateways[1].call(.POST, "/v1/checkouts?wait=3600", token: waiter, body: #"{"lease_seconds": 300}"#)
                try await waitUntil("the waiter is queued") { (try? await Self.queueLength(redis, pool)) == 1 }
                #expect(try await gateways[0].call(.POST, "/v1/checkins", token: holder, body: #"{"vm_id": "\#(id)"}"#).status == 200)
                let answer = try await waited
                #expect(answer.status == 201)
                #expect(answer["vm_id"] == id && answer["user"] == "waiter")
                #expect(try answer.leaseLength() == 300, "the lease it asked for, not the claim lease")
                #expect(try await Self.queueLength(redis, pool) == 0)
            }
        }
    }

    @Test func aWaitThatEndsIs503WithRetryAfterAndLeavesTheQueue() async throws {
        let pool = "wait-\(UUID().uuidString)"
        try await withGateways(pool: pool, configure: { $0.maxWait = .seconds(1) }) { gateways in
            let alice = try await gateways[0].createUser("alice", quota: 1)
            let clock = ContinuousClock(), start = clock.now
            let answer = try await gateways[0].call(.POST, "/v1/checkouts?wait=600", token: alice)  // capped at 1 s
            let waited = clock.now - start
            #expect(answer.status == 503 && answer.code == "no_vm_available")
            #expect(answer.message == "No VMs currently available, please try after some time")
            #expect(answer.headers.first(name: "Retry-After") != nil)
            #expect(waited >= .seconds(1) && waited < .seconds(1) + TestTiming.margin, "\(waited)")
            try await withRedisClient(.test(try await SharedRedis.url(), connectionCount: 1)) { redis async throws in
                #expect(try await Self.queueLength(redis, pool) == 0)
                #expect(try await redis.send(.init("HLEN", ["\(PoolKeys(pool: pool).prefix):waiting"])) == .integer(0))
            }
            // and the original route never waits
            #expect(try await gateways[0].call(.GET, "/checkoutVM/", token: alice).status == 503)
        }
    }

    @Test func waitersAreServedInTheOrderTheyArrivedAcrossThreeGateways() async throws {
        let pool = "fifo-\(UUID().uuidString)", waiters = 12
        try await withGateways(3, pool: pool, configure: { $0.maxWait = Self.anHour }) { gateways in
            let ids = try await gateways[0].createVMs(waiters).compactMap { $0["vm_id"] as? String }
            let holder = try await gateways[0].createUser("holder", quota: waiters)
            for _ in 0..<waiters { #expect(try await gateways[0].call(.POST, "/v1/checkouts", token: holder).status == 201) }
            var created: [String] = []
            for index in 0..<waiters { created.append(try await gateways[0].createUser("w\(index)", quota: 1)) }
            let tokens = created, served = ServedOrder()
            try await withRedisClient(.test(try await SharedRedis.url(), connectionCount: 1)) { redis async throws in
                try await withThrowingTaskGroup { group in
                    // arrivals one after another, each on the next gateway, each queued before the next comes
                    for (index, token) in tokens.enumerated() {
                        group.addTask {
                            let answer = try await gateways[index % 3].call(.POST, "/v1/checkouts?wait=3600", token: token)
                            #expect(answer.status == 201, "\(answer.text)")
                            served.record(index)
                        }
                        try await waitUntil("waiter \(index) is queued") { (try? await Self.queueLength(redis, pool)) == index + 1 }
                    }
                    // then VMs free up one at a time, each after the previous waiter got its answer
                    for (count, id) in ids.enumerated() {
                        let answer = try await gateways[(count + 1) % 3].call(.POST, "/v1/checkins", token: holder, body: #"{"vm_id": "\#(id)"}"#)
                        #expect(answer.status == 200)
                        try await waitUntil("waiter \(count) is served") { served.count == count + 1 }
                    }
                    try await group.waitForAll()
                }
                #expect(try await poolInconsistencies(redis, prefix: PoolKeys(pool: pool).prefix) == [])
            }
            #expect(served.order == Array(0..<waiters), "served in arrival order")
        }
    }

    /// The order in which waiters got their VM.
    final class ServedOrder: Sendable {
        private let served = Mutex<[Int]>([])
        func record(_ index: Int) { served.withLock { $0.append(index) } }
        var order: [Int] { served.withLock { $0 } }
        var count: Int { order.count }
    }

    /// Also when it goes at once, before its request has even been queued (its gateway hears of
    /// it before the request begins to wait).
    @Test(arguments: [false, true])
    func aClientThatGoesAwayLeavesTheQueueAndIsNeverHandedAVM(atOnce: Bool) async throws {
        let pool = "gone-\(UUID().uuidString)"
        try await withGateways(pool: pool, configure: { $0.maxWait = Self.anHour }) { gateways in
            let gateway = gateways[0]
            let id = try #require(try await gateway.createVMs(1)[0]["vm_id"] as? String)
            let holder = try await gateway.createUser("holder", quota: 1)
            let leaver = try await gateway.createUser("leaver", quota: 1)
            #expect(try await gateway.call(.POST, "/v1/checkouts", token: holder).status == 201)
            try await withRedisClient(.test(try await SharedRedis.url(), connectionCount: 1)) { redis async throws in
                let connection = try RawHTTPConnection(port: gateway.port)
                try connection.send("POST /v1/checkouts?wait=3600 HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer \(leaver)\r\n"
                                    + "Content-Length: 0\r\n\r\n")
                if !atOnce { try await waitUntil("the request is queued") { (try? await Self.queueLength(redis, pool)) == 1 } }
                connection.close()
                try await waitUntil("the gateway queued the request, saw the client go and took it out of the queue") {
                    let prefix = PoolKeys(pool: pool).prefix
                    let queued = try? await redis.send(.init("HGET", ["\(prefix):pool", "waiter_seq"])).string
                    let waiting = try? await redis.send(.init("HLEN", ["\(prefix):waiting"])).int
                    return queued == "1" && waiting == 0
                }
                #expect(try await Self.queueLength(redis, pool) == 0)
                #expect(try await gateway.call(.POST, "/v1/checkins", token: holder, body: #"{"vm_id": "\#(id)"}"#).status == 200)
                #expect(try await gateway.call(.GET, "/v1/vms/mine", token: leaver).items?.isEmpty == true)
                #expect(try await gateway.call(.GET, "/v1/vms/\(id)")["status"] == "available")
                #expect(try await poolInconsistencies(redis, prefix: PoolKeys(pool: pool).prefix) == [])
            }
        }
    }

    @Test func aClientThatGoesAwayAfterTheHandoffGetsNothingAndTheNextWaiterDoes() async throws {
        let pool = "handed-\(UUID().uuidString)"
        try await withGateways(pool: pool, configure: { $0.maxWait = Self.anHour }) { gateways in
            let gateway = gateways[0]
            let id = try #require(try await gateway.createVMs(1)[0]["vm_id"] as? String)
            let holder = try await gateway.createUser("holder", quota: 1)
            let leaver = try await gateway.createUser("leaver", quota: 1)
            let patient = try await gateway.createUser("patient", quota: 1)
            #expect(try await gateway.call(.POST, "/v1/checkouts", token: holder).status == 201)
            let keys = PoolKeys(pool: pool)
            try await withRedisClient(.test(try await SharedRedis.url(), connectionCount: 1)) { redis async throws in
                // the leaver's gateway is this test: it queues through the script and never claims
                _ = try await redis.send(.fcall(Script.waitCheckout.functionName, keys: keys.declared, arguments:
                                                ["t:" + TokenDigest(of: leaver).hex, "5", "", "", "604800", "60000", "elsewhere", "ticket-1"]))
                async let waited = gateway.call(.POST, "/v1/checkouts?wait=3600", token: patient)
                try await waitUntil("both are queued") { (try? await Self.queueLength(redis, pool)) == 2 }
                #expect(try await gateway.call(.POST, "/v1/checkins", token: holder, body: #"{"vm_id": "\#(id)"}"#).status == 200)
                // handed to the leaver first, who is gone: its gateway gives it back
                let handed = try await redis.send(.init("LPOP", ["\(keys.prefix):handoff:elsewhere"])).string
                #expect(handed == "ticket-1 \(id)")
                _ = try await redis.send(.fcall(Script.leaveQueue.functionName, keys: keys.declared, arguments:
                                                ["t:" + TokenDigest(of: leaver).hex, "ticket-1", "give back"]))
                let answer = try await waited
                #expect(answer.status == 201 && answer["vm_id"] == id && answer["user"] == "patient")
                #expect(try await gateway.call(.GET, "/v1/vms/mine", token: leaver).items?.isEmpty == true)
                #expect(try await poolInconsistencies(redis, prefix: keys.prefix) == [])
            }
        }
    }

    @Test func waitingCostsRedisAlmostNothingPerWaiter() async throws {
        let waiters = 20, wait = 10
        try await withRedisServer { server in
            try await withGateways(2, redis: server.url, configure: { $0.maxWait = .seconds(wait) }) { gateways in
                var tokens: [String] = []
                for index in 0..<waiters { tokens.append(try await gateways[0].createUser("w\(index)", quota: 1)) }
                let allTokens = tokens
                try await withRedisClient(.test(server.url, connectionCount: 1)) { redis async throws in
                    _ = try await redis.send(.init("CONFIG", ["RESETSTAT"]))
                    let clock = ContinuousClock(), start = clock.now
                    try await withThrowingTaskGroup { group in
                        for (index, token) in allTokens.enumerated() {
                            group.addTask {
                                let answer = try await gateways[index % 2].call(.POST, "/v1/checkouts?wait=\(wait)", token: token)
                                #expect(answer.status == 503)
                            }
                        }
                        try await group.waitForAll()
                    }
                    let seconds = Double((clock.now - start).components.seconds) + 1e-18 * Double((clock.now - start).components.attoseconds)
                    // what the gateways sent (script calls and BLPOPs; the commands inside scripts are
                    // part of their calls), and the Redis time it took, from Redis' own accounting
                    let stats = try await redis.send(.init("INFO", ["commandstats"])).string ?? ""
                    func stat(_ command: String, _ field: String) -> Int {
                        guard let line = stats.split(separator: "\r\n").first(where: { $0.hasPrefix("cmdstat_\(command):") }),
                              let part = line.split(separator: ",").first(where: { $0.contains("\(field)=") })
                        else { return 0 }
                        return Int(part.split(separator: "=").last ?? "") ?? 0
                    }
                    let sent = stat("fcall", "calls") + stat("blpop", "calls")
                    let redisTime = stat("fcall", "usec") + stat("blpop", "usec")
                    let perWaiterSecond = Double(sent) / Double(waiters) / seconds
                    print("waiting checkout: \(waiters) waiters for \(seconds) s on 2 gateways: \(sent) commands "
                          + "(\(perWaiterSecond) per waiting client per second, the reapers' and listeners' included), "
                          + "\(Double(redisTime) / Double(waiters) / seconds) µs of Redis per waiting client per second")
                    #expect(stat("fcall", "calls") > 0 && stat("blpop", "calls") > 0, "the gateways' calls are counted: \(stats)")
                    #expect(perWaiterSecond < 0.5, "\(sent) commands: \(stats)")
                }
            }
        }
    }
}
