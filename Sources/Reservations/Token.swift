import Crypto

/// A bearer token: 256 random bits, written as 64 lowercase hex digits.
public enum Token {
    /// A new token from the system's cryptographically secure generator.
    public static func generate() -> String {
        var generator = SystemRandomNumberGenerator()
        return hex((0..<32).map { _ in UInt8.random(in: .min ... .max, using: &generator) })
    }
}

/// The SHA-256 of a token: the only form in which tokens are stored.
public struct TokenDigest: Sendable, Equatable {
    public let bytes: [UInt8]

    public init(of token: String) {
        bytes = Array(SHA256.hash(data: Array(token.utf8)))
    }

    /// 64 lowercase hex digits, as stored in Redis.
    public var hex: String { Reservations.hex(bytes) }

    /// Compares in time that depends only on the length, never on where the digests differ.
    public func constantTimeEquals(_ other: TokenDigest) -> Bool {
        guard bytes.count == other.bytes.count else { return false }
        var difference: UInt8 = 0
        for index in bytes.indices {
            difference |= bytes[index] ^ other.bytes[index]
        }
        return difference == 0
    }
}

func hex(_ bytes: [UInt8]) -> String {
    let digits = Array("0123456789abcdef".utf8)
    var text: [UInt8] = []
    text.reserveCapacity(bytes.count * 2)
    for byte in bytes {
        text.append(digits[Int(byte >> 4)])
        text.append(digits[Int(byte & 0x0F)])
    }
    return String(decoding: text, as: UTF8.self)
}
