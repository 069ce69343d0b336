import NIOCore

/// Redis Sentinel: where the client finds the current primary of a replicated Redis. Before every
/// (re)connection the client asks the sentinels, in order, for the primary named `masterName`,
/// connects there, and checks with `ROLE` that it is a primary; a connection whose server turns
/// out to be a replica (it answers READONLY after a failover demoted it) is dropped, so the next
/// connection asks the sentinels again. Commands never go to a sentinel.
public struct SentinelConfiguration: Sendable, Equatable {
    /// Where the sentinels listen (`host:port` each).
    public var sentinels: [RedisURL]
    /// The name the sentinels monitor the primary under (`sentinel monitor NAME …`).
    public var masterName: String
    /// The sentinels' own password (their `requirepass`), sent as AUTH; nil: none.
    public var password: String?
    /// When set, the sentinels are reached over TLS with these settings.
    public var tls: RedisTLS?

    public init(sentinels: [RedisURL], masterName: String, password: String? = nil, tls: RedisTLS? = nil) {
        self.sentinels = sentinels
        self.masterName = masterName
        self.password = password
        self.tls = tls
    }

    /// `host:port,host:port,…` (port 26379 when left out).
    public static func parseAddresses(_ text: String) throws(RedisError) -> [RedisURL] {
        try RedisURL.addresses(text, defaultPort: 26379, of: "sentinel")
    }

    /// The current primary's address, from the first sentinel that knows it; `url`'s
    /// credentials and database are kept.
    func primary(for url: RedisURL, configuration: RedisClient.Configuration, eventLoopGroup: any EventLoopGroup)
        async throws -> RedisURL
    {
        var failures: [String] = [], tlsFailure: RedisError?
        for var sentinel in sentinels {
            sentinel.password = password
            do {
                let connection = try await RedisConnection.connect(to: sentinel, tls: tls, configuration: configuration,
                                                                   eventLoopGroup: eventLoopGroup)
                defer { connection.close() }
                let deadline = NIODeadline.now() + TimeAmount(configuration.commandTimeout)
                let reply = try await connection.send(RedisCommand("SENTINEL", ["get-master-addr-by-name", masterName]), deadline: deadline)
                guard let address = reply.array?.compactMap(\.string), address.count == 2, let port = Int(address[1]) else {
                    failures.append("\(sentinel.host):\(sentinel.port) does not know \(masterName)")
                    continue
                }
                return url.at(host: address[0], port: port)
            } catch let error as RedisError where error.kind == .tls {
                tlsFailure = tlsFailure ?? error
                failures.append("\(sentinel.host):\(sentinel.port): \(error.message)")
            } catch {
                failures.append("\(sentinel.host):\(sentinel.port): \(error)")
            }
        }
        // TLS that fails is a configuration problem: say so as such (`.tls`), not as an outage
        throw RedisError(kind: tlsFailure == nil ? .unavailable : .tls, message: "no sentinel named the primary: \(failures.joined(separator: "; "))")
    }
}
