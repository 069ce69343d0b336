import Foundation

/// A random number generator from a seed (SplitMix64), for property tests whose failures can be
/// replayed: a test prints its seed, and `VMRESERVE_TEST_SEED` runs it again with that one.
public struct SeededGenerator: RandomNumberGenerator {
    private var state: UInt64

    public init(seed: UInt64) { state = seed }

    /// The seed of `VMRESERVE_TEST_SEED`, or a new random one.
    public static func seed() -> UInt64 {
        ProcessInfo.processInfo.environment["VMRESERVE_TEST_SEED"].flatMap { UInt64($0) } ?? UInt64.random(in: .min ... .max)
    }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
