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
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var value: UInt32 = 0
        for part in parts {
            guard (1...3).contains(part.count), part.allSatisfy(\.isASCII), part.allSatisfy(\.isNumber),
                  part.count == 1 || part.first != "0", let octet = UInt8(part)
            else { return nil }
            value = value << 8 | UInt32(octet)
        }
        self.value = value
    }

    public var description: String {
        "\(value >> 24).\(value >> 16 & 0xFF).\(value >> 8 & 0xFF).\(value & 0xFF)"
    }
}
