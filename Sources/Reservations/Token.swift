import Crypto
import RedisClient

/// A bearer token: 256 random bits, written as 64 lowercase hex digits.
public enum Token {
    /// A new token from the system's cryptographically secure generator.
    public static func generate() -> String {
        var generator = SystemRandomNumberGenerator()
        return lowercaseHex((0..<32).map { _ in UInt8.random(in: .min ... .max, using: &generator) })
    }
}

/// The SHA-256 of a token: the only form in which tokens are stored.
public struct TokenDigest: Sendable, Equatable {
    public let bytes: [UInt8]

    public init(of token: some StringProtocol) {
        var token = String(token)
        bytes = token.withUTF8 { text in
            SHA256.hash(data: UnsafeRawBufferPointer(text)).withUnsafeBytes { Array($0) }
        }
    }

    /// 64 lowercase hex digits, as stored in Redis.
    public var hex: String { bytes.withUnsafeBytes(lowercaseHex) }

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
