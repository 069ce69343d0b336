import Foundation
import GatewayTestSupport
import RedisServerProcess
import Synchronization
import Testing
import TestSupport

#if canImport(Glibc)
import Glibc
#endif

/// A test that fails after it has started Redis and gateways leaves no process behind, however it
/// fails (an error thrown, the whole test run crashing, the test cancelled), and the test run
/// still ends: no stray process keeps the runner's output open.
@Suite(.timeLimit(.minutes(10))) struct CleanupTests {
    /// How `failsOnPurposeAfterStartingProcesses` fails, and where it writes what it started.
    enum OnPurpose {
        static let modeVariable = "VMRESERVE_TEST_FAIL_ON_PURPOSE"
        static let recordVariable = "VMRESERVE_TEST_FAIL_RECORD"
        static var mode: String? { ProcessInfo.processInfo.environment[modeVariable] }
    }

    /// The test that fails on purpose. It runs only in the child test run that
    /// `aTestThatFailsOnPurposeLeavesNothingBehindAndTheRunEnds` starts, which then checks what
    /// it left; in the suite's own run it is skipped, as its condition says.
    @Test(.enabled(if: OnPurpose.mode != nil, "runs only inside the child run of aTestThatFailsOnPurposeLeavesNothingBehind"))
    func failsOnPurposeAfterStartingProcesses() async throws {
        try await withTestProcesses { processes in
            let redis = try await processes.redis(persistent: true)
            _ = try await SharedRedis.url()
            let directory = try processes.temporaryDirectory("fail")
            let plain = try freeLoopbackPort(), dev = try freeLoopbackPort(), devRedis = try freeLoopbackPort()
            _ = try await GatewayProcess.start(["--redis-url", redis.url.description, "--admin-token", adminToken],
                                               port: plain, log: directory.appending(path: "plain.log"), processes: processes)
            _ = try await GatewayProcess.start(["--dev", "--redis-url", "redis://127.0.0.1:\(devRedis)/0",
                                                "--data-dir", directory.appending(path: "dev").path],
                                               port: dev, log: directory.appending(path: "dev.log"), processes: processes)
            try await withGateways(2, redis: redis.url) { gateways in
                try await gateways[0].createVMs(1)
                try Self.recordEverythingStarted()
                switch OnPurpose.mode {
                case "crash": fatalError("crashing on purpose, with processes running")
                default: throw TestSupportError("failing on purpose, with processes running")
                }
            }
        }
    }

    /// Writes every process this one started (its descendants, and the watchdogs that watch
    /// them), one per line: pid, a tab, the command line.
    static func recordEverythingStarted() throws {
        let descendants = ProcessEntry.descendants(of: Int(getpid()))
        let pids = Set(descendants.map { String($0.pid) })
        let watchdogs = ProcessEntry.all().filter { entry in
            entry.commandLine.contains("vmreserve-watchdog") && pids.contains(String(entry.commandLine.split(separator: " ").last ?? ""))
        }
        let lines = (descendants + watchdogs).map { "\($0.pid)\t\($0.commandLine)" }
        try (lines.joined(separator: "\n") + "\n").write(toFile: ProcessInfo.processInfo.environment[OnPurpose.recordVariable]!,
                                                         atomically: true, encoding: .utf8)
    }

    @Test(arguments: ["throw", "crash"])
    func aTestThatFailsOnPurposeLeavesNothingBehindAndTheRunEnds(_ mode: String) async throws {
        try await withTestProcesses { processes in
            let directory = try processes.temporaryDirectory("child-run")
            let record = directory.appending(path: "started")
            var ends: [Int32] = [0, 0]
            #expect(pipe(&ends) == 0)
            for end in ends { _ = fcntl(end, F_SETFD, FD_CLOEXEC) }
            let testBinary = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
            let run = try processes.start(
                [testBinary, "--testing-library", "swift-testing", "--filter", "CleanupTests/failsOnPurpose"],
                // its files go to this test's folder, removed at the end even after a crash
                environment: [OnPurpose.modeVariable: mode, OnPurpose.recordVariable: record.path, "TMPDIR": directory.path],
                output: .descriptor(ends[1]))
            close(ends[1])
            let output = Self.readToEnd(ends[0])  // ends when no process holds the pipe's write end any more

            let code = await run.waitForExit()
            #expect(code != 0, "the run reports the failure")
            let text = try await Self.value(of: output, within: .seconds(120), what: "the end of the run's output")
            #expect(text.contains("on purpose"), "\(text.suffix(2000))")
            if mode == "throw" { #expect(text.contains("failed after"), "\(text.suffix(2000))") }

            let started = try String(contentsOf: record, encoding: .utf8).split(separator: "\n").map { line in
                let parts = line.split(separator: "\t", maxSplits: 1)
                return (pid: Int(parts[0]) ?? -1, commandLine: parts.count == 2 ? String(parts[1]) : "")
            }
            #expect(started.filter { $0.commandLine.hasPrefix("redis-server") }.count == 3,
                    "the test's own, the shared one and dev mode's: \(started)")
            #expect(started.filter { $0.commandLine.contains("vmreserve serve") }.count == 2, "\(started)")
            #expect(started.filter { $0.commandLine.contains("vmreserve-watchdog") }.count == 4, "\(started)")
            try await waitUntil("every process the failed test started is gone") {
                started.allSatisfy { ProcessEntry.isGone(pid: $0.pid, commandLine: $0.commandLine) }
            }
        }
    }

    @Test func aCancelledTestStopsWhatItStarted() async throws {
        let started = Mutex<[ProcessEntry]>([])
        let test = Task {
            try await withTestProcesses { processes in
                let redis = try await processes.redis()
                let directory = try processes.temporaryDirectory("cancelled")
                let port = try freeLoopbackPort()
                _ = try await GatewayProcess.start(["--redis-url", redis.url.description, "--admin-token", adminToken],
                                                   port: port, log: directory.appending(path: "log"), processes: processes)
                let ids = Set([redis.pid] + processes.runningProcessIDs).map(Int.init)
                started.withLock { $0 = ProcessEntry.descendants(of: Int(getpid())).filter { ids.contains($0.pid) } }
                try await Task.sleep(for: .seconds(3600))
            }
        }
        // (it may first wait for a process slot that slow tests hold for minutes on one core:
        // this waits as long as the suite's time limit allows, not the usual two minutes)
        try await waitUntil("the test has started Redis and a gateway", timeout: .seconds(540)) { started.withLock { $0.count } == 2 }
        test.cancel()
        await #expect(throws: CancellationError.self) { try await test.value }
        let entries = started.withLock { $0 }
        let gone = entries.allSatisfy { $0.isGone }
        #expect(gone, "\(entries)")
    }

    /// Reads `descriptor` to its end on a thread of its own, then closes it.
    static func readToEnd(_ descriptor: Int32) -> Task<String, Never> {
        Task.detached {
            await withCheckedContinuation { continuation in
                Thread.detachNewThread {
                    var bytes: [UInt8] = []
                    var buffer = [UInt8](repeating: 0, count: 65536)
                    while true {
                        let count = read(descriptor, &buffer, buffer.count)
                        if count > 0 { bytes += buffer[..<count] } else if count == 0 || errno != EINTR { break }
                    }
                    close(descriptor)
                    continuation.resume(returning: String(decoding: bytes, as: UTF8.self))
                }
            }
        }
    }

    /// The task's value, or a failure once `limit` has passed without it.
    static func value<T: Sendable>(of task: Task<T, Never>, within limit: Duration, what: String) async throws -> T {
        let done = Atomic(false)
        let result = Task { () -> T in
            let value = await task.value
            done.store(true, ordering: .relaxed)
            return value
        }
        try await waitUntil(what, timeout: limit) { done.load(ordering: .relaxed) }
        return await result.value
    }
}
