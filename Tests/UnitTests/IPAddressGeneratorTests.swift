import Reservations
import Testing

@Suite struct IPAddressGeneratorTests {
    @Test func parsesFourDecimalOctets() {
        #expect(IPv4Address(parsing: "1.2.3.4")?.value == 0x0102_0304)
        #expect(IPv4Address(parsing: "0.0.0.0")?.value == 0)
        #expect(IPv4Address(parsing: "255.255.255.255")?.value == .max)
        #expect(IPv4Address(parsing: "10.0.200.99")?.description == "10.0.200.99")
        #expect(IPv4Address(value: 0xC0A8_0001).description == "192.168.0.1")
    }

    @Test(arguments: [
        "1.2.3", "01.2.3.4", "1.2.3.256", "a.b.c.d", " 1.2.3.4", "1.2.3.4 ", "1.2.3.4.5", "", "...", "1..3.4",
        "1.2.3.", ".1.2.3", "+1.2.3.4", "1.2.3.-4", "1.2.3.0x1", "1234.1.1.1", "00.1.2.3", "1.2.3.04",
        "\u{0661}.2.3.4", "1.2.3.4\n", "1,2,3,4", "256.0.0.0", "1.2.3.1e2",
    ])
    func rejectsAnythingElse(text: String) {
        #expect(IPv4Address(parsing: text) == nil)
    }

    /// Every excluded range as first address, one inside, last address (written out independently
    /// of the generator's own table).
    static let excluded: [(first: String, inside: String, last: String)] = [
        ("0.0.0.0", "0.1.2.3", "0.255.255.255"),
        ("10.0.0.0", "10.20.30.40", "10.255.255.255"),
        ("100.64.0.0", "100.100.100.100", "100.127.255.255"),
        ("127.0.0.0", "127.0.0.1", "127.255.255.255"),
        ("169.254.0.0", "169.254.169.254", "169.254.255.255"),
        ("172.16.0.0", "172.20.1.1", "172.31.255.255"),
        ("192.0.0.0", "192.0.0.8", "192.0.0.255"),
        ("192.0.2.0", "192.0.2.1", "192.0.2.255"),
        ("192.31.196.0", "192.31.196.7", "192.31.196.255"),
        ("192.52.193.0", "192.52.193.7", "192.52.193.255"),
        ("192.88.99.0", "192.88.99.1", "192.88.99.255"),
        ("192.168.0.0", "192.168.1.1", "192.168.255.255"),
        ("192.175.48.0", "192.175.48.6", "192.175.48.255"),
        ("198.18.0.0", "198.19.1.1", "198.19.255.255"),
        ("198.51.100.0", "198.51.100.7", "198.51.100.255"),
        ("203.0.113.0", "203.0.113.7", "203.0.113.255"),
        ("224.0.0.0", "224.0.0.251", "239.255.255.255"),
        ("240.0.0.0", "250.1.2.3", "255.255.255.255"),
    ]

    @Test func refusesEveryExcludedRangeIncludingItsEdges() throws {
        #expect(IPAddressGenerator.excludedRanges.count == Self.excluded.count)
        for range in Self.excluded {
            for text in [range.first, range.inside, range.last] {
                let address = try #require(IPv4Address(parsing: text))
                #expect(!IPAddressGenerator.isAllowed(address), "\(text)")
            }
        }
    }

    @Test(arguments: [
        "8.8.8.8", "1.1.1.1", "1.0.0.0", "9.255.255.255", "11.0.0.0", "100.63.255.255", "100.128.0.0",
        "126.255.255.255", "128.0.0.0", "169.253.255.255", "169.255.0.0", "172.15.255.255", "172.32.0.0",
        "192.0.1.0", "192.0.1.255", "192.0.3.0", "192.31.195.255", "192.31.197.0", "192.52.192.255", "192.52.194.0",
        "192.88.98.255", "192.88.100.0", "192.167.255.255", "192.169.0.0", "192.175.47.255", "192.175.49.0",
        "198.17.255.255", "198.20.0.0", "198.51.99.255", "198.51.101.0", "203.0.112.255", "203.0.114.0",
        "223.255.255.255",
    ])
    func allowsAddressesJustOutsideTheRanges(text: String) throws {
        #expect(IPAddressGenerator.isAllowed(try #require(IPv4Address(parsing: text))))
    }

    @Test func theTableHoldsOnlyAlignedNetworks() {
        for range in IPAddressGenerator.excludedRanges {
            let host: UInt32 = range.prefixLength == 0 ? .max : ~(~UInt32(0) << (32 - range.prefixLength))
            #expect(range.network & host == 0, "\(IPv4Address(value: range.network))/\(range.prefixLength)")
        }
    }

    @Test func oneHundredThousandRandomAddressesAreAllAllowed() {
        var seen = Set<UInt32>()
        for _ in 0..<100_000 {
            let address = IPAddressGenerator.random()
            #expect(IPAddressGenerator.isAllowed(address))
            #expect(IPv4Address(parsing: address.description) == address)
            seen.insert(address.value)
        }
        // 32 bits of randomness: collisions among 100,000 are rare (expected ~1.2)
        #expect(seen.count > 99_950)
    }

    @Test func aSeededGeneratorRepeatsItsAddresses() {
        var first = SplitMix64(seed: 42)
        var second = SplitMix64(seed: 42)
        for _ in 0..<1000 {
            let address = IPAddressGenerator.random(using: &first)
            #expect(IPAddressGenerator.isAllowed(address))
            #expect(address == IPAddressGenerator.random(using: &second))
        }
    }
}

/// A small deterministic generator for repeatable tests.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
