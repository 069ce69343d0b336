import Foundation
import GatewayTestSupport
import RedisClient
import RedisServerProcess
import Testing
import TestSupport

#if canImport(Glibc)
import Glibc
#endif

/// The fault matrix: three `vmreserve serve` processes on one Redis (append-only, behind a proxy
/// the test can cut), 48 clients checking out and in, and eight faults one after another. After
/// each: no answer any client was given is lost (each client checks what the service says it
/// holds against what it was told, once Redis can run nothing a client was left without an answer
/// to), no VM has two holders, the pool's keys agree (read from Redis in one atomic step), every
/// fault was noticed by the clients, requests during it were answered 503 within the gateways'
/// 2 s Redis timeout (and the test's margin) rather than left hanging, and service resumed with no
/// gateway restarted (but the one the first fault kills) and Redis restarted only where it died.
@Suite(.timeLimit(.minutes(10))) struct ChaosTests {
    struct Row: CustomStringConvertible {
        let fault: String
        let phase: CrashTests.Cluster.Phase
        let lost: Int
        /// What `poolInconsistencies` found after it.
        let broken: [String]

        var description: String {
            let slowest = Double(phase.slowest.components.seconds) + Double(phase.slowest.components.attoseconds) / 1e18
            return "| \(fault) | \(phase.requests) | \(phase.unavailable) | \(phase.cut) | \(String(format: "%.2f s", slowest)) | \(lost) |"
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
            // the gateway gave that connection up; Redis still has it, with the checkin unread
            #expect(await proxy.abandonedConnections() >= 1)
            await proxy.setCut(false)
            try await waitUntil("Redis closes the connection given up on") { await proxy.abandonedConnections() == 0 }
            // ... having run what it held first (what `CrashTests.Cluster.settle` waits for)
            #expect(try await direct.call(.GET, "/v1/vms/mine", token: token).items?.isEmpty == true)
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
            var redis = try await processes.redis(dataDirectory: data, persistent: true)
            let redisPort = redis.port
            let proxy = try await CuttableProxy.start(to: redisPort)
            defer { Task { await proxy.stop() } }
            let fleet = try await GatewayFleet.start(redisURL: "redis://127.0.0.1:\(proxy.port)/0", proxy: proxy, vmCount: vmCount,
                                                     clients: clients, quota: quota, userPrefix: "chaos",
                                                     arguments: ["--auth-failure-limit", "0"], directory: directory, processes: processes)
            let gateways = fleet.gateways, holders = fleet.holders, cluster = fleet.cluster
            /// Redis itself, not through the proxy, for the faults that reconfigure it.
            let direct = RedisURL(port: redisPort)
            func info(_ field: String) async throws -> String? {
                let text = try await sendToRedis(direct, ["INFO"]).first?.string ?? ""
                return text.split(separator: "\r\n").first { $0.hasPrefix("\(field):") }.map { String($0.dropFirst(field.count + 1)) }
            }
            let hold = Duration.seconds(3)  // longer than the gateways' 2 s Redis timeout
            /// Creates users `<prefix>1`, `<prefix>2`… until one is refused as Redis refuses writes;
            /// nothing of the refused one is left.
            func expectRefusedChange(_ prefix: String) async throws {
                var number = 0, refused: APIResponse?
                try await waitUntil("a change is refused") {
                    number += 1
                    let create = try? await gateways[0].call(.POST, "/v1/admin/users", body: #"{"name": "\#(prefix)\#(number)"}"#)
                    if create?.status == 201 { return false }
                    refused = create
                    return true
                }
                #expect(refused?.status == 503 && refused?.code == "store_unavailable", "\(refused?.text ?? "no answer")")
                let name = "\(prefix)\(number)"
                let left = try await sendToRedis(direct, ["EXISTS", "vmreserve:{default}:user:\(name)"],
                                                 ["SISMEMBER", "vmreserve:{default}:users", name])
                #expect(left == [.integer(0), .integer(0)], "nothing of \(name) was written")
            }
            /// Limits the size of any file Redis writes to its append-only file's size now and 64 KiB:
            /// the clients' own writes soon reach it.
            func limitFileSize() async throws {
                let current = try appendOnlyFileSize(in: data)
                try await setFileSizeLimit(of: redis.pid, to: current + 64 << 10, processes: processes)
            }

            let faults: [(String, () async throws -> Void)] = [
                ("gateway SIGKILL in the middle of requests, then restarted", {
                    try await fleet.kill(1)
                    try await Task.sleep(for: hold)
                    try await fleet.restart(1)
                }),
                ("Redis SIGKILL, restarted from its AOF", {
                    await redis.kill()
                    try await Task.sleep(for: .milliseconds(500))
                    redis = try await processes.redis(port: redisPort, dataDirectory: data, persistent: true)
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
                ("Redis out of memory (maxmemory 256 KiB above the data, filled by the clients' writes)", {
                    let used = try #require(Int(try await info("used_memory") ?? ""))
                    try await sendToRedis(direct, ["CONFIG", "SET", "maxmemory", String(used + 256 << 10)])
                    // Redis refuses every call of a function that may write (all of vmreserve's) while
                    // over maxmemory, before it runs: nothing is half done
                    try await waitUntil("the clients' writes fill Redis' memory") {
                        cluster.phases.withLock { $0[cluster.phase.load(ordering: .relaxed)]?.unavailable ?? 0 } > 0
                    }
                    try await expectRefusedChange("oom-probe")
                    try await Task.sleep(for: hold)
                    try await sendToRedis(direct, ["CONFIG", "SET", "maxmemory", "0"])
                }),
                ("append-only file write fails (file-size limit), appendfsync everysec: writes refused", {
                    try await sendToRedis(direct, ["CONFIG", "SET", "appendfsync", "everysec"])
                    try await limitFileSize()
                    try await waitUntil("a write to the append-only file fails") { (try? await info("aof_last_write_status")) == "err" }
                    try await expectRefusedChange("aof-probe")
                    try await Task.sleep(for: hold)
                    try await setFileSizeLimit(of: redis.pid, to: nil, processes: processes)
                    try await waitUntil("the append-only file is written again") { (try? await info("aof_last_write_status")) == "ok" }
                    try await sendToRedis(direct, ["CONFIG", "SET", "appendfsync", "always"])
                }),
                ("append-only file write fails (file-size limit), appendfsync always: Redis exits, restarted", {
                    try await limitFileSize()
                    // Redis stops rather than answer a write it could not put on disk
                    try await waitUntil("Redis exits on a failed append-only file write") { !redis.isRunning }
                    try await Task.sleep(for: .milliseconds(500))
                    redis = try await processes.redis(port: redisPort, dataDirectory: data, persistent: true)
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

            print("| fault | requests during it | errors seen (503 or no answer) | cut off in a killed gateway | slowest answer | answers lost |")
            print("|---|---|---|---|---|---|")
            for row in rows { print(row) }
            #expect(holders.violations.isEmpty, "\(holders.violations.prefix(5))")
            for row in rows {
                #expect(row.lost == 0, "\(row.fault)")
                #expect(row.broken == [], "\(row.fault)")
                #expect(row.phase.slowest < .seconds(2) + TestTiming.margin, "\(row.fault): an answer took \(row.phase.slowest)")
            }
            // every fault was seen by the clients; the gateway's kill cut requests off inside it
            for row in rows { #expect(row.phase.unavailable > 0, "\(row.fault): no client noticed") }
            #expect(rows.first?.phase.cut ?? 0 > 0, "the gateway's kill cut off no request written to it")
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

/// The size of the append-only file Redis appends to now (the last incremental file its manifest
/// names) in data directory `data`.
private func appendOnlyFileSize(in data: URL) throws -> UInt64 {
    let folder = data.appending(path: "appendonlydir")
    let manifest = try String(contentsOf: folder.appending(path: "appendonly.aof.manifest"), encoding: .utf8)
    guard let line = manifest.split(separator: "\n").last(where: { $0.hasSuffix("type i") }),
          let name = line.split(separator: " ").dropFirst().first
    else { throw TestSupportError("no incremental file in \(manifest)") }
    let attributes = try FileManager.default.attributesOfItem(atPath: folder.appending(path: String(name)).path)
    return (attributes[.size] as? NSNumber)?.uint64Value ?? 0
}

/// Sets process `pid`'s soft limit on the size of a file it writes (`ulimit -f`) to `bytes`, or
/// back to its hard limit when nil, with util-linux's `prlimit`.
private func setFileSizeLimit(of pid: pid_t, to bytes: UInt64?, processes: TestProcesses) async throws {
    let limits = try String(contentsOfFile: "/proc/\(pid)/limits", encoding: .utf8)
    guard let hard = limits.split(separator: "\n").first(where: { $0.hasPrefix("Max file size") })?
        .split(separator: " ", omittingEmptySubsequences: true).dropFirst(4).first
    else { throw TestSupportError("no file size limit in /proc/\(pid)/limits") }
    let soft = bytes.map(String.init) ?? String(hard)
    let code = try await processes.start(["prlimit", "--pid", String(pid), "--fsize=\(soft):"], output: .discard).waitForExit()
    guard code == 0 else { throw TestSupportError("prlimit --pid \(pid) --fsize=\(soft): exited \(code)") }
}
