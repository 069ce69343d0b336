import Foundation
import RedisClient
import RedisServerProcess

/// The redis-server that tests share when all they need is keys of their own (every pool's keys
/// carry its unique name): one for the whole test run, started at first use, stopped by its
/// watchdog when the run ends. Tests that stop, pause, restart or reconfigure Redis start their
/// own with `withRedisServer`.
public enum SharedRedis {
    private static let server = SharedServer()

    /// The shared server, started if need be.
    public static func url() async throws -> RedisURL {
        try await server.get().url
    }

    private actor SharedServer {
        /// The one start (a Task, so that callers arriving while it runs wait for it, not start another).
        private var starting: Task<RedisServerProcess, any Error>?

        func get() async throws -> RedisServerProcess {
            if let starting, let server = try? await starting.value, server.isRunning { return server }
            let task = Task {
                try await RedisServerProcess.start(dataDirectory: directory, persistent: false, stopsWithThisProcess: true)
            }
            starting = task
            return try await task.value
        }
    }

    /// Where the shared server keeps its log, removed when the test run exits.
    private static let directory: URL = {
        let directory = FileManager.default.temporaryDirectory.appending(path: "vmreserve-shared-\(getpid())")
        atexit { try? FileManager.default.removeItem(at: SharedRedis.directory) }
        return directory
    }()
}

/// Starts a redis-server of the test's own on a free loopback port for the length of `body`, in
/// a fresh temporary directory, and stops it afterwards, however `body` ends.
public func withRedisServer<T>(
    persistent: Bool = false,
    extraArguments: [String] = [],
    _ body: (RedisServerProcess) async throws -> T
) async throws -> T {
    try await withTestProcesses { processes in
        try await body(try await processes.redis(persistent: persistent, extraArguments: extraArguments))
    }
}

extension RedisClient.Configuration {
    /// A client for tests: deadlines long enough for a slow, busy machine. Tests of a deadline
    /// set their own.
    public static func test(_ url: RedisURL, connectionCount: Int = 2) -> Self {
        .init(url: url, connectionCount: connectionCount, commandTimeout: .seconds(30), connectTimeout: .seconds(30),
              reconnectBackoff: (.milliseconds(20), .milliseconds(200)))
    }
}

/// Runs a `RedisClient` (its `run()` in a child task) for the length of `body`, once it is connected.
public func withRedisClient<T: Sendable>(
    _ configuration: RedisClient.Configuration,
    library: RedisFunctionLibrary? = nil,
    _ body: @Sendable (RedisClient) async throws -> T
) async throws -> T {
    let client = RedisClient(configuration: configuration, library: library)
    return try await withThrowingTaskGroup { group in
        group.addTask {
            try await client.run()
            return nil as T?
        }
        defer { group.cancelAll() }
        try await waitUntil("the client connects") { client.isConnected }
        return try await body(client)
    }
}

/// Sends `commands` (each a name and its arguments), in order, on a connection of their own to the
/// Redis at `url` (over TLS with `tls`); answers the replies.
@discardableResult
public func sendToRedis(_ url: RedisURL, tls: RedisTLS? = nil, _ commands: [String]...) async throws -> [RESPValue] {
    var configuration = RedisClient.Configuration.test(url, connectionCount: 1)
    configuration.tls = tls
    return try await withRedisClient(configuration) { client in
        var replies: [RESPValue] = []
        for command in commands { replies.append(try await client.send(RedisCommand(command[0], Array(command.dropFirst())))) }
        return replies
    }
}

/// Polls `condition` every 20 ms until it holds, failing after `timeout`: a deadline for a
/// machine that is broken, not one that is merely slow or busy.
public func waitUntil(_ what: String, timeout: Duration = .seconds(120), _ condition: () async -> Bool) async throws {
    let clock = ContinuousClock()
    let end = clock.now + timeout
    while !(await condition()) {
        guard clock.now < end else { throw TestSupportError("timed out waiting \(timeout) until \(what)") }
        try await Task.sleep(for: .milliseconds(20))
    }
}

public struct TestSupportError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
