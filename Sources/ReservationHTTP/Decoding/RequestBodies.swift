import Reservations

/// A body that can be made from a flat object's members without Codable (`StrictJSON.Flat`),
/// for the bodies of the busiest routes. `init(flat:)` answers nil for anything it does not
/// take exactly as its Codable `init(from:)` would (an unknown member, a wrong type), and the
/// body is then decoded by Codable, which says what is wrong.
protocol FlatDecodable {
    init?(flat: StrictJSON.Flat)
}

extension StrictJSON.Flat {
    /// Member `name` as an optional string: absent or null is nil; any other kind fails (nil).
    func optionalString(_ name: String) -> String?? {
        switch self[name] {
        case nil, .null: .some(nil)
        case .string(let text): .some(text)
        case .integer: nil
        }
    }

    /// Member `name` as an optional whole number, as `optionalString`.
    func optionalInteger(_ name: String) -> Int?? {
        switch self[name] {
        case nil, .null: .some(nil)
        case .integer(let number): .some(number)
        case .string: nil
        }
    }

    /// Whether every member is one of `names`.
    func hasOnly(_ names: Set<String>) -> Bool { keys.allSatisfy(names.contains) }
}

/// `POST /v1/checkouts`: `{"lease_seconds": N, "size": "large"}`, both optional.
struct CheckoutBody: StrictDecodable {
    enum Field: String, CodingKey, CaseIterable { case lease_seconds, size }
    let leaseSeconds: Int?
    let size: String?

    init(from decoder: any Decoder) throws {
        let fields = try Self.fields(from: decoder)
        leaseSeconds = try fields.decodeIfPresent(Int.self, forKey: .lease_seconds)
        size = try fields.decodeIfPresent(String.self, forKey: .size)
    }
}

extension CheckoutBody: FlatDecodable {
    init?(flat: StrictJSON.Flat) {
        guard flat.hasOnly(["lease_seconds", "size"]), let lease = flat.optionalInteger("lease_seconds"),
              let size = flat.optionalString("size") else { return nil }
        (leaseSeconds, self.size) = (lease, size)
    }
}

/// `POST /v1/checkouts/{vm_id}/renew`: `{"lease_seconds": N}`, optional.
struct LeaseBody: StrictDecodable {
    enum Field: String, CodingKey, CaseIterable { case lease_seconds }
    let leaseSeconds: Int?

    init(from decoder: any Decoder) throws {
        leaseSeconds = try Self.fields(from: decoder).decodeIfPresent(Int.self, forKey: .lease_seconds)
    }
}

extension LeaseBody: FlatDecodable {
    init?(flat: StrictJSON.Flat) {
        guard flat.hasOnly(["lease_seconds"]), let lease = flat.optionalInteger("lease_seconds") else { return nil }
        leaseSeconds = lease
    }
}

/// `POST /v1/checkins`: `{"ip"}`, `{"vm_id"}` or both.
struct CheckinBody: StrictDecodable {
    enum Field: String, CodingKey, CaseIterable { case ip, vm_id }
    let ip: String?
    let vmID: String?

    init(from decoder: any Decoder) throws {
        let fields = try Self.fields(from: decoder)
        ip = try fields.decodeIfPresent(String.self, forKey: .ip)
        vmID = try fields.decodeIfPresent(String.self, forKey: .vm_id)
    }
}

extension CheckinBody: FlatDecodable {
    init?(flat: StrictJSON.Flat) {
        guard flat.hasOnly(["ip", "vm_id"]), let ip = flat.optionalString("ip"), let id = flat.optionalString("vm_id") else { return nil }
        (self.ip, vmID) = (ip, id)
    }
}

/// `POST /v1/admin/vms`: `{"count": n, "size": "medium"}`, both optional.
struct CreateVMsBody: StrictDecodable {
    enum Field: String, CodingKey, CaseIterable { case count, size }
    let count: Int?
    let size: String?

    init(from decoder: any Decoder) throws {
        let fields = try Self.fields(from: decoder)
        count = try fields.decodeIfPresent(Int.self, forKey: .count)
        size = try fields.decodeIfPresent(String.self, forKey: .size)
    }
}

