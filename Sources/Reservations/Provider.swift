/// Where the machines behind VMs are made, reset and destroyed: a simulator, an operator's
/// commands, a cloud. Only the `ProvisioningWorker` calls it, outside the scripts (a script
/// cannot wait on the outside world) and driven by jobs in Redis (see lua/lib/jobs.lua), so a
/// new provider touches neither the scripts nor the routes.
///
/// A call may be repeated for the same VM: a worker that died mid-call leaves its job to
/// another, which calls again. So every call must be idempotent by `vm.id`: `provision` answers
/// the machine an earlier call made for that id, if there is one, rather than make a second, and
/// `deprovision` destroys whatever was made for that id, which may already be gone.
public protocol Provider: Sendable {
    /// False for a provider with nothing to wait for: created VMs are available, and deleted
    /// ones gone, at once, and no job is queued but for a returned VM's reset or replacement.
    var needsJobs: Bool { get }
    /// True when the provider gives VMs their addresses (a created VM has none until it is
    /// provisioned, and the IP pool does not apply); false when vmreserve gives them.
    var assignsAddresses: Bool { get }
    /// Makes (or finds) the machine for `vm`.
    func provision(_ vm: VM) async throws(ProviderError) -> ProvisionedMachine
    /// Brings the machine of a returned VM back to a clean state.
    func reset(_ vm: VM) async throws(ProviderError) -> ProvisionedMachine
    /// Destroys the machine of `vm`, if there is one.
    func deprovision(_ vm: VM) async throws(ProviderError)
}

/// What a provider answers for a machine it made or reset.
public struct ProvisionedMachine: Sendable, Equatable {
    /// The machine's address; nil keeps the VM's own.
    public var ip: String?
    /// The provider's name for the machine (an EC2 instance id, say), if it has one.
    public var machineID: String?

    public init(ip: String? = nil, machineID: String? = nil) {
        self.ip = ip
        self.machineID = machineID
    }
}

/// A provider's failure, told in a sentence an admin sees in the VM's `error` field.
public struct ProviderError: Error, Sendable, Equatable {
    public var message: String

    public init(_ message: String) {
        self.message = message
    }
}

/// What happens to a VM that comes back (checkin, a lease that ran out).
public enum ReturnPolicy: String, Sendable, CaseIterable {
    /// Available again at once, as it is.
    case reuse
    /// `provisioning` until the provider has reset its machine.
    case reset
    /// Deprovisioned, and a fresh VM of its size created in its place.
    case replace
}

/// How a pool's VMs are provisioned: what every gateway of the pool writes at start (they must
/// agree), and how its worker claims jobs.
public struct ProvisioningPolicy: Sendable {
    public var provider: any Provider
    public var onReturn: ReturnPolicy
    /// How long a worker's claim on a job lasts unless renewed: after a gateway dies, how long
    /// until another takes its jobs over. The worker renews it every third of it.
    public var claim: Duration
    /// Provider calls one gateway makes at once.
    public var concurrency: Int

    public init(provider: any Provider = SimulatedProvider(), onReturn: ReturnPolicy = .reuse,
                claim: Duration = .seconds(30), concurrency: Int = 8) {
        self.provider = provider
        self.onReturn = onReturn
        self.claim = claim
        self.concurrency = concurrency
    }
}
