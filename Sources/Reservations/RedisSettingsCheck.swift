import Logging
import RedisClient
import RedisServerProcess
import ServiceLifecycle

/// Once Redis answers, warns if it runs with hash settings below `RedisServerProcess.recordSettings`
/// (in a Redis Cluster: each master that does, by address): vmreserve works the same, but each VM
/// takes more memory. Says nothing of a Redis that does not let it read its settings (CONFIG may be
/// refused to this user).
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
        while !(await redis.libraryLoaded()) {  // every master answers
            guard (try? await Task.sleep(for: .milliseconds(100))) != nil else { return }
        }
        var low: [String: [String]] = [:]  // by node
        for (name, wanted) in RedisServerProcess.recordSettings.sorted(by: { $0.key < $1.key }) {
            for (node, reply) in await redis.sendToEveryMaster(RedisCommand("CONFIG", ["GET", name])) {
                guard let pair = try? reply.get().array, pair.count == 2, let value = pair[1].string.flatMap({ Int($0) }) else { continue }
                if value < wanted { low[node, default: []].append("\(name) \(wanted) (it has \(value))") }
            }
        }
        for (node, settings) in low.sorted(by: { $0.key < $1.key }) {
            var metadata: Logger.Metadata = ["settings": "\(settings.joined(separator: ", "))"]
            if !node.isEmpty { metadata["node"] = "\(node)" }
            logger.warning("Redis keeps VM records compact only with these settings; without them each VM takes more memory",
                           metadata: metadata)
        }
    }
}
