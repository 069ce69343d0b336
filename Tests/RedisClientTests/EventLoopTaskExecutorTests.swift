import NIOCore
import NIOPosix
import RedisClient
import Testing
import TestSupport

/// A task preferring `EventLoopTaskExecutor` runs on an event loop, and a Redis round trip brings
/// it back to the same loop (the client picks that loop's connection), where a task on Swift's
/// global pool comes back on no event loop at all.
@Suite struct EventLoopTaskExecutorTests {
    @Test func aRoundTripKeepsATaskOnItsEventLoop() async throws {
        // (the client's connections and the executor on the singleton group: a connection per loop)
        let client = RedisClient(configuration: .test(try await SharedRedis.url(), connectionCount: NIOSingletons.groupLoopCountSuggestion))
        let executor = EventLoopTaskExecutor()
        try await withThrowingTaskGroup { group in
            group.addTask { try await client.run() }
            defer { group.cancelAll() }
            try await waitUntil("the client connects") { client.isConnected }

            // each loop's connection may come up a moment after the first
            try await waitUntil("a round trip from either loop comes back on it") {
                (try? await withTaskExecutorPreference(executor) { try await Self.loopsStayed(client, times: 50) }) == 50
            }
            // the tasks a task group starts inherit the preference, and run on either loop
            let stayed = try await withTaskExecutorPreference(executor) {
                try await withThrowingTaskGroup { tasks in
                    for _ in 0..<20 { tasks.addTask { try await Self.loopsStayed(client, times: 20) } }
                    return try await tasks.reduce(0, +)
                }
            }
            #expect(stayed == 400)

            // the control: without the preference, the reply resumes the task on Swift's pool
            _ = try await client.send(RedisCommand("PING"))
            #expect(MultiThreadedEventLoopGroup.currentEventLoop == nil)
        }
    }

    /// How many of `times` round trips ended on the event loop they started on.
    private static func loopsStayed(_ client: RedisClient, times: Int) async throws -> Int {
        var stayed = 0
        for _ in 0..<times {
            let before = try #require(MultiThreadedEventLoopGroup.currentEventLoop)
            _ = try await client.send(RedisCommand("PING"))
            if let after = MultiThreadedEventLoopGroup.currentEventLoop, after === before { stayed += 1 }
        }
        return stayed
    }
}
