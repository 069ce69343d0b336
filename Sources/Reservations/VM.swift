/// The lifecycle states of a VM, spelled as the API spells them.
public enum VMStatus: String, Sendable, CaseIterable, Codable {
    case provisioning
    case available
    case checkedOut = "checked-out"
    case error
    /// Deleted, or returned to be replaced: waiting for the provider to destroy its machine.
    case deprovisioning
    /// Set aside for the waiting reservation at the head of the queue (its `reservationID`):
    /// neither available nor anyone's, until the reservation is complete or stops waiting.
    case setAside = "set-aside"
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
    /// The reservation it belongs to, while it is checked out as part of one, or the one it is
    /// set aside for.
    public var reservationID: String? = nil
}

/// One page of the admin VM list. `nextCursor` is nil on the last page.
public struct VMPage: Sendable, Equatable {
    public var items: [VM]
    public var nextCursor: String?
}
