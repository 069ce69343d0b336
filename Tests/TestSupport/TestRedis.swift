import Foundation
import RedisClient
import RedisServerProcess

/// Starts a redis-server of its own on a free loopback port for the length of `body`, in a fresh
/// temporary directory, and stops it afterwards.
public func withRedisServer<T>(
    persistent: Bool = false,
    extraArguments: [String] = [],
    _ body: (RedisServerProcess) async throws -> T
) async throws -> T {
    let directory = FileManager.default.temporaryDirectory.appending(path: "vmreserve-test-\(UUID().uuidString)")
    let server = try await RedisServerProcess.start(dataDirectory: directory, persistent: persistent, extraArguments: extraArguments)
    let result: Result<T, any Error>
    do {
        result = .success(try await body(server))
    } catch {
        result = .failure(error)
    }
    await server.kill()
    try? FileManager.default.removeItem(at: directory)
    return try result.get()
}

/// Runs a `RedisClient` (its `run()` in a child task) for the length of `body`, once it is connected.
public func withRedisClient<T: Sendable>(
    _ configuration: RedisClient.Configuration,
    scripts: [RedisScript] = [],
    _ body: @Sendable (RedisClient) async throws -> T
) async throws -> T {
    let client = RedisClient(configuration: configuration, scripts: scripts)
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

/// Polls `condition` every 20 ms until it holds, failing after `timeout`.
public func waitUntil(_ what: String, timeout: Duration = .seconds(5), _ condition: () async -> Bool) async throws {
    let clock = ContinuousClock()
    let end = clock.now + timeout
    while !(await condition()) {
        guard clock.now < end else { throw TestSupportError("timed out waiting until \(what)") }
        try await Task.sleep(for: .milliseconds(20))
    }
}

public struct TestSupportError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
