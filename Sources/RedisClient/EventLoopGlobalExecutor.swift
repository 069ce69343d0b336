import NIOCore
import NIOPosix

#if canImport(Glibc)
import Glibc
#endif

/// Makes SwiftNIO's singleton event loops Swift's global executor, so that a task runs on the
/// event loop where it is woken: an HTTP request's task on its connection's loop, and after a
/// Redis reply (the client answers from the connection on the caller's loop) on the same loop
/// again, where by default every such wake-up hands the task to Swift's thread pool and every
/// write hands it back to a loop, each a thread switch (BENCHMARKS.md, fifth session).
///
/// This is SwiftNIO's `NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()`
/// with one difference: a job runs as Swift's global executor runs it, on the generic executor,
/// so that a task calling a nonisolated async function carries on where it is. (SwiftNIO runs
/// each job as on the loop's serial executor, from which every such call enqueues the task again.)
/// Jobs enqueued with a delay (`Task.sleep`) still wake on Swift's pool, and move to a loop with
/// their next wake-up.
///
/// A task on an event loop must never block: every wait in the server is an `await`.
public enum EventLoopGlobalExecutor {
    /// The runtime's hook for `swift_task_enqueueGlobal`: the job, and the default enqueue.
    private typealias EnqueueHook = @convention(thin) (UnownedJob, @convention(thin) (UnownedJob) -> Void) -> Void

    /// Installs the hook, before the server starts its tasks. False when the Swift runtime has no
    /// such hook or one is installed already: tasks then run on Swift's pool, as by default.
    /// (The runtime reads the hook as a plain pointer, and nothing else in the process sets it.)
    public static func install() -> Bool {
        guard let symbol = dlsym(dlopen(nil, RTLD_NOW), "swift_task_enqueueGlobal_hook") else { return false }
        let hook = symbol.assumingMemoryBound(to: EnqueueHook?.self)
        guard hook.pointee == nil else { return false }
        hook.pointee = { job, _ in
            let loop = MultiThreadedEventLoopGroup.currentEventLoop ?? MultiThreadedEventLoopGroup.singleton.next()
            loop.execute { job.runSynchronously(on: EventLoopGlobalExecutor.generic) }
        }
        return true
    }

    /// The generic executor (no executor in particular): what Swift's own global executor runs its jobs on.
    private static let generic = unsafeBitCast((0, 0), to: UnownedSerialExecutor.self)
}
