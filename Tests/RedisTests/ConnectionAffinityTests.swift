import NIOCore
import NIOPosix
import RedisClient
import Testing
import TestSupport

/// A caller running on an event loop (as the gateway's tasks do, see EventLoopGlobalExecutor) is
/// given that loop's connection, so its reply brings it back to the same loop; a caller on Swift's
/// pool comes back on no event loop at all.
@Suite struct ConnectionAffinityTests {
    @Test func aRoundTripFromAnEventLoopComesBackOnIt() async throws {
        // (the client's connections on the singleton group: one per loop)
        let client = RedisClient(configuration: .test(try await SharedRedis.url(), connectionCount: NIOSingletons.groupLoopCountSuggestion))
        let onLoops = OnEventLoops()
        try await withThrowingTaskGroup { group in
            group.addTask { try await client.run() }
            defer { group.cancelAll() }
            try await waitUntil("the client connects") { client.isConnected }

            // each loop's connection may come up a moment after the first
            try await waitUntil("a round trip from either loop comes back on it") {
                (try? await withTaskExecutorPreference(onLoops) { try await Self.loopsKept(client, times: 50) }) == 50
            }
            let kept = try await withTaskExecutorPreference(onLoops) {
                try await withThrowingTaskGroup { tasks in
                    for _ in 0..<20 { tasks.addTask { try await Self.loopsKept(client, times: 20) } }
                    return try await tasks.reduce(0, +)
                }
            }
            #expect(kept == 400)

            // the control: without the preference, the reply resumes the task on Swift's pool
            _ = try await client.send(RedisCommand("PING"))
            #expect(MultiThreadedEventLoopGroup.currentEventLoop == nil)
        }
    }

    /// How many of `times` round trips ended on the event loop they started on.
    private static func loopsKept(_ client: RedisClient, times: Int) async throws -> Int {
        var kept = 0
        for _ in 0..<times {
            let before = try #require(MultiThreadedEventLoopGroup.currentEventLoop)
            _ = try await client.send(RedisCommand("PING"))
            if let after = MultiThreadedEventLoopGroup.currentEventLoop, after === before { kept += 1 }
        }
        return kept
    }
}

/// Runs tasks that prefer it on the singleton event loops: on the loop that woke them.
private final class OnEventLoops: TaskExecutor {
    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        let loop = MultiThreadedEventLoopGroup.currentEventLoop ?? MultiThreadedEventLoopGroup.singleton.next()
        loop.execute { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
    }
}
