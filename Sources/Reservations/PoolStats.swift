/// The cap, the number of VMs in each state, and the IP pool.
public struct PoolStats: Sendable, Equatable {
    public var maxVMCount: Int
    public var total: Int
    public var counts: [VMStatus: Int]
    /// The CIDR block new VMs take their addresses from; nil: random public addresses.
    public var ipPool: String?
    /// Addresses of `ipPool` no VM has, nil without one.
    public var ipPoolFree: Int?
}

/// A change to the pool's IP pool.
public enum IPPoolChange: Sendable, Equatable {
    /// New VMs take their addresses from this CIDR block.
    case block(String)
    /// New VMs get random public addresses.
    case randomPublic
}
