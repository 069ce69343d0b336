/// Every failure the Redis client reports. Callers branch on `kind`, and for server errors on
/// `prefix` (the first word of the error reply), never on free text.
public struct RedisError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// No connection to Redis is up; the client is reconnecting in the background.
        case unavailable
        /// Redis did not answer within the command timeout; the connection was closed.
        case timeout
        /// The connection closed while the command was in flight.
        case connectionClosed
        /// Redis sent bytes that are not RESP.
        case protocolError
        /// Redis answered with an error reply.
        case server
        /// The reply had a shape the caller did not expect.
        case unexpectedReply
        /// A `redis://` URL that cannot be used.
        case invalidURL
        /// TLS cannot be set up: a file that cannot be used, or a handshake that failed (a
        /// certificate not trusted, expired or for another name; ours refused).
        case tls
    }

    public let kind: Kind
    /// For `.server`: the error reply's first word (`ERR`, `OOM`, a script's own code…).
    public let prefix: String
    /// Human-readable detail: the rest of the error reply, or what went wrong.
    public let message: String

    public init(kind: Kind, prefix: String = "", message: String) {
        self.kind = kind
        self.prefix = prefix
        self.message = message
    }

    public static let unavailable = RedisError(kind: .unavailable, message: "no connection to Redis")
    public static let timeout = RedisError(kind: .timeout, message: "Redis did not answer in time")
    public static let connectionClosed = RedisError(kind: .connectionClosed, message: "connection to Redis closed")

    public static func protocolError(_ message: String) -> RedisError {
        RedisError(kind: .protocolError, message: message)
    }

    public static func unexpectedReply(_ reply: RESPValue) -> RedisError {
        RedisError(kind: .unexpectedReply, message: "unexpected reply \(reply)")
    }

    public static func invalidURL(_ message: String) -> RedisError {
        RedisError(kind: .invalidURL, message: message)
    }

    /// Splits an error reply such as `ERR Function not found` into prefix and message.
    public static func server(_ reply: String) -> RedisError {
        let parts = reply.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: false)
        return RedisError(kind: .server, prefix: String(parts[0]), message: parts.count > 1 ? String(parts[1]) : "")
    }

    /// Error replies that mean "this Redis cannot serve writes right now": still loading, busy
    /// with a script, a replica (after a failover) or cut off from its primary, out of memory,
    /// failing to persist, or short of the replicas it requires. `lua/lib/errors.lua` lets the
    /// same words out of scripts (its `REFUSALS`): keep the two lists in step.
    static let unavailablePrefixes: Set<String> = [
        "LOADING", "BUSY", "MASTERDOWN", "READONLY", "OOM", "MISCONF", "NOREPLICAS", "TRYAGAIN", "CLUSTERDOWN",
    ]

    /// True for failures that mean "Redis is not usable right now" rather than a bad request.
    public var isStoreUnavailable: Bool {
        switch kind {
        case .unavailable, .timeout, .connectionClosed, .protocolError, .tls: true
        case .server: Self.unavailablePrefixes.contains(prefix)
        case .unexpectedReply, .invalidURL: false
        }
    }

    /// FCALL of a function that Redis does not have (`ERR Function not found`).
    public var isFunctionNotFound: Bool { kind == .server && prefix == "ERR" && message == "Function not found" }

    public var description: String {
        kind == .server ? "\(prefix) \(message)" : "\(kind): \(message)"
    }
}
