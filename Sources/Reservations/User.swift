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
