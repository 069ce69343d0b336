/// Where and how to reach Redis: `redis://[[user]:password@]host[:port][/database]`.
public struct RedisURL: Sendable, Equatable, CustomStringConvertible {
    public var host: String
    public var port: Int
    public var username: String?
    public var password: String?
    public var database: Int

    public init(host: String = "127.0.0.1", port: Int = 6379, username: String? = nil, password: String? = nil, database: Int = 0) {
        self.host = host
        self.port = port
        self.username = username
        self.password = password
        self.database = database
    }

    /// Parses a `redis://` URL. User name and password may be percent-encoded.
    public init(_ text: String) throws(RedisError) {
        guard text.hasPrefix("redis://") else { throw .invalidURL("a Redis URL starts with redis://") }
        var rest = Substring(text.dropFirst("redis://".count))
        var username: String?
        var password: String?
        // The credentials end at the last "@" (a password may hold "/" or "@"); the database
        // number follows the first "/" after them. Errors never quote the credentials.
        if let at = rest.lastIndex(of: "@") {
            let credentials = rest[..<at]
            rest = rest[rest.index(after: at)...]
            if let colon = credentials.firstIndex(of: ":") {
                let user = credentials[..<colon]
                username = user.isEmpty ? nil : try Self.percentDecoded(user)
                password = try Self.percentDecoded(credentials[credentials.index(after: colon)...])
            } else if !credentials.isEmpty {
                password = try Self.percentDecoded(credentials)
            }
        }
        var database = 0
        if let slash = rest.firstIndex(of: "/") {
            let path = rest[rest.index(after: slash)...]
            if !path.isEmpty {
                guard let number = Int(path), number >= 0 else { throw .invalidURL("the database must be a number, not '\(path)'") }
                database = number
            }
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
        return "redis://\(credentials)\(host):\(port)/\(database)"
    }

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
