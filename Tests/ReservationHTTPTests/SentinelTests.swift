import Foundation
import RedisClient
import RedisServerProcess
import Testing
import TestSupport

/// Replicated Redis with Sentinel on loopback: a primary, a replica and three sentinels. Gateways
/// find the primary through the sentinels and answer changes only once the replica has them
/// (`--min-replicas-ack 1`). The primary is killed under load: no answered checkout is lost, and
/// the gateways serve again, on the promoted replica, without a restart.
@Suite(.timeLimit(.minutes(10))) struct SentinelTests {
    private static func reply(_ port: Int, _ arguments: [String]) async -> RESPValue? {
        try? await sendToRedis(RedisURL(port: port), arguments).first
    }

    private static func primaryPort(_ sentinels: [Int]) async -> Int? {
        guard let address = await reply(sentinels[0], ["SENTINEL", "get-master-addr-by-name", "vmr"])?.array?.compactMap(\.string),
              address.count == 2 else { return nil }
        return Int(address[1])
    }

    @Test func aPrimaryKilledUnderLoadLosesNoAnsweredCheckoutAndServiceResumes() async throws {
        let vmCount = 40, clients = 24, quota = 2
        try await withTestProcesses { processes in
            let directory = try processes.temporaryDirectory("sentinel")
            let primaryData = directory.appending(path: "primary")
            // (a primary starts a replica's full sync at once, not after the 5 s Redis waits by default
            // for more replicas to share it)
            let fastSync = ["--repl-diskless-sync-delay", "0"]
            let primary = try await processes.redis(dataDirectory: primaryData, persistent: true, extraArguments: fastSync)
            let replica = try await processes.redis(dataDirectory: directory.appending(path: "replica"), persistent: true,
                                                    extraArguments: fastSync + ["--replicaof", "127.0.0.1", String(primary.port)])
            try await waitUntil("the replica is in sync") {
                (await Self.reply(primary.port, ["INFO", "replication"])?.string ?? "").contains("state=online")
            }
            var sentinelPorts: [Int] = []
            for index in 0..<3 {
                let port = try freeLoopbackPort(), configuration = directory.appending(path: "sentinel\(index).conf")
                try """
                    port \(port)
                    bind 127.0.0.1
                    dir \(directory.path)
                    sentinel monitor vmr 127.0.0.1 \(primary.port) 2
                    sentinel down-after-milliseconds vmr 1000
                    sentinel failover-timeout vmr 10000
                    """.write(to: configuration, atomically: true, encoding: .utf8)
                _ = try processes.start(["redis-server", configuration.path, "--sentinel"],
                                        output: .file(directory.appending(path: "sentinel\(index).log")))
                sentinelPorts.append(port)
            }
            let sentinels = sentinelPorts
            try await waitUntil("the sentinels know each other and the replica") {
                for port in sentinels {
                    guard await Self.reply(port, ["SENTINEL", "sentinels", "vmr"])?.array?.count == 2,
                          await Self.reply(port, ["SENTINEL", "replicas", "vmr"])?.array?.count == 1
                    else { return false }
                }
                return true
            }

            let sentinel = SentinelConfiguration(sentinels: sentinels.map { RedisURL(port: $0) }, masterName: "vmr")
            // (the URL's host and port are not used: the sentinels name the primary)
            try await withGateways(2, redis: RedisURL(port: 1), configure: {
                $0.redis.sentinel = sentinel
                $0.minReplicasAck = 1
                $0.maxVMCount = vmCount
            }) { gateways async throws in
                try await gateways[0].createVMs(vmCount)
                var tokens: [String] = []
                for index in 0..<clients { tokens.append(try await gateways[index % 2].createUser("ha\(index)", quota: quota)) }
                let holders = CrashTests.Holders(), cluster = CrashTests.Cluster(gateways)
                func checkouts() -> Int { cluster.counts.withLock { $0.checkouts } }

                let (finalHoldings, downtime) = try await withThrowingTaskGroup(of: (String, Set<String>).self) { group in
                    for (index, token) in tokens.enumerated() {
                        group.addTask {
                            ("ha\(index)", await CrashTests.client("ha\(index)", token: token, quota: quota, cluster: cluster, holders: holders))
                        }
                    }
                    let warmUp = checkouts() + 100
                    try await waitUntil("100 checkouts before the failover") { checkouts() >= warmUp }
                    await primary.kill()
                    let killed = ContinuousClock.now, before = checkouts()
                    try await waitUntil("the sentinels promote the replica") { await Self.primaryPort(sentinels) == replica.port }
                    // the old primary comes back as the new primary's replica, as a restart policy that
                    // asks the sentinels first would bring it (left to the sentinels to convert, it
                    // takes their next look, about 10 s)
                    _ = try await processes.redis(port: primary.port, dataDirectory: primaryData, persistent: true,
                                                  extraArguments: fastSync + ["--replicaof", "127.0.0.1", String(replica.port)])
                    cluster.redisRestarted.store(true, ordering: .relaxed)
                    try await waitUntil("a checkout answered after the failover") { checkouts() > before }
                    let downtime = ContinuousClock.now - killed
                    try await waitUntil("50 checkouts after the failover") {
                        cluster.counts.withLock { $0.checkoutsAfterRedisRestart } >= 50
                    }
                    cluster.finished.store(true, ordering: .relaxed)
                    var holdings: [String: Set<String>] = [:]
                    for try await (user, held) in group { holdings[user] = held }
                    return (holdings, downtime)
                }

                #expect(holders.violations.isEmpty, "no answered checkout or checkin lost: \(holders.violations.prefix(5))")
                #expect(downtime < .seconds(15) + TestTiming.margin, "served again \(downtime) after the primary died")
                print("sentinel failover: served again \(downtime) after the primary was killed; counts \(cluster.counts.withLock { $0 })")
                let allHeld = finalHoldings.values.flatMap { $0 }
                #expect(allHeld.count == Set(allHeld).count, "no VM has two holders")
                #expect(finalHoldings.values.allSatisfy { $0.count <= quota })
                let pool = try await gateways[1].call(.GET, "/v1/admin/pool")
                #expect(pool.data?["total"] as? Int == vmCount)
                #expect((pool.data?["counts"] as? [String: Int])?["checked-out"] == allHeld.count)
                // (no check of which server is primary now: on a loaded machine, sentinels with a 1 s
                // down-after may fail over again, back to the old primary, which is fine)
            }
        }
    }

    @Test func withoutTheReplicasItRequiresNoChangeIsAnsweredAsDone() async throws {
        try await withGateway(configure: {
            $0.minReplicasAck = 1
            $0.replicaAckTimeout = .milliseconds(50)
        }) { gateway async throws in
            // the shared Redis has no replica: a change is made, but cannot be confirmed as safe
            let created = try await gateway.call(.POST, "/v1/admin/vms")
            #expect(created.status == 503 && created.code == "store_unavailable", "\(created.text)")
            let pool = try await gateway.call(.GET, "/v1/admin/pool")
            #expect(pool.status == 200, "reads need no replica")
            #expect(pool.data?["total"] as? Int == 1, "the outcome of a 503 on a change is unknown: here it was made")
        }
    }

    @Test func sentinelAddressesAreHostPortPairs() throws {
        #expect(try SentinelConfiguration.parseAddresses("10.0.0.1:26380,sentinel-b") == [
            RedisURL(host: "10.0.0.1", port: 26380), RedisURL(host: "sentinel-b", port: 26379),
        ])
        for bad in ["", "a:b", "a:0", ":26379", "a:1:2", "a,,b"] {
            #expect(throws: RedisError.self, "\(bad)") { try SentinelConfiguration.parseAddresses(bad) }
        }
    }
}
