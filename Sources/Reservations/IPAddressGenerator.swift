/// Random IPv4 addresses for new VMs, never inside a range of the IANA IPv4 special-purpose
/// address registry, nor multicast. Uniqueness is the create script's job, not this one's.
public enum IPAddressGenerator {
    /// Every excluded range as (network, prefix length).
    public static let excludedRanges: [(network: UInt32, prefixLength: Int)] = [
        ("0.0.0.0", 8), ("10.0.0.0", 8), ("100.64.0.0", 10), ("127.0.0.0", 8), ("169.254.0.0", 16),
        ("172.16.0.0", 12), ("192.0.0.0", 24), ("192.0.2.0", 24), ("192.31.196.0", 24),
        ("192.52.193.0", 24), ("192.88.99.0", 24), ("192.168.0.0", 16), ("192.175.48.0", 24),
        ("198.18.0.0", 15), ("198.51.100.0", 24), ("203.0.113.0", 24), ("224.0.0.0", 4), ("240.0.0.0", 4),
    ].map { (IPv4Address(parsing: $0.0)!.value, $0.1) }

    /// True when `address` lies in none of the excluded ranges.
    public static func isAllowed(_ address: IPv4Address) -> Bool {
        !excludedRanges.contains { range in
            let mask: UInt32 = range.prefixLength == 0 ? 0 : ~UInt32(0) << (32 - range.prefixLength)
            return address.value & mask == range.network
        }
    }

    public static func random<G: RandomNumberGenerator>(using generator: inout G) -> IPv4Address {
        while true {
            let candidate = IPv4Address(value: UInt32.random(in: .min ... .max, using: &generator))
            if isAllowed(candidate) { return candidate }
        }
    }

    public static func random() -> IPv4Address {
        var generator = SystemRandomNumberGenerator()
        return random(using: &generator)
    }
}

/// An IPv4 address, parsed strictly as four decimal octets (no leading zeros, no extras).
public struct IPv4Address: Sendable, Hashable, CustomStringConvertible {
    public let value: UInt32

    public init(value: UInt32) {
        self.value = value
    }

    public init?(parsing text: String) {
        // byte by byte: parsing Characters cost a request more than the rest of its decoding
        var value: UInt32 = 0
        var octets = 0
        var digits = 0
        var octet: UInt32 = 0
        var leadingZero = false
        for byte in text.utf8 {
            if byte == UInt8(ascii: ".") {
                guard digits > 0, octet <= 255, octets < 3 else { return nil }
                value = value << 8 | octet
                octets += 1
                (digits, octet, leadingZero) = (0, 0, false)
                continue
            }
            guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte), digits < 3, !leadingZero else { return nil }
            leadingZero = digits == 0 && byte == UInt8(ascii: "0")
            octet = octet * 10 + UInt32(byte - UInt8(ascii: "0"))
            digits += 1
        }
        guard octets == 3, digits > 0, octet <= 255 else { return nil }
        self.value = value << 8 | octet
    }

    public var description: String {
        "\(value >> 24).\(value >> 16 & 0xFF).\(value >> 8 & 0xFF).\(value & 0xFF)"
    }

    /// Whether `text` is an IPv4 CIDR block an IP pool may be: a network address (host bits zero,
    /// written as `description` writes it) and a prefix from /12 (about a million addresses) to /32.
    public static func isNetworkBlock(_ text: String) -> Bool {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let address = IPv4Address(parsing: String(parts[0])), let prefix = Int(parts[1]),
              (12...32).contains(prefix), address.description == parts[0]
        else { return false }
        return address.value & ~(UInt32.max << (32 - prefix)) == 0
    }
}
