/// The sixteen Redis keys of one pool, in the order every script expects them (see lua/README.md).
/// They share one hash tag, so a Redis Cluster keeps the whole pool in one slot.
public struct PoolKeys: Sendable, Equatable {
    /// The key prefix, e.g. `vmreserve:{default}`.
    public let prefix: String
    /// KEYS[1...16] of every script.
    public let all: [String]

    /// - Parameter pool: the pool's name; it becomes the hash tag, so it must not contain braces.
    public init(pool: String = "default", namespace: String = "vmreserve") {
        precondition(!pool.contains("{") && !pool.contains("}"), "a pool name cannot contain braces")
        let prefix = "\(namespace):{\(pool)}"
        self.prefix = prefix
        all = ["tokens", "user:", "users", "held:", "records:", "buckets", "free:", "ips:", "pool", "leases", "events", "waiters", "waiting",
               "handoff:", "ipbits", "jobs"]
            .map { "\(prefix):\($0)" }
    }
}
