/// How long checkouts may hold VMs, as the gateway is configured; see `leases.arg` in
/// lua/lib/leases.lua, which applies it.
public struct LeasePolicy: Sendable, Equatable {
    /// No lease, default or maximum may be longer: a year.
    public static let limit = 31_536_000
    /// The lease of a checkout that asks for none; nil: such a checkout has no lease.
    public var defaultSeconds: Int?
    /// The longest lease anyone may ask for, unless an admin gave a user a maximum of their own.
    public var maxSeconds: Int

    public init(defaultSeconds: Int? = nil, maxSeconds: Int = 604_800) {
        self.defaultSeconds = defaultSeconds
        self.maxSeconds = maxSeconds
    }
}

/// A change to a user's own maximum lease.
public enum MaxLeaseChange: Sendable, Equatable {
    /// The user's own maximum, in seconds, in place of the gateway's.
    case set(Int)
    /// The gateway's maximum applies again.
    case remove
}

/// What one run of the lease reaper did.
public struct ReapResult: Sendable, Equatable {
    /// VMs returned to the pool.
    public var released: Int
    /// When the next lease ends (Unix ms), nil when no VM has a lease.
    public var nextExpiry: Int?
    /// Redis' time of the run (Unix ms).
    public var now: Int
}
