import NIOCore
import NIOPosix

/// A task executor that runs tasks on the threads of a SwiftNIO event loop group: a task woken on
/// one of its event loops (an HTTP request read, a Redis reply) runs on that loop, where its I/O is,
/// instead of being handed to Swift's global pool and back. Give it as the preference of the
/// server's top task (`withTaskExecutorPreference`); child tasks inherit it.
public final class EventLoopTaskExecutor: TaskExecutor {
    private let group: any EventLoopGroup

    public init(group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) {
        self.group = group
    }

    public func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        let loop = MultiThreadedEventLoopGroup.currentEventLoop ?? group.next()
        loop.execute {
            job.runSynchronously(on: self.asUnownedTaskExecutor())
        }
    }
}
