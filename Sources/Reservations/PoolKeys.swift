/// The Redis keys of one pool. They share one hash tag, so a Redis Cluster keeps the whole pool
/// in one slot (see lua/README.md).
public struct PoolKeys: Sendable, Equatable {
    /// The key prefix, e.g. `vmreserve:{default}`.
    public let prefix: String
    /// The KEYS of every script: the pool hash and the VM hashes' prefix. The scripts name every
    /// other key of the pool from the first; the second, a key that never exists, keeps any
    /// script from running while a Redis Cluster moves the pool's slot (see `run` in
    /// lua/lib/errors.lua).
    public let declared: [String]

    /// - Parameter pool: the pool's name; it becomes the hash tag, so it must not contain braces.
    public init(pool: String = "default", namespace: String = "vmreserve") {
        precondition(!pool.contains("{") && !pool.contains("}"), "a pool name cannot contain braces")
        let prefix = "\(namespace):{\(pool)}"
        self.prefix = prefix
        declared = ["\(prefix):pool", "\(prefix):vm:"]
    }
}
