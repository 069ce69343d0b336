import Foundation
import GatewayTestSupport
import RedisClient
import Reservations
import Synchronization
import Testing
import TestSupport

/// Forty clients on three gateways reserving groups of 1 to 5 of 20 VMs, many of them waiting,
/// some retrying with an Idempotency-Key, while the pool is read again and again in atomic
/// snapshots (issue 26: never a partial group, no VM held twice, arrival order, quotas).
@Suite(.timeLimit(.minutes(10))) struct WaitingGroupsUnderLoadTests {
    /// What must hold in every snapshot beyond `poolInconsistencies`, for a pool of one size
    /// whose requests all take any size: no user holds more than their quota; no VM is available
    /// while a waiter whose wait is still on waits (a freed VM never goes unused past the queue);
    /// and no waiter holds set-aside VMs while a live waiter that arrived before it waits (VMs go
    /// to waiters in arrival order, a group at the head taking every one until it is complete).
    static let queueRules = #"""
        local p, bad = KEYS[1], {}
        local now = redis.call('TIME')
        now = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
        for _, name in ipairs(redis.call('SMEMBERS', p .. ':users')) do
          local quota = tonumber(redis.call('HGET', p .. ':user:' .. name, 'quota'))
          local held = redis.call('SCARD', p .. ':held:' .. name)
          if held > quota then bad[#bad + 1] = name .. ' holds ' .. held .. ' VMs, over a quota of ' .. quota end
        end
        local available = tonumber(redis.call('HGET', p .. ':pool', 'count:available') or '0')
        local live_before = nil
        for _, ticket in ipairs(redis.call('ZRANGE', p .. ':waiters', 0, -1)) do
          local entry = redis.call('HGET', p .. ':waiting', ticket) or ''
          local deadline = tonumber(entry:match('^%S+ %S+ (%d+) ') or '0')
          local claim = tonumber(redis.call('ZSCORE', p .. ':wait_claims', ticket) or '0')
          local live = deadline > now and (not entry:match(' =$') or claim > now)
          local aside = redis.call('HLEN', p .. ':set_aside:' .. ticket)
          if aside > 0 and live_before then
            bad[#bad + 1] = ticket .. ' holds ' .. aside .. ' set-aside VMs behind ' .. live_before .. ', who still waits'
          end
          if live and available > 0 then bad[#bad + 1] = available .. ' VMs available while ' .. ticket .. ' waits' end
          if live and not live_before then live_before = ticket end
        end
        return bad
        """#

    /// The size of each reservation a client was answered with and has not returned yet.
    final class AnsweredGroups: Sendable {
        private let sizes = Mutex<[String: Int]>([:])
        func add(_ id: String, _ count: Int) { sizes.withLock { $0[id] = count } }
        func remove(_ id: String) { sizes.withLock { _ = $0.removeValue(forKey: id) } }
        var all: [String: Int] { sizes.withLock { $0 } }
    }

    /// A count shared by tasks.
    final class Tally: Sendable {
        private let count = Atomic<Int>(0)
        func add() { count.add(1, ordering: .relaxed) }
        var value: Int { count.load(ordering: .relaxed) }
    }

    @Test func fortyClientsOnThreeGatewaysWithWaitsNeverHoldAPartialGroupOrPassTheQueue() async throws {
        let pool = "groups-load-\(UUID().uuidString)", clients = 40
        try await withGateways(3, pool: pool, configure: { $0.maxVMCount = 20 }) { gateways in
            try await gateways[0].createVMs(20)
            var users: [(token: String, quota: Int)] = []
            for index in 0..<clients {
                let quota = 2 + index % 5
                users.append((try await gateways[index % 3].createUser("user\(index)", quota: quota), quota))
            }
            let clientsUsers = users, findings = Findings(), held = Holdings(), answered = AnsweredGroups()
            let finished = Tally(), waitedAndServed = Tally(), snapshots = Tally()
            let prefix = PoolKeys(pool: pool).prefix
            try await withRedisClient(.test(try await SharedRedis.url(), connectionCount: 1)) { redis in
                try await withThrowingTaskGroup { group in
                    for (index, user) in clientsUsers.enumerated() {
                        group.addTask {
                            defer { finished.add() }
                            var generator = SeededGenerator(seed: UInt64(index + 1))
                            for round in 0..<6 {
                                let gateway = gateways[(index + round) % 3]
                                let count = Int.random(in: 1...min(5, user.quota), using: &generator)
                                let waits = Bool.random(using: &generator)
                                let path = "/v1/reservations" + (waits ? "?wait=\(Int.random(in: 10...60, using: &generator))" : "")
                                let key = round % 3 == 1 ? "k-\(index)-\(round)" : nil
                                guard let (id, ids) = try await held.reserve(count, at: path, token: user.token, on: gateway,
                                                                             retryingOn: gateways[(index + round + 1) % 3], key: key,
                                                                             findings: findings) else { continue }
                                answered.add(id, count)
                                if waits { waitedAndServed.add() }
                                try await Task.sleep(for: .milliseconds(Int.random(in: 0...30, using: &generator)))
                                held.drop(ids, of: id)
                                answered.remove(id)
                                let returned = try await gateway.call(.DELETE, "/v1/reservations/\(id)", token: user.token)
                                if returned.status != 200 { findings.add(["return \(returned.text)"]) }
                            }
                        }
                    }
                    group.addTask {  // the pool read again and again, each time in one atomic step, until the clients are done
                        while finished.value < clients || snapshots.value < 50 {
                            findings.add(try await poolInconsistencies(redis, prefix: prefix))
                            let rules = try await redis.send(.init("EVAL", [Self.queueRules, "1", prefix]))
                            findings.add(rules.array?.compactMap(\.string) ?? ["the queue rules: \(rules)"])
                            // every group a client holds is whole (one may be ending: then it is gone)
                            for (id, count) in answered.all {
                                let left = try await redis.send(.init("SCARD", ["\(prefix):reservation_vms:\(id)"])).int ?? -1
                                if left != count && left != 0 { findings.add(["reservation \(id) of \(count) holds \(left)"]) }
                            }
                            snapshots.add()
                            try await Task.sleep(for: .milliseconds(10))
                        }
                    }
                    try await group.waitForAll()
                }
                #expect(findings.all.isEmpty, "\(findings.all.prefix(10))")
                #expect(waitedAndServed.value > 0, "some groups were served after waiting")
                #expect(try await poolInconsistencies(redis, prefix: prefix) == [])
                let stats = try await gateways[0].call(.GET, "/v1/admin/pool")
                #expect((stats.data?["counts"] as? [String: Int])?["available"] == 20, "every VM back, none left set aside")
            }
        }
    }
}
