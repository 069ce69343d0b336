import Foundation

// The answers of the vmreserve HTTP API (docs/API.md, docs/openapi.json), as the envelope's `data`
// carries them. Times are RFC 3339 on the wire.

/// Where a VM is in its life. (`setAside`: kept for the waiting reservation at the head of the
/// queue until its group is complete; neither available nor checked out.)
public enum VMStatus: String, Codable, Sendable, CaseIterable {
    case provisioning, available, setAside = "set-aside", checkedOut = "checked-out", error, deprovisioning
}

/// What a user may do: a user acts on their own VMs, an admin on everything.
public enum Role: String, Codable, Sendable {
    case user, admin
}

/// One VM.
public struct VM: Codable, Sendable, Equatable {
    public var id: String
    /// Nil while it has none yet (provisioning by a provider that assigns addresses).
    public var ip: String?
    public var status: VMStatus
    /// Who holds it (checked out), else nil.
    public var user: String?
    public var checkedOutAt: Date?
    /// When its lease ends; nil for a VM held without one, or not held.
    public var leaseExpiresAt: Date?
    public var createdAt: Date
    public var size: String?
    public var cpu: Int?
    public var memoryMB: Int?
    /// The provider's name for its machine.
    public var machineID: String?
    /// Why its last provisioning step failed (status `error`).
    public var error: String?
    /// The reservation it belongs to, while checked out as part of one.
    public var reservationID: String? = nil

    enum CodingKeys: String, CodingKey {
        case id = "vm_id", ip, status, user, checkedOutAt = "checked_out_at", leaseExpiresAt = "lease_expires_at"
        case createdAt = "created_at", size, cpu, memoryMB = "memory_mb", machineID = "machine_id", error
        case reservationID = "reservation_id"
    }
}

/// Several VMs checked out as one (`POST /v1/reservations`): all of them or none, with one
/// lease, renewed and returned together.
public struct Reservation: Codable, Sendable, Equatable {
    public var id: String
    /// Who holds it.
    public var user: String
    /// Its VMs, each with `reservationID` this reservation's id.
    public var vms: [VM]
    /// The length of its lease (from its checkout or last renewal); nil for none.
    public var leaseSeconds: Int?
    /// When the lease of every VM of it ends; nil for none.
    public var leaseExpiresAt: Date?
    public var createdAt: Date

    enum CodingKeys: String, CodingKey {
        case id, user, vms, leaseSeconds = "lease_seconds", leaseExpiresAt = "lease_expires_at", createdAt = "created_at"
    }
}

/// One group of a reservation: `count` VMs of `size`, or of any size (the sizes the caller has
/// room for, in the catalog's order) when `size` is nil.
public struct ReservationGroup: Sendable, Equatable {
    public var size: String?
    public var count: Int

    public init(size: String? = nil, count: Int) {
        self.size = size
        self.count = count
    }
}

/// One user.
public struct User: Codable, Sendable, Equatable {
    public var name: String
    public var role: Role
    public var quota: Int
    /// How many VMs they hold now.
    public var held: Int
    /// Their own longest lease, over the gateway's; nil: the gateway's.
    public var maxLeaseSeconds: Int?
    /// Quotas per size, where set.
    public var sizeQuotas: [String: Int]
    public var createdAt: Date
    /// Their token: only in the answer that issues it (a new user, a rotated token).
    public var token: String?
    /// The VMs they hold: only when reading one user.
    public var vms: [VM]?

    enum CodingKeys: String, CodingKey {
        case name, role, quota, held, maxLeaseSeconds = "max_lease_seconds", sizeQuotas = "size_quotas", createdAt = "created_at"
        case token, vms
    }
}

/// The pool: its cap, its VMs by status, its IP pool.
public struct Pool: Codable, Sendable, Equatable {
    public var maxVMCount: Int
    public var total: Int
    public var counts: [VMStatus: Int]
    /// The CIDR block new VMs take their addresses from; nil: random public addresses.
    public var ipPool: String?
    /// Addresses of the IP pool not in use; nil without one.
    public var ipPoolFree: Int?

    enum CodingKeys: String, CodingKey {
        case maxVMCount = "max_vm_count", total, counts, ipPool = "ip_pool", ipPoolFree = "ip_pool_free"
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        maxVMCount = try container.decode(Int.self, forKey: .maxVMCount)
        total = try container.decode(Int.self, forKey: .total)
        let byName = try container.decode([String: Int].self, forKey: .counts)
        counts = Dictionary(uniqueKeysWithValues: byName.compactMap { name, count in VMStatus(rawValue: name).map { ($0, count) } })
        ipPool = try container.decodeIfPresent(String.self, forKey: .ipPool)
        ipPoolFree = try container.decodeIfPresent(Int.self, forKey: .ipPoolFree)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(maxVMCount, forKey: .maxVMCount)
        try container.encode(total, forKey: .total)
        try container.encode(Dictionary(uniqueKeysWithValues: counts.map { ($0.key.rawValue, $0.value) }), forKey: .counts)
        try container.encode(ipPool, forKey: .ipPool)
        try container.encode(ipPoolFree, forKey: .ipPoolFree)
    }
}

/// One entry of the pool's history.
public struct Event: Codable, Sendable, Equatable {
    public var id: String
    public var at: Date
    public var action: String
    /// Who did it: a user's name, or `system`.
    public var actor: String
    public var vmID: String?
    public var ip: String?
    public var user: String?
    public var status: VMStatus?
    public var detail: String?
    /// The reservation the VM belongs to.
    public var reservationID: String? = nil

    enum CodingKeys: String, CodingKey {
        case id, at, action, actor, vmID = "vm_id", ip, user, status, detail, reservationID = "reservation_id"
    }
}

/// A page of a listing; `nextCursor` asks for the next one (nil: this was the last).
public struct Page<Item: Codable & Sendable>: Codable, Sendable {
    public var items: [Item]
    public var nextCursor: String?

    enum CodingKeys: String, CodingKey {
        case items, nextCursor = "next_cursor"
    }
}
