/// Where and how to reach Redis: `redis://[[user]:password@]host[:port][/database]` (`rediss://`
/// for TLS), or a Unix socket on this machine: `unix://[[user]:password@]/path/to/redis.sock[?db=database]`.
public struct RedisURL: Sendable, Equatable, CustomStringConvertible {
    public var host: String
    public var port: Int
    /// The Unix socket to connect to, instead of `host` and `port`.
    public var socketPath: String?
    public var username: String?
    public var password: String?
    public var database: Int
    /// A `rediss://` URL: Redis is reached over TLS (`RedisClient.Configuration.tls` says how).
    public var usesTLS = false

    public init(host: String = "127.0.0.1", port: Int = 6379, username: String? = nil, password: String? = nil, database: Int = 0) {
        self.host = host
        self.port = port
        self.username = username
        self.password = password
        self.database = database
    }

    /// Redis on the Unix socket at `path`.
    public init(socketPath path: String, username: String? = nil, password: String? = nil, database: Int = 0) {
        self.init(username: username, password: password, database: database)
        socketPath = path
    }

    /// Parses a `redis://`, `rediss://` or `unix://` URL. User name and password may be percent-encoded.
    public init(_ text: String) throws(RedisError) {
        if text.hasPrefix("unix://") {
            try self.init(socketURL: text.dropFirst("unix://".count))
            return
        }
        guard let scheme = ["redis://", "rediss://"].first(where: text.hasPrefix) else {
            throw .invalidURL("a Redis URL starts with redis:// (rediss:// for TLS, or unix:// for a socket)")
        }
        var rest = Substring(text.dropFirst(scheme.count))
        // The credentials end at the last "@" (a password may hold "/" or "@"); the database
        // number follows the first "/" after them. Errors never quote the credentials.
        let (username, password) = try Self.credentials(in: &rest, endingAt: rest.lastIndex(of: "@"))
        var database = 0
        if let slash = rest.firstIndex(of: "/") {
            let path = rest[rest.index(after: slash)...]
            if !path.isEmpty { database = try Self.database(path) }
            rest = rest[..<slash]
        }
        var host = String(rest)
        var port = 6379
        if let colon = rest.lastIndex(of: ":") {
            host = String(rest[..<colon])
            guard let number = Int(rest[rest.index(after: colon)...]), (1...65535).contains(number) else {
                throw .invalidURL("the port must be a number from 1 to 65535")
            }
            port = number
        }
        guard !host.isEmpty else { throw .invalidURL("the URL names no host") }
        self.init(host: host, port: port, username: username, password: password, database: database)
        usesTLS = scheme == "rediss://"
    }

    /// `[[user]:password@]/path[?db=database]`: the credentials end at the last "@" before a "/".
    private init(socketURL text: Substring) throws(RedisError) {
        var rest = text
        let end = rest.indices.last { rest[$0] == "@" && rest.index(after: $0) < rest.endIndex && rest[rest.index(after: $0)] == "/" }
        let (username, password) = try Self.credentials(in: &rest, endingAt: end)
        var database = 0
        if let question = rest.firstIndex(of: "?") {
            let query = rest[rest.index(after: question)...]
            guard query.hasPrefix("db=") else { throw .invalidURL("a socket URL's only parameter is ?db=database") }
            database = try Self.database(query.dropFirst("db=".count))
            rest = rest[..<question]
        }
        guard rest.hasPrefix("/"), rest.count > 1 else { throw .invalidURL("a socket URL names an absolute path: unix:///path/to/redis.sock") }
        self.init(socketPath: String(rest), username: username, password: password, database: database)
    }

    /// Removes `user:password@` from the front of `rest` when `at` is its "@".
    private static func credentials(in rest: inout Substring, endingAt at: Substring.Index?) throws(RedisError) -> (String?, String?) {
        guard let at else { return (nil, nil) }
        let credentials = rest[..<at]
        rest = rest[rest.index(after: at)...]
        guard let colon = credentials.firstIndex(of: ":") else {
            return (nil, credentials.isEmpty ? nil : try percentDecoded(credentials))
        }
        let user = credentials[..<colon]
        return (user.isEmpty ? nil : try percentDecoded(user), try percentDecoded(credentials[credentials.index(after: colon)...]))
    }

    private static func database(_ text: Substring) throws(RedisError) -> Int {
        guard let number = Int(text), number >= 0 else { throw .invalidURL("the database must be a number, not '\(text)'") }
        return number
    }

    private static func percentDecoded(_ text: Substring) throws(RedisError) -> String {
        var bytes: [UInt8] = []
        var iterator = text.utf8.makeIterator()
        while let byte = iterator.next() {
            guard byte == UInt8(ascii: "%") else {
                bytes.append(byte)
                continue
            }
            guard let high = iterator.next(), let low = iterator.next(),
                  let value = UInt8(String(decoding: [high, low], as: UTF8.self), radix: 16)
            else { throw .invalidURL("bad percent-encoding in the URL's credentials") }
            bytes.append(value)
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The URL with the password masked, for logs.
    public var description: String {
        let credentials = password == nil ? "" : "\(username ?? ""):***@"
        if let socketPath { return "unix://\(credentials)\(socketPath)?db=\(database)" }
        return "\(usesTLS ? "rediss" : "redis")://\(credentials)\(host):\(port)/\(database)"
    }

    /// The same credentials and database at `host:port` (over TCP): a sentinel's primary.
    public func at(host: String, port: Int) -> RedisURL {
        var url = self
        (url.host, url.port, url.socketPath) = (host, port, nil)
        return url
    }

    /// The same credentials at a Redis Cluster node's `host:port`, database 0 (a cluster's only one).
    public func clusterNode(host: String, port: Int) -> RedisURL {
        var url = at(host: host, port: port)
        url.database = 0
        return url
    }

    /// Where it connects: `host:port`, or the socket's path.
    public var endpoint: String { socketPath ?? "\(host):\(port)" }

    /// `host:port,host:port,…` (`defaultPort` when a port is left out), naming what they are
    /// (`of`, e.g. "sentinel") in errors.
    public static func addresses(_ text: String, defaultPort: Int, of what: String) throws(RedisError) -> [RedisURL] {
        var addresses: [RedisURL] = []
        for entry in text.split(separator: ",", omittingEmptySubsequences: false) {
            let parts = entry.split(separator: ":", omittingEmptySubsequences: false)
            guard (1...2).contains(parts.count), !parts[0].isEmpty else {
                throw .invalidURL("\(what)s are host:port,host:port,…, not '\(entry)'")
            }
            let port = parts.count == 2 ? Int(parts[1]) : defaultPort
            guard let port, (1...65535).contains(port) else { throw .invalidURL("a \(what)'s port must be 1 to 65535 in '\(entry)'") }
            addresses.append(RedisURL(host: String(parts[0]), port: port))
        }
        return addresses
    }
}
