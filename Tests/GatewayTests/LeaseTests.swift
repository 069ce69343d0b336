import Foundation
import GatewayTestSupport
import RedisClient
import Reservations
import Synchronization
import Testing
import TestSupport

/// Leases over HTTP: renewal, the default and maximum lease, a user's own maximum, and the
/// reaper that returns VMs on time when no request comes, against several gateways at once.
@Suite(.timeLimit(.minutes(10))) struct LeaseTests {
    @Test func theHolderRenewsOthersGetTheAnswerForAVMTheyCannotSee() async throws {
        try await withGateway { gateway async throws in
            try await gateway.createVMs(1)
            let alice = try await gateway.createUser("alice", quota: 1)
            let bob = try await gateway.createUser("bob", quota: 1)
            let vm = try await gateway.call(.POST, "/v1/checkouts", token: alice, body: #"{"lease_seconds": 60}"#)
            let id = try #require(vm["vm_id"])
            let renewed = try await gateway.call(.POST, "/v1/checkouts/\(id)/renew", token: alice, body: #"{"lease_seconds": 600}"#)
            #expect(renewed.status == 200)
            #expect(renewed["vm_id"] == id && renewed["user"] == "alice" && renewed["status"] == "checked-out")
            let formatter = ISO8601DateFormatter()
            formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
            let before = try #require(vm["lease_expires_at"].flatMap(formatter.date(from:)))
            let after = try #require(renewed["lease_expires_at"].flatMap(formatter.date(from:)))
            #expect(after.timeIntervalSince(before) >= 540)
            #expect(try await gateway.call(.POST, "/v1/checkouts/\(id)/renew", token: alice).status == 200, "no body: the same length")

            let stranger = try await gateway.call(.POST, "/v1/checkouts/\(id)/renew", token: bob)
            let nothing = try await gateway.call(.POST, "/v1/checkouts/\(UUID().uuidString.lowercased())/renew", token: bob)
            #expect(stranger.status == 404 && stranger.code == "vm_not_found")
            #expect(stranger.text == nothing.text, "bob learns nothing")
            let admin = try await gateway.call(.POST, "/v1/checkouts/\(id)/renew")
            #expect(admin.status == 403 && admin.code == "forbidden")
            let tooLong = try await gateway.call(.POST, "/v1/checkouts/\(id)/renew", token: alice, body: #"{"lease_seconds": 604801}"#)
            #expect(tooLong.status == 400 && tooLong.message == "The longest lease you may ask for is 604800 seconds")
        }
    }

    @Test func theConfiguredDefaultAndMaximumLeaseApply() async throws {
        try await withGateway(configure: { $0.leases = LeasePolicy(defaultSeconds: 300, maxSeconds: 3600) }) { gateway async throws in
            try await gateway.createVMs(3)
            let alice = try await gateway.createUser("alice", quota: 3)
            let defaulted = try await gateway.call(.POST, "/v1/checkouts", token: alice)
            #expect(defaulted.status == 201)
            #expect(try defaulted.leaseLength() == 300)
            let legacy = try await gateway.call(.GET, "/checkoutVM/", token: alice)
            #expect(try legacy.leaseLength() == 300, "the original route gets the default lease too")
            let refused = try await gateway.call(.POST, "/v1/checkouts", token: alice, body: #"{"lease_seconds": 3601}"#)
            #expect(refused.status == 400 && refused.code == "bad_request")
            #expect(refused.message == "The longest lease you may ask for is 3600 seconds")

            // an admin gives alice a longer maximum of her own, then takes it back
            let patched = try await gateway.call(.PATCH, "/v1/admin/users/alice", body: #"{"max_lease_seconds": 86400}"#)
            #expect(patched.status == 200 && patched.data?["max_lease_seconds"] as? Int == 86400)
            let long = try await gateway.call(.POST, "/v1/checkouts", token: alice, body: #"{"lease_seconds": 86400}"#)
            #expect(long.status == 201)
            #expect(try long.leaseLength() == 86400)
            let cleared = try await gateway.call(.PATCH, "/v1/admin/users/alice", body: #"{"max_lease_seconds": null}"#)
            #expect(cleared.status == 200 && cleared.data?["max_lease_seconds"] is NSNull)
            let id = try #require(long["vm_id"])
            #expect(try await gateway.call(.POST, "/v1/checkouts/\(id)/renew", token: alice).status == 200,
                    "a renewal of the previous length is cut to the maximum, not refused")
            #expect(try await gateway.call(.GET, "/v1/admin/users/alice").data?["max_lease_seconds"] is NSNull)
        }
    }

    @Test func aLeaseEndsOnTimeWithNoRequestAndARenewedOneDoesNot() async throws {
        let pool = "reaped-\(UUID().uuidString)"
        try await withGateways(3, pool: pool) { gateways in
            let ids = try await gateways[0].createVMs(2).compactMap { $0["vm_id"] as? String }
            let alice = try await gateways[0].createUser("alice", quota: 2)
            let shortCheckout = try await gateways[1].call(.POST, "/v1/checkouts", token: alice, body: #"{"lease_seconds": 2}"#)
            let short = try #require(shortCheckout["vm_id"])
            // (its end, from the answer: on a slow machine the reaper may return it before Redis is read)
            let formatter = ISO8601DateFormatter()
            formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
            let shortEnd = try #require(shortCheckout["lease_expires_at"].flatMap(formatter.date(from:)))
            let shortExpiry = Int((shortEnd.timeIntervalSince1970 * 1000).rounded())
            let renewed = try #require(try await gateways[2].call(.POST, "/v1/checkouts", token: alice, body: #"{"lease_seconds": 2}"#)["vm_id"])
            #expect(Set([short, renewed]) == Set(ids))
            let renewal = try await gateways[0].call(.POST, "/v1/checkouts/\(renewed)/renew", token: alice, body: #"{"lease_seconds": 30}"#)
            #expect(renewal.status == 200)

            // From here on, no request reaches any gateway: only the reapers can return the VM.
            try await withRedisClient(.test(try await SharedRedis.url(), connectionCount: 1)) { redis async throws in
                let keys = PoolKeys(pool: pool)
                while true {
                    let (now, states) = try await Self.snapshot(redis, keys: keys, ids: [short, renewed])
                    #expect(states[renewed] == "checked-out", "the renewed VM stays out: \(now - shortExpiry) ms past the first end")
                    if states[short] == "available" {
                        #expect(now >= shortExpiry, "returned \(shortExpiry - now) ms before its lease ended")
                        break
                    }
                    #expect(states[short] == "checked-out")
                    let late = Duration.milliseconds(now - shortExpiry)
                    try #require(late < .seconds(1) + TestTiming.margin, "not returned \(late) after its lease ended")
                    try await Task.sleep(for: .milliseconds(20))
                }
                #expect(try await redis.send(.init("SISMEMBER", ["\(keys.prefix):held:alice", short])) == .integer(0))
                #expect(try await redis.send(.init("HEXISTS", ["\(keys.prefix):vm:\(short)", "user"])) == .integer(0), "no holder")
            }
        }
    }

    /// Redis' time (ms) and the status of each VM, read in one atomic step that changes nothing.
    static func snapshot(_ redis: RedisClient, keys: PoolKeys, ids: [String]) async throws -> (Int, [String: String]) {
        let script = """
            local t = redis.call('TIME')
            local out = {tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)}
            for i, id in ipairs(ARGV) do
              out[i + 1] = redis.call('HGET', KEYS[1] .. ':vm:' .. id, 'status')
            end
            return out
            """
        let reply = try await redis.send(.init("EVAL", [script, "1", keys.prefix] + ids))
        let values = reply.array ?? []
        let now = values.first?.int ?? 0
        var states: [String: String] = [:]
        for (index, id) in ids.enumerated() { states[id] = values[index + 1].string }
        return (now, states)
    }

    @Test func checkinsRacingTheReapersNeverReturnAVMTwice() async throws {
        let pool = "race-\(UUID().uuidString)", vmCount = 16, rounds = 3
        try await withGateways(3, pool: pool) { gateways in
            try await gateways[0].createVMs(vmCount)
            var created: [String] = []
            for index in 0..<vmCount { created.append(try await gateways[index % 3].createUser("racer\(index)", quota: 1)) }
            let tokens = created, keys = PoolKeys(pool: pool)
            try await withRedisClient(.test(try await SharedRedis.url(), connectionCount: 1)) { redis async throws in
                for _ in 0..<rounds {
                    // every user takes a one-second lease, then checks in around the moment it ends
                    var ends: [Int: ContinuousClock.Instant] = [:], ips: [Int: String] = [:]
                    for (index, token) in tokens.enumerated() {
                        let answer = try await gateways[index % 3].call(.POST, "/v1/checkouts", token: token, body: #"{"lease_seconds": 1}"#)
                        try #require(answer.status == 201, "\(answer.text)")
                        ends[index] = ContinuousClock.now + .seconds(1)
                        ips[index] = answer["ip"]
                    }
                    let violations = Findings()
                    let leaseEnds = ends, addresses = ips
                    try await withThrowingTaskGroup { group in
                        for (index, token) in tokens.enumerated() {
                            group.addTask {
                                try await Task.sleep(until: leaseEnds[index]! + .milliseconds(Int.random(in: -60...40)))
                                let answer = try await gateways[(index + 1) % 3].call(.POST, "/v1/checkins", token: token,
                                                                                     body: #"{"ip": "\#(addresses[index]!)"}"#)
                                // before the reaper: returned by the checkin; after: no longer the racer's to return
                                if ![200, 403].contains(answer.status) { violations.add(["checkin: \(answer.text)"]) }
                            }
                        }
                        group.addTask {
                            // meanwhile, the whole pool checked again and again in single atomic reads
                            let stop = ContinuousClock.now + .seconds(2)
                            while ContinuousClock.now < stop {
                                let found = try await poolInconsistencies(redis, prefix: keys.prefix)
                                violations.add(found)
                            }
                        }
                        try await group.waitForAll()
                    }
                    #expect(violations.all.isEmpty, "\(violations.all.prefix(5))")
                    try await waitUntil("every lease has ended") {
                        (try? await redis.send(.init("ZCARD", ["\(keys.prefix):leases"])).int) == 0
                    }
                    #expect(try await poolInconsistencies(redis, prefix: keys.prefix).isEmpty)
                    #expect(try await redis.send(.init("HGET", ["\(keys.prefix):pool", "count:available"])).string == String(vmCount))
                }
            }
        }
    }
}
