import Logging
import ServiceLifecycle

/// Returns VMs whose leases ran out to the pool even when no request comes: every gateway runs
/// one. It runs `reap_leases.lua` and then sleeps until the next lease ends, but never longer
/// than `maximumSleep` (another gateway may have given a shorter lease meanwhile), so a VM comes
/// back within about that long of its lease's end. That is one small script call a second per
/// gateway at most, not a busy poll; any number of reapers may run at once (the script is
/// atomic). Requests still return expired leases they touch, so nothing waits for the reaper.
public struct LeaseReaper: Service {
    let store: ReservationStore
    let logger: Logger
    /// The most VMs one call releases (100: under a millisecond of Redis; other clients get their
    /// turn between calls); a full batch is followed by another call at once.
    let batch: Int
    let maximumSleep: Duration

    public init(store: ReservationStore, logger: Logger, batch: Int = 100, maximumSleep: Duration = .seconds(1)) {
        self.store = store
        self.logger = logger
        self.batch = batch
        self.maximumSleep = maximumSleep
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown { await reapUntilCancelled() }
    }

    private func reapUntilCancelled() async {
        while !Task.isCancelled {
            let pause: Duration
            do {
                let result = try await store.reapExpiredLeases(batch: batch)
                if result.released > 0 { logger.info("returned VMs whose leases ran out", metadata: ["count": "\(result.released)"]) }
                pause = result.released == batch ? .zero : nextPause(result)
            } catch .storeUnavailable {
                pause = maximumSleep  // Redis is away: the client reconnects; try again later
            } catch {
                logger.error("the lease reaper failed", metadata: ["error": "\(error)"])
                pause = maximumSleep
            }
            try? await Task.sleep(for: pause)
        }
    }

    /// Until the next lease ends (by Redis' clock), at most `maximumSleep`.
    func nextPause(_ result: ReapResult) -> Duration {
        guard let next = result.nextExpiry else { return maximumSleep }
        return min(maximumSleep, .milliseconds(max(0, next - result.now)))
    }
}
