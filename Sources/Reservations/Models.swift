/// The lifecycle states of a VM, spelled as the API spells them.
public enum VMStatus: String, Sendable, CaseIterable, Codable {
    case provisioning
    case available
    case checkedOut = "checked-out"
    case error
}

/// A VM as stored in its Redis hash. Times are whole Unix seconds from Redis' clock.
public struct VM: Sendable, Equatable {
    public var id: String
    public var ip: String
    public var status: VMStatus
    /// The holder's name while checked out.
    public var user: String?
    public var checkedOutAt: Int?
    public var leaseExpiresAt: Int?
    public var createdAt: Int
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
}

/// The cap and the number of VMs in each state.
public struct PoolStats: Sendable, Equatable {
    public var maxVMCount: Int
    public var total: Int
    public var counts: [VMStatus: Int]
}

/// One page of the admin VM list. `nextCursor` is nil on the last page.
public struct VMPage: Sendable, Equatable {
    public var items: [VM]
    public var nextCursor: String?
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
