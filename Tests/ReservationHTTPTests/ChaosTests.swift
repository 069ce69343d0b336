import Foundation
import RedisClient
import RedisServerProcess
import Testing
import TestSupport

#if canImport(Glibc)
import Glibc
#endif

/// The fault matrix: three `vmreserve serve` processes on one Redis (append-only, behind a proxy
/// the test can cut), 48 clients checking out and in, and seven faults one after another. After
/// each: no answer any client was given is lost (each client checks what the service says it
/// holds against what it was told), no VM has two holders, requests during the fault were
/// answered 503 within the gateways' 2 s Redis timeout rather than left hanging, and service
/// resumed with no gateway restarted (but the one the first fault kills).
@Suite(.timeLimit(.minutes(10))) struct ChaosTests {
    struct Row: CustomStringConvertible {
        let fault: String
        let phase: CrashTests.Cluster.Phase
        let lost: Int
        /// What `poolInconsistencies` found after it.
        let broken: [String]

        var description: String {
            let slowest = Double(phase.slowest.components.seconds) + Double(phase.slowest.components.attoseconds) / 1e18
            return "| \(fault) | \(phase.requests) | \(phase.unavailable) | \(String(format: "%.2f s", slowest)) | \(lost) |"
        }
    }

    /// What docs/API.md says of a request left without an answer: a gateway that gives up on
    /// Redis (503) closes that connection, but the script it wrote there still runs when Redis
    /// reads it. (Redis reads what a connection sent before it sees it closed: which is why the
    /// fault matrix's clients, after a gateway is killed, ask what they hold only once Redis has
    /// closed that gateway's connections, named for its process in `CLIENT LIST`.)
    @Test func aScriptItsGatewayGaveUpOnStillRuns() async throws {
        try await withTestProcesses { processes in
            let directory = try processes.temporaryDirectory("late-script")
            let redis = try await processes.redis()
            let proxy = try await CuttableProxy.start(to: redis.port)
            defer { Task { await proxy.stop() } }
            // the first gateway reaches Redis through the proxy, the second directly
            var gateways: [Gateway] = []
            for (index, port) in [proxy.port, redis.port].enumerated() {
                let http = try freeLoopbackPort()
                _ = try await GatewayProcess.start(["--redis-url", "redis://127.0.0.1:\(port)/0", "--admin-token", adminToken],
                                                   port: http, log: directory.appending(path: "gateway\(index).log"), processes: processes)
                gateways.append(Gateway(port: http))
            }
            let (cut, direct) = (gateways[0], gateways[1])
            let id = try #require(try await direct.createVMs(1).first?["vm_id"] as? String)
            let token = try await direct.createUser("late", quota: 1)
            #expect(try await direct.call(.POST, "/v1/checkouts", token: token).status == 201)

            await proxy.setCut(true)
            let checkin = try await cut.call(.POST, "/v1/checkins", token: token, body: #"{"vm_id": "\#(id)"}"#)
            #expect(checkin.status == 503 && checkin.code == "store_unavailable", "\(checkin.text)")
            await proxy.setCut(false)
            try await waitUntil("the checkin answered 503 has run") {
                (try? await direct.call(.GET, "/v1/vms/mine", token: token).items?.isEmpty) == true
            }
            let events = (try await direct.call(.GET, "/v1/admin/events?vm_id=\(id)").data?["items"] as? [[String: Any]])?
                .compactMap { $0["action"] as? String }
            #expect(events == ["create", "checkout", "checkin"])
        }
    }

    @Test func everyFaultLosesNoAnswerAndServiceResumesByItself() async throws {
        let vmCount = 40, clients = 48, quota = 2
        try await withTestProcesses { processes in
            let directory = try processes.temporaryDirectory("chaos")
            let data = directory.appending(path: "redis")
            // (`dir` is a protected setting: the MISCONF fault changes it)
            let protectedConfigs = ["--enable-protected-configs", "yes"]
            var redis = try await processes.redis(dataDirectory: data, persistent: true, extraArguments: protectedConfigs)
            let redisPort = redis.port
            let proxy = try await CuttableProxy.start(to: redisPort)
            defer { Task { await proxy.stop() } }
            let fleet = try await GatewayFleet.start(redisURL: "redis://127.0.0.1:\(proxy.port)/0", vmCount: vmCount, clients: clients,
                                                     quota: quota, userPrefix: "chaos", arguments: ["--auth-failure-limit", "0"],
                                                     directory: directory, processes: processes)
            let gateways = fleet.gateways, holders = fleet.holders, cluster = fleet.cluster
            /// Redis itself, not through the proxy, for the faults that reconfigure it.
            let direct = RedisURL(port: redisPort)
            func info(_ section: String) async throws -> String {
                try await sendToRedis(direct, ["INFO", section]).first?.string ?? ""
            }
            let hold = Duration.seconds(3)  // longer than the gateways' 2 s Redis timeout

            let faults: [(String, () async throws -> Void)] = [
                ("gateway SIGKILL, then restarted", {
                    await fleet.kill(1)
                    try await Task.sleep(for: hold)
                    try await fleet.restart(1)
                }),
                ("Redis SIGKILL, restarted from its AOF", {
                    await redis.kill()
                    try await Task.sleep(for: .milliseconds(500))
                    redis = try await processes.redis(port: redisPort, dataDirectory: data, persistent: true, extraArguments: protectedConfigs)
                }),
                ("Redis paused (SIGSTOP) 3 s", {
                    redis.suspend(true)
                    try await Task.sleep(for: hold)
                    redis.suspend(false)
                }),
                ("connections dropped (CLIENT KILL TYPE normal)", {
                    try await sendToRedis(direct, ["CLIENT", "KILL", "TYPE", "normal"])
                    try await Task.sleep(for: .milliseconds(200))
                    try await sendToRedis(direct, ["CLIENT", "KILL", "TYPE", "normal"])
                }),
                ("Redis out of memory (maxmemory 1 byte; writes refused)", {
                    try await sendToRedis(direct, ["CONFIG", "SET", "maxmemory", "1"])
                    // Redis refuses every call of a function that may write (all of vmreserve's) while
                    // over maxmemory, before it runs: nothing is half done
                    let create = try await gateways[0].call(.POST, "/v1/admin/users", body: #"{"name": "oom-probe"}"#)
                    #expect(create.status == 503 && create.code == "store_unavailable", "\(create.text)")
                    try await Task.sleep(for: hold)
                    try await sendToRedis(direct, ["CONFIG", "SET", "maxmemory", "0"])
                }),
                ("disk refuses writes (MISCONF: a snapshot that cannot be written)", {
                    try await sendToRedis(direct, ["CONFIG", "SET", "save", "3600 1"], ["CONFIG", "SET", "dir", "/proc"], ["BGSAVE"])
                    try await waitUntil("the snapshot fails") { (try? await info("persistence"))?.contains("rdb_last_bgsave_status:err") == true }
                    try await Task.sleep(for: hold)
                    try await sendToRedis(direct, ["CONFIG", "SET", "dir", data.path], ["BGSAVE"])
                    try await waitUntil("a snapshot succeeds") { (try? await info("persistence"))?.contains("rdb_last_bgsave_status:ok") == true }
                    try await sendToRedis(direct, ["CONFIG", "SET", "save", ""])
                }),
                ("network to Redis cut 3 s (a proxy that passes nothing)", {
                    await proxy.setCut(true)
                    try await Task.sleep(for: hold)
                    await proxy.setCut(false)
                }),
            ]

            let (rows, holdings) = try await withThrowingTaskGroup(of: Set<String>.self) { group -> ([Row], [Set<String>]) in
                for (index, token) in fleet.tokens.enumerated() {
                    group.addTask {
                        await CrashTests.client("chaos\(index)", token: token, quota: quota, cluster: cluster, holders: holders)
                    }
                }
                var rows: [Row] = []
                try await fleet.progress(100, "before the first fault")
                for (number, (fault, inject)) in faults.enumerated() {
                    let lostBefore = holders.violations.count
                    cluster.phase.store(number + 1, ordering: .relaxed)
                    try await inject()
                    cluster.phase.store(0, ordering: .relaxed)
                    try await fleet.progress(50, "after: \(fault)")
                    let phase = cluster.phases.withLock { $0[number + 1] } ?? CrashTests.Cluster.Phase()
                    // the pool's keys agree with each other after the fault, read from Redis in one atomic step
                    let broken = try await poolInconsistencies(at: direct)
                    rows.append(Row(fault: fault, phase: phase, lost: holders.violations.count - lostBefore, broken: broken))
                }
                cluster.finished.store(true, ordering: .relaxed)
                var holdings: [Set<String>] = []
                for try await held in group { holdings.append(held) }
                return (rows, holdings)
            }

            print("| fault | requests during it | errors seen (503 or no answer) | slowest answer | answers lost |")
            print("|---|---|---|---|---|")
            for row in rows { print(row) }
            #expect(holders.violations.isEmpty, "\(holders.violations.prefix(5))")
            for row in rows {
                #expect(row.lost == 0, "\(row.fault)")
                #expect(row.broken == [], "\(row.fault)")
                #expect(row.phase.slowest < .seconds(2) + TestTiming.margin, "\(row.fault): an answer took \(row.phase.slowest)")
            }
            // the faults that stop Redis from serving were seen as such by the clients
            for row in rows.dropFirst() where !row.fault.contains("out of memory") {
                #expect(row.phase.unavailable > 0, "\(row.fault): no client noticed")
            }
            // the counts add up: what the clients hold is what the pool counts as checked out
            let allHeld = holdings.flatMap { $0 }
            #expect(allHeld.count == Set(allHeld).count, "no VM has two holders")
            let pool = try await gateways[2].call(.GET, "/v1/admin/pool")
            #expect(pool.data?["total"] as? Int == vmCount)
            #expect((pool.data?["counts"] as? [String: Int])?["checked-out"] == allHeld.count)
            #expect((pool.data?["counts"] as? [String: Int])?["available"] == vmCount - allHeld.count)
            #expect(await fleet.stop().allSatisfy { $0 == 0 }, "each gateway stops cleanly")
        }
    }
}
