import Logging
import Reservations
import ServiceLifecycle
import Synchronization

/// Seeds the pool's cap from the configuration once Redis answers (only if Redis has no cap yet),
/// retrying until it succeeds; readiness waits for it.
final class PoolInitializer: Service, Sendable {
    private let store: ReservationStore
    private let seedMaxVMCount: Int
    private let logger: Logger
    private let done = Atomic(false)

    init(store: ReservationStore, seedMaxVMCount: Int, logger: Logger) {
        self.store = store
        self.seedMaxVMCount = seedMaxVMCount
        self.logger = logger
    }

    var isDone: Bool { done.load(ordering: .acquiring) }

    func run() async throws {
        while !Task.isCancelled, !Task.isShuttingDownGracefully {
            do {
                let cap = try await store.initializePool(maxVMCount: seedMaxVMCount)
                done.store(true, ordering: .releasing)
                logger.info("pool ready", metadata: ["max_vm_count": "\(cap)", "keys": "\(store.keys.prefix)"])
                break
            } catch {
                try? await Task.sleep(for: .milliseconds(100))
            }
        }
        try? await gracefulShutdown()
    }
}
