import Foundation
import Processes
import RedisServerProcess
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Every process one test starts (redis-servers, `vmreserve serve`), stopped when the test's
/// scope ends however it ends: by returning, by a failed `#require` or another thrown error, or
/// by cancellation. Each process also has a watchdog (see `ChildProcess`) that stops it should
/// the whole test run crash. None of them inherits the test runner's output.
public final class TestProcesses: Sendable {
    private let started = Mutex<[ChildProcess]>([])
    private let servers = Mutex<[RedisServerProcess]>([])
    private let directories = Mutex<[URL]>([])

    fileprivate init() {}

    /// A redis-server of this test's own, on `port` (nil: a free one) in `dataDirectory` (nil: a
    /// new temporary one, removed at the end).
    public func redis(
        port: Int? = nil, dataDirectory: URL? = nil, persistent: Bool = false, tls: RedisServerProcess.TLS? = nil,
        extraArguments: [String] = []
    ) async throws -> RedisServerProcess {
        let directory = try dataDirectory ?? temporaryDirectory("redis")
        let server = try await RedisServerProcess.start(port: port, dataDirectory: directory, persistent: persistent, tls: tls,
                                                        extraArguments: extraArguments, stopsWithThisProcess: true)
        servers.withLock { $0.append(server) }
        return server
    }

    /// Starts a program (found on PATH, or a path) with its output to `output`.
    public func start(_ arguments: [String], environment: [String: String] = [:], output: ChildProcess.Output) throws -> ChildProcess {
        let process = try ChildProcess(arguments, environment: environment, output: output, stopsWithThisProcess: true)
        started.withLock { $0.append(process) }
        return process
    }

    /// A new, empty directory, removed at the end.
    public func temporaryDirectory(_ label: String) throws -> URL {
        let directory = FileManager.default.temporaryDirectory.appending(path: "vmreserve-\(label)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        directories.withLock { $0.append(directory) }
        return directory
    }

    /// The process ids of everything started so far that still runs.
    public var runningProcessIDs: [pid_t] {
        started.withLock { $0.filter(\.isRunning).map(\.pid) }
    }

    /// Stops what still runs: programs get SIGTERM (a gateway in dev mode then stops its own
    /// Redis) and SIGKILL 10 s later; redis-servers get SIGKILL at once.
    fileprivate func stopAll() async {
        for server in servers.withLock({ $0 }) where server.isRunning { await server.kill() }
        for process in started.withLock({ $0 }) where process.isRunning {
            process.signal(SIGCONT)
            process.signal(SIGTERM)
            let deadline = ContinuousClock.now + .seconds(10)
            while process.isRunning && ContinuousClock.now < deadline { try? await Task.sleep(for: .milliseconds(10)) }
            await process.terminate(with: SIGKILL)
        }
        if ProcessInfo.processInfo.environment["VMRESERVE_TEST_KEEP_FILES"] == nil {
            for directory in directories.withLock({ $0 }) { try? FileManager.default.removeItem(at: directory) }
        }
    }
}

/// Runs `body` with a `TestProcesses` whose processes are all stopped when it ends, holding one
/// of the `ProcessSlots` meanwhile (unless the task holds one already).
public func withTestProcesses<T>(_ body: (TestProcesses) async throws -> T) async throws -> T {
    try await ProcessSlots.withSlot {
        let processes = TestProcesses()
        let result: Result<T, any Error>
        do {
            result = .success(try await body(processes))
        } catch {
            result = .failure(error)
        }
        // in a task of its own, which a cancellation of this one does not reach
        await Task.detached { await processes.stopAll() }.value
        return try result.get()
    }
}

/// A bound on how many tests run processes of their own at the same time, so that a suite run
/// in parallel on a slow or busy machine does not start a hundred servers at once and starve
/// them all. `VMRESERVE_TEST_PROCESS_SLOTS` sets it (default 3).
public enum ProcessSlots {
    static let limit = max(1, ProcessInfo.processInfo.environment["VMRESERVE_TEST_PROCESS_SLOTS"].flatMap { Int($0) } ?? 3)
    private static let semaphore = AsyncSemaphore(limit)
    @TaskLocal private static var held = false

    /// Runs `body` holding a slot; nested calls in the same task tree reuse the slot they hold.
    public static func withSlot<T>(_ body: () async throws -> T) async throws -> T {
        if held { return try await body() }
        await semaphore.acquire()
        defer { semaphore.release() }
        return try await $held.withValue(true) { try await body() }
    }
}

/// A counting semaphore for tasks: waiters are served in the order they came.
final class AsyncSemaphore: Sendable {
    private struct State {
        var available: Int
        var waiters: [CheckedContinuation<Void, Never>] = []
    }
    private let state: Mutex<State>

    init(_ count: Int) { state = Mutex(State(available: count)) }

    func acquire() async {
        await withCheckedContinuation { continuation in
            let acquired = state.withLock { state in
                if state.available > 0 {
                    state.available -= 1
                    return true
                }
                state.waiters.append(continuation)
                return false
            }
            if acquired { continuation.resume() }
        }
    }

    func release() {
        let next = state.withLock { state -> CheckedContinuation<Void, Never>? in
            if state.waiters.isEmpty {
                state.available += 1
                return nil
            }
            return state.waiters.removeFirst()
        }
        next?.resume()
    }
}

/// Whether `tool` is an executable on PATH.
public func isOnPath(_ tool: String) -> Bool {
    (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":")
        .contains { FileManager.default.isExecutableFile(atPath: "\($0)/\(tool)") }
}

/// The repository's root folder (where Package.swift is), for tests that read its files.
public let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()