/// `PUT /v1/admin/pool`: `{"max_vm_count": n}`, `{"ip_pool": "203.0.113.0/26"}` (`null`: random
/// public addresses again) or both.
struct SetPoolBody: StrictDecodable {
    enum Field: String, CodingKey, CaseIterable { case max_vm_count, ip_pool }
    let maxVMCount: Int?
    /// nil: unchanged; `.some(nil)`: none; `.some(cidr)`: that block.
    let ipPool: String??

    init(from decoder: any Decoder) throws {
        let fields = try Self.fields(from: decoder)
        if fields.contains(.max_vm_count) {
            maxVMCount = try fields.decode(Int.self, forKey: .max_vm_count)  // null is not a cap
        } else {
            maxVMCount = nil
        }
        ipPool = try fields.decodeChange(String.self, forKey: .ip_pool)
    }
}

/// `POST /v1/admin/users`: `{"name", "quota", "role"}`; quota and role optional.
struct CreateUserBody: StrictDecodable {
    enum Field: String, CodingKey, CaseIterable { case name, quota, role }
    let name: String
    let quota: Int?
    let role: Role?

    init(from decoder: any Decoder) throws {
        let fields = try Self.fields(from: decoder)
        name = try fields.decode(String.self, forKey: .name)
        quota = try fields.decodeIfPresent(Int.self, forKey: .quota)
        role = try fields.decodeIfPresent(Role.self, forKey: .role)
    }
}

/// `PATCH /v1/admin/users/{name}`: any of `{"quota", "role", "max_lease_seconds", "size_quotas"}`;
/// `"max_lease_seconds": null` removes the user's own maximum, `"size_quotas": null` (or `{}`)
/// their quotas per size.
struct UpdateUserBody: StrictDecodable {
    enum Field: String, CodingKey, CaseIterable { case quota, role, max_lease_seconds, size_quotas }
    let quota: Int?
    let role: Role?
    /// nil: unchanged; `.some(nil)`: removed; `.some(n)`: set.
    let maxLeaseSeconds: Int??
    /// nil: unchanged; `.some(nil)` or `{}`: removed; else the quotas per size, all of them.
    let sizeQuotas: [String: Int]??

    init(from decoder: any Decoder) throws {
        let fields = try Self.fields(from: decoder)
        quota = try fields.decodeIfPresent(Int.self, forKey: .quota)
        role = try fields.decodeIfPresent(Role.self, forKey: .role)
        maxLeaseSeconds = try fields.decodeChange(Int.self, forKey: .max_lease_seconds)
        sizeQuotas = try fields.decodeChange([String: Int].self, forKey: .size_quotas)
    }
}

extension KeyedDecodingContainer {
    /// A field that changes a setting: absent is nil (unchanged), `null` is `.some(nil)` (removed),
    /// anything else `.some(value)`.
    func decodeChange<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T?? {
        guard contains(key) else { return nil }
        return try decodeNil(forKey: key) ? .some(nil) : .some(try decode(type, forKey: key))
    }
}

/// `POST /v1/reservations`: `{"vms": [{"size": "large", "count": 1}, ...], "lease_seconds": N}`, or
/// the shorthand `{"count": 3}` (any size); one of `vms` and `count`.
struct ReservationBody: StrictDecodable {
    enum Field: String, CodingKey, CaseIterable { case vms, count, lease_seconds }
    let groups: [ReservationGroup]
    let leaseSeconds: Int?

    init(from decoder: any Decoder) throws {
        let fields = try Self.fields(from: decoder)
        leaseSeconds = try fields.decodeIfPresent(Int.self, forKey: .lease_seconds)
        let vms = try fields.decodeIfPresent([GroupBody].self, forKey: .vms)
        let count = try fields.decodeIfPresent(Int.self, forKey: .count)
        switch (vms, count) {
        case (let vms?, nil): groups = vms.map { ReservationGroup(size: $0.size, count: $0.count) }
        case (nil, let count?): groups = [ReservationGroup(size: nil, count: count)]
        default:
            throw DecodingError.dataCorrupted(.init(codingPath: [], debugDescription: "Give either vms or count"))
        }
    }

    /// One group of `vms`: `{"size": "large", "count": 2}` (size optional: any).
    struct GroupBody: StrictDecodable {
        enum Field: String, CodingKey, CaseIterable { case size, count }
        let size: String?
        let count: Int

        init(from decoder: any Decoder) throws {
            let fields = try Self.fields(from: decoder)
            size = try fields.decodeIfPresent(String.self, forKey: .size)
            count = try fields.decode(Int.self, forKey: .count)
        }
    }
}
