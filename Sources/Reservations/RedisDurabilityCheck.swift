import Logging
import RedisClient
import ServiceLifecycle

/// Once Redis answers, warns if it does not write every change to disk before it answers
/// (`appendonly yes` with `appendfsync always`; in a Redis Cluster, each master that does not, by
/// address): vmreserve works all the same, but a crash of Redis' machine may then lose changes
/// clients were told about; else says, once, that it does. Says nothing of a Redis that does not
/// let it read its settings (CONFIG may be refused to this user).
public struct RedisDurabilityCheck: Service {
    /// The settings that make every answered change durable, and their values.
    static let durable = [("appendonly", "yes"), ("appendfsync", "always")]

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
        var found: [String: [String]] = [:]  // by node
        var read = 0
        for (name, wanted) in Self.durable {
            for (node, reply) in await redis.sendToEveryMaster(RedisCommand("CONFIG", ["GET", name])) {
                guard let pair = try? reply.get().array, pair.count == 2, let value = pair[1].string else { continue }
                read += 1
                if value != wanted { found[node, default: []].append("\(name) \(value)") }
            }
        }
        if read > 0 && found.isEmpty {
            logger.info("Redis writes every change to disk before it answers (appendonly yes, appendfsync always)")
        }
        for (node, settings) in found.sorted(by: { $0.key < $1.key }) {
            var metadata: Logger.Metadata = ["settings": "\(settings.joined(separator: ", "))"]
            if !node.isEmpty { metadata["node"] = "\(node)" }
            logger.warning("""
                Redis does not write every change to disk before it answers (appendonly yes, appendfsync always): \
                a crash of its machine may lose changes clients were told about
                """, metadata: metadata)
        }
    }
}
