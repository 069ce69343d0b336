import ArgumentParser
import ReservationHTTP
import Reservations

/// The pools served, and the rules of their VMs, leases and waits.
struct PoolOptions: ParsableArguments {
    @Option(help: "A pool to serve, by name (the hash tag of every Redis key of the pool); repeat it (or give VMRESERVE_POOL=a,b) to serve several: the first at the routes as docs/API.md writes them, each also under /pools/NAME. (default: \(GatewayConfiguration.defaults.pools[0]))")
    var pool: [String] = []
    @Option(name: .customLong("max-vm-count"), help: "Cap on VMs, used only when Redis has none yet.")
    var maxVMCount = GatewayConfiguration.defaults.maxVMCount
    @Option(help: "Quota of users created without one.")
    var defaultQuota = GatewayConfiguration.defaults.defaultQuota
    @Option(help: "Lease in seconds of a checkout that asks for none. (default: none, such a VM is held until checked in)")
    var defaultLease: Int?
    @Option(help: "Longest lease in seconds a checkout or renewal may ask for, unless an admin gives a user a maximum of their own (604800: 7 days).")
    var maxLease = GatewayConfiguration.defaults.leases.maxSeconds
    @Option(help: "Longest a checkout or reservation may wait for VMs with ?wait=, in seconds.")
    var maxWait = Int(GatewayConfiguration.defaults.maxWait.components.seconds)
    @Option(help: "Seconds a waiting reservation's place lasts unless its gateway renews it (every third of it): how soon the VMs set aside for it go back when its gateway dies.")
    var waitClaim = Int(GatewayConfiguration.defaults.waitClaim.components.seconds)
    @Option(help: "A CIDR block (e.g. 203.0.113.0/26) new VMs take their addresses from, used only when Redis has none yet; admins change it with PUT /v1/admin/pool. (default: random public addresses)")
    var ipPool: String?
    @Option(help: "Delete available VMs nobody has checked out for this many seconds, never below --min-ready. (default: never)")
    var idleDeleteAfter: Int?
    @Option(help: "Keep this many VMs available: create them, within the cap, when fewer are.")
    var minReady = GatewayConfiguration.defaults.minReady
    @Option(help: "The sizes VMs come in, name=cpu:memory_mb,... (the first is the default size), used only when Redis has none yet.")
    var sizes = VMSize.catalogText(GatewayConfiguration.defaults.sizes)
    @Option(help: "Seconds the answer to a checkout or create with an Idempotency-Key is kept for retries.")
    var idempotencyWindow = Int(GatewayConfiguration.defaults.idempotencyWindow.components.seconds)

    func apply(to configuration: inout GatewayConfiguration) throws {
        configuration.pools = try pools()
        configuration.maxVMCount = try OptionChecks.within(maxVMCount, 0...1_000_000, "max-vm-count")
        configuration.defaultQuota = try OptionChecks.within(defaultQuota, 0...1_000_000, "default-quota")
        let maxSeconds = try OptionChecks.within(maxLease, 1...LeasePolicy.limit, "max-lease")
        if let defaultLease, !(1...maxSeconds).contains(defaultLease) {
            throw ValidationError("--default-lease: must be from 1 to the maximum lease, \(maxSeconds)")
        }
        configuration.leases = LeasePolicy(defaultSeconds: defaultLease, maxSeconds: maxSeconds)
        configuration.maxWait = .seconds(try OptionChecks.within(maxWait, 0...3600, "max-wait"))
        configuration.waitClaim = .seconds(try OptionChecks.within(waitClaim, 3...3600, "wait-claim"))
        if let ipPool, !IPv4Address.isNetworkBlock(ipPool) {
            throw ValidationError("--ip-pool: an IPv4 network address with a prefix from /12 to /32, e.g. 203.0.113.0/26")
        }
        configuration.ipPool = ipPool
        configuration.idleDeleteAfter = try idleDeleteAfter.map { try OptionChecks.within($0, 1...LeasePolicy.limit, "idle-delete-after") }
        configuration.minReady = try OptionChecks.within(minReady, 0...1_000_000, "min-ready")
        guard let catalog = VMSize.parseCatalog(sizes) else {
            throw ValidationError("--sizes: name=cpu:memory_mb,... e.g. small=1:2048,large=4:8192")
        }
        configuration.sizes = catalog
        configuration.idempotencyWindow = .seconds(try OptionChecks.within(idempotencyWindow, 1...604_800, "idempotency-window"))
    }

    /// Each `--pool` (names split at commas, spaces around them dropped: VMRESERVE_POOL=a,b
    /// gives two), or else `default`.
    private func pools() throws -> [String] {
        let names = pool.isEmpty ? GatewayConfiguration.defaults.pools : pool
        for name in names where name.isEmpty || name.contains("{") || name.contains("}") || name.contains("/") || name.contains(",") {
            throw ValidationError("--pool: a pool name cannot be empty or contain braces, slashes or commas: '\(name)'")
        }
        guard Set(names).count == names.count else { throw ValidationError("--pool: each pool once") }
        return names
    }
}
