/// The lifecycle states of a VM, spelled as the API spells them.
public enum VMStatus: String, Sendable, CaseIterable, Codable {
    case provisioning
    case available
    case checkedOut = "checked-out"
    case error
    /// Deleted, or returned to be replaced: waiting for the provider to destroy its machine.
    case deprovisioning
}

/// A VM as stored in its Redis hash. Times are Unix milliseconds from Redis' clock.
public struct VM: Sendable, Equatable {
    public var id: String
    /// Nil while a provider that chooses addresses is still provisioning it.
    public var ip: String?
    public var status: VMStatus
    /// The holder's name while checked out.
    public var user: String?
    public var checkedOutAt: Int?
    public var leaseExpiresAt: Int?
    public var createdAt: Int
    /// Its size from the pool's catalog, with the size's CPUs and memory; nil for VMs created
    /// before the pool had a catalog.
    public var size: String?
    public var cpu: Int?
    public var memoryMB: Int?
    /// The provider's name for its machine, once provisioned (an EC2 instance id, say).
    public var machineID: String? = nil
    /// Why the provider's last work on it failed: while `error`, or `deprovisioning` to be tried again.
    public var error: String? = nil
}

/// A size of the pool's catalog: what a VM of that size has.
public struct VMSize: Sendable, Equatable {
    public var name: String
    public var cpu: Int
    public var memoryMB: Int

    public init(name: String, cpu: Int, memoryMB: Int) {
        self.name = name
        self.cpu = cpu
        self.memoryMB = memoryMB
    }

    /// small (1 CPU, 2 GiB), medium (2, 4 GiB), large (4, 8 GiB); the first is the default size.
    public static let defaultCatalog = [
        VMSize(name: "small", cpu: 1, memoryMB: 2048), VMSize(name: "medium", cpu: 2, memoryMB: 4096),
        VMSize(name: "large", cpu: 4, memoryMB: 8192),
    ]

    /// A catalog as the scripts keep it, and as `--sizes` takes it: `small=1:2048,medium=2:4096`.
    public static func catalogText(_ sizes: [VMSize]) -> String {
        sizes.map { "\($0.name)=\($0.cpu):\($0.memoryMB)" }.joined(separator: ",")
    }

    /// Reads `catalogText`; nil unless every entry is `name=cpu:memory_mb` with a name of 1 to 32
    /// letters, digits, `-` or `_`, whole numbers above 0, and no name twice.
    public static func parseCatalog(_ text: String) -> [VMSize]? {
        var sizes: [VMSize] = []
        for entry in text.split(separator: ",", omittingEmptySubsequences: false) {
            let parts = entry.split(separator: "=", omittingEmptySubsequences: false)
            guard parts.count == 2, isValidName(String(parts[0])) else { return nil }
            let numbers = parts[1].split(separator: ":", omittingEmptySubsequences: false).compactMap { Int($0) }
            guard numbers.count == 2, numbers.allSatisfy({ (1...1_000_000).contains($0) }),
                  !sizes.contains(where: { $0.name == parts[0] })
            else { return nil }
            sizes.append(VMSize(name: String(parts[0]), cpu: numbers[0], memoryMB: numbers[1]))
        }
        return sizes.isEmpty ? nil : sizes
    }

    /// 1 to 32 letters, digits, `-` or `_`.
    public static func isValidName(_ name: String) -> Bool {
        (1...32).contains(name.utf8.count) && name.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }
    }
}

/// A change to a user's quotas per size.
public enum SizeQuotasChange: Sendable, Equatable {
    /// These quotas per size, replacing the ones before.
    case set([String: Int])
    /// No quota per size: the total quota alone.
    case remove
}

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

/// Work for the provider on one VM, claimed by one worker (see lua/lib/jobs.lua).
public struct ProvisioningJob: Sendable, Equatable {
    public enum Kind: String, Sendable {
        case provision
        case reset
        case deprovision
        /// Deprovision, then a fresh VM in its place.
        case replace
    }

    /// The VM as it was when the job was taken.
    public var vm: VM
    public var kind: Kind
    /// The claim take_job.lua gave: only its holder's outcome counts.
    public var claim: String
}

/// What a worker asking for a job got.
public enum JobTake: Sendable, Equatable {
    case job(ProvisioningJob)
    /// No job is due; the next is due at `nextDue` (Unix ms, nil: none queued), Redis' time being `now`.
    case none(nextDue: Int?, now: Int)
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

public enum Role: String, Sendable, Codable, CaseIterable {
    case user
    case admin
}

/// A user as stored in Redis, with the number of VMs held now. Never the token.
public struct User: Sendable, Equatable {
    public var name: String
    public var role: Role
    /// The most VMs this user may hold at once.
    public var quota: Int
    public var createdAt: Int
    public var held: Int
    /// The user's own maximum lease in seconds, nil when the gateway's applies.
    public var maxLeaseSeconds: Int?
    /// Quotas per size, besides `quota` in total; empty when none.
    public var sizeQuotas: [String: Int] = [:]
}

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

/// One page of the admin VM list. `nextCursor` is nil on the last page.
public struct VMPage: Sendable, Equatable {
    public var items: [VM]
    public var nextCursor: String?
}

/// One entry of the history: a state change, as the script that made it recorded it.
public struct Event: Sendable, Equatable {
    /// The stream entry's id, `<Unix ms>-<sequence>`: the cursor to continue after it.
    public var id: String
    /// When, in Unix milliseconds (Redis' clock).
    public var at: Int
    /// checkout, checkin, renew, lease_expired, create, delete, set_cap, user_create,
    /// user_update, user_delete, token_rotate, provisioned, provision_failed, reset,
    /// reset_failed, retry, deprovisioned, deprovision_failed...
    public var action: String
    /// Who asked: a user's or principal's name, or `system` (a lease that ran out, a first start).
    public var actor: String
    public var vmID: String?
    public var ip: String?
    /// Whom it concerns: the VM's holder, or the user changed.
    public var user: String?
    /// The VM's status after it (`deleted` once gone): the outcome.
    public var status: String?
    public var detail: String?
}

/// One page of history, oldest first. `nextCursor` is nil on the last page.
public struct EventPage: Sendable, Equatable {
    public var items: [Event]
    public var nextCursor: String?
}

/// Whose history to read.
public enum EventScope: String, Sendable {
    /// Events about the caller.
    case mine
    /// Every event (admins).
    case all
}

/// A user and the VMs they hold.
public struct UserDetail: Sendable, Equatable {
    public var user: User
    public var vms: [VM]
}

/// A user just created or given a new token: the only time the token is ever visible.
public struct IssuedToken: Sendable {
    public var user: User
    public var token: String
}
