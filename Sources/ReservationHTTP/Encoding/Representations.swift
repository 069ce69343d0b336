import Reservations

/// The API's JSON for a VM: every field present, `null` when unset, times in RFC 3339 UTC.
struct VMRepresentation: Encodable {
    let vm: VM

    private enum CodingKeys: String, CodingKey {
        case vmID = "vm_id", ip, status, user
        case checkedOutAt = "checked_out_at", leaseExpiresAt = "lease_expires_at", createdAt = "created_at"
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(vm.id, forKey: .vmID)
        try container.encode(vm.ip, forKey: .ip)
        try container.encode(vm.status.rawValue, forKey: .status)
        try container.encode(vm.user, forKey: .user)
        try container.encode(vm.checkedOutAt.map(RFC3339.format), forKey: .checkedOutAt)
        try container.encode(vm.leaseExpiresAt.map(RFC3339.format), forKey: .leaseExpiresAt)
        try container.encode(RFC3339.format(vm.createdAt), forKey: .createdAt)
    }
}

extension Array where Element == VM {
    var representations: [VMRepresentation] { map(VMRepresentation.init) }
}

/// `GET /v1/vms/{vm_id}/status`.
struct VMStatusRepresentation: Encodable {
    let vm_id: String
    let status: String

    init(_ vm: VM) {
        vm_id = vm.id
        status = vm.status.rawValue
    }
}

/// A user; `token` only in the answers that issue one, `vms` only when reading one user.
struct UserRepresentation: Encodable {
    let user: User
    var token: String?
    var vms: [VM]?

    private enum CodingKeys: String, CodingKey {
        case name, role, quota, held, createdAt = "created_at", token, vms
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(user.name, forKey: .name)
        try container.encode(user.role.rawValue, forKey: .role)
        try container.encode(user.quota, forKey: .quota)
        try container.encode(user.held, forKey: .held)
        try container.encode(RFC3339.format(user.createdAt), forKey: .createdAt)
        try container.encodeIfPresent(token, forKey: .token)
        try container.encodeIfPresent(vms?.representations, forKey: .vms)
    }
}

/// `GET/PUT /v1/admin/pool`.
struct PoolRepresentation: Encodable {
    let max_vm_count: Int
    let total: Int
    let counts: [String: Int]

    init(_ stats: PoolStats) {
        max_vm_count = stats.maxVMCount
        total = stats.total
        counts = Dictionary(uniqueKeysWithValues: VMStatus.allCases.map { ($0.rawValue, stats.counts[$0] ?? 0) })
    }
}

/// `GET /v1/admin/vms`.
struct VMPageRepresentation: Encodable {
    let items: [VMRepresentation]
    let next_cursor: String?

    init(_ page: VMPage) {
        items = page.items.representations
        next_cursor = page.nextCursor
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(items, forKey: .items)
        try container.encode(next_cursor, forKey: .next_cursor)  // null on the last page
    }

    private enum CodingKeys: String, CodingKey {
        case items, next_cursor
    }
}
