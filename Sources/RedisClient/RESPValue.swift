/// A reply from Redis (RESP2, as libhiredis 0.14 decodes it), copied out of hiredis' reply tree.
public enum RESPValue: Sendable, Equatable {
    case simpleString(String)
    case error(String)
    case integer(Int64)
    case bulkString([UInt8])
    case null
    case array([RESPValue])

    /// The status a step done in parts answers while parts are left: call it again (see
    /// `RedisClient`'s setup commands).
    public static let again = RESPValue.simpleString("AGAIN")

    /// The text of a bulk or simple string; the decimal form of an integer.
    public var string: String? {
        switch self {
        case .simpleString(let text): text
        case .bulkString(let bytes): String(decoding: bytes, as: UTF8.self)
        case .integer(let value): String(value)
        default: nil
        }
    }

    /// An integer reply, or a string reply that holds a decimal integer.
    public var int: Int? {
        switch self {
        case .integer(let value): Int(value)
        case .bulkString, .simpleString: string.flatMap { Int($0) }
        default: nil
        }
    }

    /// The elements of an array reply.
    public var array: [RESPValue]? {
        if case .array(let elements) = self { elements } else { nil }
    }
}

extension RESPValue: CustomStringConvertible {
    public var description: String {
        switch self {
        case .simpleString(let text): "+\(text)"
        case .error(let text): "-\(text)"
        case .integer(let value): ":\(value)"
        case .bulkString: "\"\(string ?? "")\""
        case .null: "(nil)"
        case .array(let elements): "[\(elements.map(\.description).joined(separator: ", "))]"
        }
    }
}
