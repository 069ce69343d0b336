import Logging
import ServiceLifecycle

/// Says in the log that a graceful shutdown has begun (SIGTERM or SIGINT), before the server
/// drains: the last service of the group, so the first to hear of it.
struct ShutdownNotice: Service {
    let logger: Logger
    let drainLimit: Duration

    func run() async throws {
        try? await gracefulShutdown()
        logger.notice("shutting down: requests in flight finish first", metadata: ["limit": "\(drainLimit)"])
    }
}
