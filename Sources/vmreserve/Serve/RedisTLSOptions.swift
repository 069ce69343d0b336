import ArgumentParser
import RedisClient
import ReservationHTTP

/// TLS to Redis and to its sentinels: whom to trust, who the gateway is, which name to expect.
struct RedisTLSOptions: ParsableArguments {
    @Option(name: .customLong("redis-tls-ca"), help: "PEM file of the CAs that sign Redis' certificate (default: the system's trust store). Needs a rediss:// --redis-url or --sentinel-tls.")
    var caFile: String?
    @Option(name: .customLong("redis-tls-cert"), help: "PEM file of the gateway's own certificate (chain), for Redis that asks for one (tls-auth-clients). Needs --redis-tls-key.")
    var certificateFile: String?
    @Option(name: .customLong("redis-tls-key"), help: "PEM file of the key of --redis-tls-cert.")
    var keyFile: String?
    @Option(name: .customLong("redis-tls-server-name"), help: "The name Redis' certificate must carry, when the gateway connects by address or by another name (also sent as SNI). Default: the host connected to; an address is checked against the certificate's IP entries.")
    var serverName: String?
    @Flag(help: "Reach the sentinels over TLS, with the same CA, certificate and server name as Redis.")
    var sentinelTLS = false

    /// Sets the TLS of `configuration.redis` (for a `rediss://` URL) and of its sentinels.
    func apply(to configuration: inout GatewayConfiguration, url: RedisURL) throws {
        let flagsGiven = [caFile, certificateFile, keyFile, serverName].contains { $0 != nil }
        guard url.usesTLS || sentinelTLS || !flagsGiven else {
            throw ValidationError("--redis-tls-ca, --redis-tls-cert, --redis-tls-key and --redis-tls-server-name need a rediss:// --redis-url (or --sentinel-tls)")
        }
        if sentinelTLS, configuration.redis.sentinel == nil { throw ValidationError("--sentinel-tls needs --redis-sentinel") }
        guard url.usesTLS || sentinelTLS else { return }
        let tls: RedisTLS
        do {
            tls = try RedisTLS(caFile: caFile, certificateFile: certificateFile, keyFile: keyFile, serverName: serverName)
        } catch {
            throw ValidationError("Redis TLS: \(error.message)")
        }
        if url.usesTLS { configuration.redis.tls = tls }
        if sentinelTLS { configuration.redis.sentinel?.tls = tls }
    }
}
