import Crypto

/// A Lua script known by its SHA-1, run with EVALSHA.
public struct RedisScript: Sendable, Hashable {
    public let name: String
    public let source: String
    /// Lowercase hex SHA-1 of `source`, as Redis names the script.
    public let sha1: String

    public init(name: String, source: String) {
        self.name = name
        self.source = source
        self.sha1 = lowercaseHex(Insecure.SHA1.hash(data: Array(source.utf8)))
    }
}
