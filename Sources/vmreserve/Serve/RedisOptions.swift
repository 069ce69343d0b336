import ArgumentParser
import Foundation
import NIOCore
import RedisClient
import ReservationHTTP

/// Which Redis the gateway uses, and how.
struct RedisOptions: ParsableArguments {
    @Option(name: .customLong("redis-url"), help: "redis://[[user]:password@]host[:port][/db] (rediss:// for TLS, see \"TLS to Redis\"), or unix://[[user]:password@]/path/to/redis.sock[?db=N] for a Redis on this machine.")
    var redisURL = GatewayConfiguration.defaults.redis.url.description
    @Option(help: "A file whose first line is the Redis password (in place of one in --redis-url): no command line or environment listing then shows it.")
    var redisPasswordFile: String?
    @Option(help: "Redis connections to keep, each pipelined. (default: one per event loop, that is per core, at least 2)")
    var redisConnections: Int?
    @Option(help: "Sentinels that name the Redis primary, host:port,... (port 26379 when left out); with them --redis-url gives only the password and database. Needs --sentinel-master.")
    var redisSentinel: String?
    @Option(help: "The name the sentinels monitor the primary under.")
    var sentinelMaster: String?
    @Option(help: "A file whose first line is the sentinels' own password (their requirepass), sent as AUTH to each.")
    var sentinelPasswordFile: String?
    @Option(help: "Some nodes of a Redis Cluster, host:port,... (port 6379 when left out): the gateway reads the slot map from them and sends the pool's calls to the master of its slot, following MOVED and ASK; --redis-url then gives only the password.")
    var redisCluster: String?
    @Option(help: "Answer a change only once this many replicas have it (WAIT); otherwise 503. 0: answers do not wait.")
    var minReplicasAck = GatewayConfiguration.defaults.minReplicasAck
    @Option(help: "Milliseconds a change waits for --min-replicas-ack replicas.")
    var replicaAckTimeout = Int(GatewayConfiguration.defaults.replicaAckTimeout.components.seconds * 1000)

    /// A connection on every event loop, so that each loop's requests send their scripts without a
    /// thread switch (see `EventLoopGlobalExecutor`); two at least, so that one serves while the
    /// other reconnects.
    static var defaultConnections: Int { min(64, max(2, NIOSingletons.groupLoopCountSuggestion)) }

    /// Sets `configuration.redis` and the replica acknowledgements; answers the Redis URL.
    func apply(to configuration: inout GatewayConfiguration) throws -> RedisURL {
        var url: RedisURL
        do throws(RedisError) {
            url = try RedisURL(redisURL)
        } catch {
            throw ValidationError("--redis-url: \(error.message)")
        }
        if let redisPasswordFile {
            guard url.password == nil else { throw ValidationError("--redis-password-file and a password in --redis-url exclude each other") }
            url.password = try Self.password(in: redisPasswordFile, flag: "redis-password-file")
        }
        configuration.redis = .init(url: url, connectionCount: try OptionChecks.within(redisConnections ?? Self.defaultConnections,
                                                                                         1...64, "redis-connections"))
        configuration.redis.clientName = Self.clientName()
        try OptionChecks.together(["redis-sentinel": redisSentinel != nil, "sentinel-master": sentinelMaster != nil])
        if sentinelPasswordFile != nil, redisSentinel == nil { throw ValidationError("--sentinel-password-file needs --redis-sentinel") }
        if let redisSentinel, let sentinelMaster {
            guard !sentinelMaster.isEmpty else { throw ValidationError("--sentinel-master: a name") }
            guard url.socketPath == nil else { throw ValidationError("--redis-sentinel names the primary by host and port: give --redis-url as redis://") }
            do {
                configuration.redis.sentinel = SentinelConfiguration(sentinels: try SentinelConfiguration.parseAddresses(redisSentinel),
                                                                     masterName: sentinelMaster)
            } catch {
                throw ValidationError("--redis-sentinel: \(error.message)")
            }
            configuration.redis.sentinel?.password = try sentinelPasswordFile.map { try Self.password(in: $0, flag: "sentinel-password-file") }
        }
        if let redisCluster {
            guard configuration.redis.sentinel == nil else { throw ValidationError("--redis-cluster and --redis-sentinel exclude each other") }
            guard url.socketPath == nil else { throw ValidationError("--redis-cluster's nodes are reached by host and port: give --redis-url as redis://") }
            do {
                configuration.redis.cluster = try RedisURL.addresses(redisCluster, defaultPort: 6379, of: "cluster node")
            } catch {
                throw ValidationError("--redis-cluster: \(error.message)")
            }
        }
        configuration.minReplicasAck = try OptionChecks.within(minReplicasAck, 0...16, "min-replicas-ack")
        configuration.replicaAckTimeout = .milliseconds(try OptionChecks.within(replicaAckTimeout, 1...60_000, "replica-ack-timeout"))
        return url
    }

    /// The first line of `path`, which must hold one; errors name `flag`.
    private static func password(in path: String, flag: String) throws -> String {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw ValidationError("--\(flag): cannot read \(path)")
        }
        let line = text.split(separator: "\n", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? ""
        let password = line.hasSuffix("\r") ? String(line.dropLast()) : line
        guard !password.isEmpty else { throw ValidationError("--\(flag): \(path) has no password on its first line") }
        return password
    }

    /// `vmreserve:HOST:PID`: whose each connection is, in Redis' `CLIENT LIST` (a host name's
    /// characters outside letters, digits, `.`, `-` and `_` become `_`).
    private static func clientName() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        let name = gethostname(&buffer, buffer.count - 1) == 0 ? String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) : ""
        let host = name.map { $0.isASCII && ($0.isLetter || $0.isNumber || ".-_".contains($0)) ? $0 : "_" }
        return "vmreserve:\(String(host)):\(getpid())"
    }
}
