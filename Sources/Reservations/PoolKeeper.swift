import Logging
import ServiceLifecycle

/// Idle cleanup and the warm pool, when configured: every `interval`, runs `maintain_pool.lua`,
/// which deletes VMs nobody has checked out for `idleSeconds` (never below `minReady` available)
/// and creates VMs, within the cap, until `minReady` are available. Every gateway may run one:
/// the script is atomic, so two gateways never both create the VMs one was missing.
public struct PoolKeeper: Service {
    let store: ReservationStore
    let idleSeconds: Int?
    let minReady: Int
    let interval: Duration
    let logger: Logger

    public init(store: ReservationStore, idleSeconds: Int?, minReady: Int, interval: Duration, logger: Logger) {
        self.store = store
        self.idleSeconds = idleSeconds
        self.minReady = minReady
        self.interval = interval
        self.logger = logger
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    let result = try await store.maintainPool(idleSeconds: idleSeconds, minReady: minReady)
                    if result.deleted + result.created > 0 {
                        logger.info("kept the pool", metadata: ["deleted_idle": "\(result.deleted)", "created": "\(result.created)"])
                    }
                } catch ReservationError.storeUnavailable {
                    // the client reconnects; try again next time
                } catch {
                    logger.error("pool upkeep failed", metadata: ["error": "\(error)"])
                }
                try? await Task.sleep(for: interval)
            }
        }
    }
}
