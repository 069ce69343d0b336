import RedisClient

/// A VM as the scripts answer it (lua/lib/vms.lua): `[vm_id, field, value, field, value, ...]`,
/// the fields of its hash `P:vm:<vm_id>` that are set.
public struct VMRecord: Sendable {
    /// The fields the gateway reads, by their names in the VM's hash.
    public enum Field: String, CaseIterable, Sendable {
        case status, ip, size, cpu, user, error
        case memoryMB = "memory_mb"
        case checkedOutAt = "checked_out_at"
        case leaseExpiresAt = "lease_expires_at"
        case createdAt = "created_at"
        case machineID = "machine_id"
        case reservation
        case setAsideFor = "set_aside_for"
    }

    public let id: String
    /// Every field that is set, by its name in the hash, and `vm_id`.
    public let fields: [String: String]

    /// A script's answer for one VM; nil when it is not one.
    public init?(_ reply: RESPValue) {
        guard let flat = reply.array, flat.count % 2 == 1, flat.count > 1, let id = flat[0].string else { return nil }
        var fields = ["vm_id": id]
        fields.reserveCapacity(flat.count / 2 + 1)
        for index in stride(from: 1, to: flat.count, by: 2) {
            guard let name = flat[index].string, let value = flat[index + 1].string else { return nil }
            fields[name] = value
        }
        self.id = id
        self.fields = fields
    }

    /// The value of a field, nil when it is not set.
    public subscript(_ field: Field) -> String? { fields[field.rawValue] }
}
