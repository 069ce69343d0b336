import Logging
import RedisClient
import RedisServerProcess
import ServiceLifecycle

/// Once Redis answers, warns if it runs with hash settings below `RedisServerProcess.recordSettings`:
/// vmreserve works the same, but each VM takes more memory. Says nothing when Redis does not let
/// it read its settings (CONFIG may be refused to this user).
public struct RedisSettingsCheck: Service {
    let redis: RedisClient
    let logger: Logger

    public init(redis: RedisClient, logger: Logger) {
        self.redis = redis
        self.logger = logger
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown { await check() }
        try? await gracefulShutdown() // (a service that returns would stop the gateway)
    }

    private func check() async {
        while !redis.isConnected {
            guard (try? await Task.sleep(for: .milliseconds(100))) != nil else { return }
        }
        var low: [String] = []
        for (name, wanted) in RedisServerProcess.recordSettings.sorted(by: { $0.key < $1.key }) {
            guard let reply = try? await redis.send(RedisCommand("CONFIG", ["GET", name])), let pair = reply.array,
                  pair.count == 2, let value = pair[1].string.flatMap({ Int($0) })
            else { return }
            if value < wanted { low.append("\(name) \(wanted) (it has \(value))") }
        }
        if !low.isEmpty {
            logger.warning("Redis keeps VM records compact only with these settings; without them each VM takes more memory",
                           metadata: ["settings": "\(low.joined(separator: ", "))"])
        }
    }
}
