import Foundation
import GatewayTestSupport
import RedisClient
import RedisServerProcess
import Testing
import TestSupport

/// Replicated Redis with Sentinel on loopback: a primary, two replicas and three sentinels.
/// Gateways find the primary through the sentinels and answer changes only once a replica has
/// them (`--min-replicas-ack 1`). The primary is killed under load and never returns: no answered
/// checkout is lost, and the gateways serve again, on the promoted replica, without a restart.
@Suite(.timeLimit(.minutes(10))) struct SentinelTests {
    /// How the test reaches Redis and the sentinels: plain, or over TLS (every server speaks TLS
    /// only and asks for a client certificate, replication and the sentinels' links are TLS, and
    /// the sentinels require a password).
    struct Transport {
        let certificates: TestCertificates?
        let sentinelPasswordFile: URL

        static let sentinelPassword = "sentinel-secret-0123456789"

        init(overTLS: Bool, directory: URL) async throws {
            certificates = overTLS ? try await TestCertificates.make(in: directory.appending(path: "certificates")) : nil
            sentinelPasswordFile = directory.appending(path: "sentinel-password")
            try (Self.sentinelPassword + "\n").write(to: sentinelPasswordFile, atomically: true, encoding: .utf8)
        }

        var serverTLS: RedisServerProcess.TLS? { certificates?.redisServer() }

        /// The first reply to `arguments` from the Redis or sentinel at `port`; nil on any failure.
        func reply(_ port: Int, _ arguments: [String], sentinel: Bool = false) async -> RESPValue? {
            var url = RedisURL(port: port)
            url.usesTLS = certificates != nil
            if sentinel, certificates != nil { url.password = Self.sentinelPassword }
            return try? await sendToRedis(url, tls: certificates?.redisClient(), arguments).first
        }

        /// A sentinel's configuration file: over TLS, on a TLS port only, with a password.
        func sentinelConfiguration(port: Int, directory: URL, primaryPort: Int) -> String {
            var lines = ["bind 127.0.0.1", "dir \(directory.path)"]
            if let tls = certificates?.redisServer() {
                lines += ["port 0", "tls-port \(port)", "tls-cert-file \(tls.certificateFile)", "tls-key-file \(tls.keyFile)",
                          "tls-ca-cert-file \(tls.caFile)", "tls-auth-clients yes", "tls-replication yes",
                          "requirepass \(Self.sentinelPassword)"]
            } else {
                lines += ["port \(port)"]
            }
            lines += ["sentinel monitor vmr 127.0.0.1 \(primaryPort) 2", "sentinel down-after-milliseconds vmr 1000",
                      "sentinel failover-timeout vmr 10000"]
            return lines.joined(separator: "\n") + "\n"
        }

        /// The gateways' Redis URL: its host and port are not used (the sentinels name the
        /// primary), its scheme is.
        var redisURL: String { certificates == nil ? "redis://127.0.0.1:1/0" : "rediss://127.0.0.1:1/0" }

        /// The gateways' flags besides the URL and the sentinels' addresses.
        var gatewayArguments: [String] {
            guard let certificates else { return [] }
            return ["--sentinel-tls", "--sentinel-password-file", sentinelPasswordFile.path] + certificates.gatewayRedisFlags
        }

        func primaryPort(_ sentinels: [Int]) async -> Int? {
            guard let address = await reply(sentinels[0], ["SENTINEL", "get-master-addr-by-name", "vmr"], sentinel: true)?
                .array?.compactMap(\.string), address.count == 2 else { return nil }
            return Int(address[1])
        }
    }

    /// The primary is killed (SIGKILL) under load and never comes back: the sentinels promote a
    /// replica, the other replica follows it and acknowledges every change, and three
    /// `vmreserve serve` processes, at their defaults but `--min-replicas-ack 1`, serve again with
    /// no answered checkout lost. Then the last replica is killed too: changes are answered 503,
    /// and resume by themselves once a replica is back. Plain, and over TLS with mutual TLS
    /// everywhere and a sentinel password.
    @Test(arguments: [false, true]) func aPrimaryKilledForGoodFailsOverToAReplicaThatTheOtherAcknowledges(overTLS: Bool) async throws {
        let vmCount = 40, clients = 24, quota = 2
        try await withTestProcesses { processes in
            let directory = try processes.temporaryDirectory("sentinel")
            let transport = try await Transport(overTLS: overTLS, directory: directory)
            // (a primary starts a replica's full sync at once, not after the 5 s Redis waits by default
            // for more replicas to share it)
            let fastSync = ["--repl-diskless-sync-delay", "0"]
            let primary = try await processes.redis(dataDirectory: directory.appending(path: "primary"), persistent: true,
                                                    tls: transport.serverTLS, extraArguments: fastSync)
            var replicas: [RedisServerProcess] = []
            for index in 0..<2 {
                replicas.append(try await processes.redis(dataDirectory: directory.appending(path: "replica\(index)"), persistent: true,
                                                          tls: transport.serverTLS, extraArguments: fastSync + ["--replicaof", "127.0.0.1", String(primary.port)]))
            }
            try await waitUntil("both replicas are in sync") {
                (await transport.reply(primary.port, ["INFO", "replication"])?.string ?? "").components(separatedBy: "state=online").count == 3
            }
            var sentinelPorts: [Int] = []
            for index in 0..<3 {
                let port = try freeLoopbackPort(), configuration = directory.appending(path: "sentinel\(index).conf")
                try transport.sentinelConfiguration(port: port, directory: directory, primaryPort: primary.port)
                    .write(to: configuration, atomically: true, encoding: .utf8)
                _ = try processes.start(["redis-server", configuration.path, "--sentinel"],
                                        output: .file(directory.appending(path: "sentinel\(index).log")))
                sentinelPorts.append(port)
            }
            let sentinels = sentinelPorts
            try await waitUntil("the sentinels know each other and both replicas") {
                for port in sentinels {
                    guard await transport.reply(port, ["SENTINEL", "sentinels", "vmr"], sentinel: true)?.array?.count == 2,
                          await transport.reply(port, ["SENTINEL", "replicas", "vmr"], sentinel: true)?.array?.count == 2
                    else { return false }
                }
                return true
            }

            let fleet = try await GatewayFleet.start(
                redisURL: transport.redisURL, vmCount: vmCount, clients: clients, quota: quota, userPrefix: "ha",
                arguments: transport.gatewayArguments
                    + ["--redis-sentinel", sentinels.map { "127.0.0.1:\($0)" }.joined(separator: ","), "--sentinel-master", "vmr",
                       "--min-replicas-ack", "1"],
                directory: directory, processes: processes)
            let cluster = fleet.cluster, holders = fleet.holders
            func checkouts() -> Int { cluster.counts.withLock { $0.checkouts } }
            let (finalHoldings, downtime) = try await withThrowingTaskGroup(of: (String, Set<String>).self) { group in
                for (index, token) in fleet.tokens.enumerated() {
                    group.addTask {
                        ("ha\(index)", await CrashTests.client("ha\(index)", token: token, quota: quota, cluster: cluster, holders: holders))
                    }
                }
                try await fleet.progress(100, "before the failover")
                await primary.kill()
                let killed = ContinuousClock.now
                cluster.redisRestarted.store(true, ordering: .relaxed)  // (counts the checkouts from here on)
                // (a checkout answered just after the kill may have run just before it: the downtime
                // ends with the first checkout answered once a replica is the primary)
                try await waitUntil("the sentinels promote a replica") {
                    await transport.primaryPort(sentinels).map { port in replicas.contains { $0.port == port } } == true
                }
                let promoted = checkouts()
                try await waitUntil("a checkout answered by the new primary") { checkouts() > promoted }
                let downtime = ContinuousClock.now - killed
                try await fleet.progress(50, "after the failover")
                cluster.finished.store(true, ordering: .relaxed)
                var holdings: [String: Set<String>] = [:]
                for try await (user, held) in group { holdings[user] = held }
                return (holdings, downtime)
            }

            #expect(holders.violations.isEmpty, "no answered checkout or checkin lost: \(holders.violations.prefix(5))")
            print("sentinel failover\(overTLS ? " over TLS" : "") without the primary's return: served again \(downtime) after it was killed; "
                  + "counts \(cluster.counts.withLock { $0 })")
            let allHeld = finalHoldings.values.flatMap { $0 }
            #expect(allHeld.count == Set(allHeld).count, "no VM has two holders")
            #expect(finalHoldings.values.allSatisfy { $0.count <= quota })
            let newPrimary = try #require(await transport.primaryPort(sentinels))
            #expect(replicas.map(\.port).contains(newPrimary), "a replica was promoted")
            #expect(try await poolInconsistencies(at: RedisURL(port: newPrimary), tls: try transport.certificates?.redisClient()) == [])
            let pool = try await fleet.gateways[1].call(.GET, "/v1/admin/pool")
            #expect((pool.data?["counts"] as? [String: Int])?["checked-out"] == allHeld.count)

            // the last replica gone: a change cannot be acknowledged, and is answered 503
            let follower = try #require(replicas.first { $0.port != newPrimary })
            await follower.kill()
            try await waitUntil("the primary has no replica left") {
                (await transport.reply(newPrimary, ["INFO", "replication"])?.string ?? "").contains("connected_slaves:0")
            }
            let refused = try await fleet.gateways[0].call(.PUT, "/v1/admin/pool", body: #"{"max_vm_count": 41}"#)
            #expect(refused.status == 503 && refused.code == "store_unavailable", "\(refused.text)")
            // and a replica back (the one killed, pointed at the new primary) lets changes through again
            _ = try await processes.redis(port: follower.port, dataDirectory: directory.appending(path: "returned"), persistent: true,
                                          tls: transport.serverTLS, extraArguments: fastSync + ["--replicaof", "127.0.0.1", String(newPrimary)])
            try await waitUntil("a change is acknowledged again") {
                (try? await fleet.gateways[0].call(.PUT, "/v1/admin/pool", body: #"{"max_vm_count": 42}"#).status) == 200
            }
            #expect(await fleet.stop().allSatisfy { $0 == 0 })
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
