import RedisClient

/// Turns script replies (flat field/value arrays, see lua/README.md) into models.
enum RecordDecoding {
    static func fields(_ reply: RESPValue) throws(ReservationError) -> [String: String] {
        guard let flat = reply.array, flat.count % 2 == 0 else { throw malformed(reply) }
        var fields: [String: String] = [:]
        fields.reserveCapacity(flat.count / 2)
        for index in stride(from: 0, to: flat.count, by: 2) {
            guard let name = flat[index].string, let value = flat[index + 1].string else { throw malformed(reply) }
            fields[name] = value
        }
        return fields
    }

    static func vm(_ reply: RESPValue) throws(ReservationError) -> VM {
        let record = try fields(reply)
        guard let id = record["vm_id"], let ip = record["ip"],
              let status = record["status"].flatMap(VMStatus.init(rawValue:)),
              let createdAt = record["created_at"].flatMap({ Int($0) })
        else { throw malformed(reply) }
        return VM(
            id: id, ip: ip, status: status, user: record["user"],
            checkedOutAt: record["checked_out_at"].flatMap { Int($0) },
            leaseExpiresAt: record["lease_expires_at"].flatMap { Int($0) },
            createdAt: createdAt
        )
    }

    static func vms(_ replies: [RESPValue]) throws(ReservationError) -> [VM] {
        var vms: [VM] = []
        vms.reserveCapacity(replies.count)
        for reply in replies { vms.append(try vm(reply)) }
        return vms
    }

    static func user(_ reply: RESPValue) throws(ReservationError) -> User {
        let record = try fields(reply)
        guard let name = record["name"], let role = record["role"].flatMap(Role.init(rawValue:)),
              let quota = record["quota"].flatMap({ Int($0) }), let createdAt = record["created_at"].flatMap({ Int($0) }),
              let held = record["held"].flatMap({ Int($0) })
        else { throw malformed(reply) }
        return User(name: name, role: role, quota: quota, createdAt: createdAt, held: held)
    }

    static func array(_ reply: RESPValue) throws(ReservationError) -> [RESPValue] {
        guard let elements = reply.array else { throw malformed(reply) }
        return elements
    }

    static func malformed(_ reply: RESPValue) -> ReservationError {
        .internalError("a script answered with an unexpected reply: \(reply)")
    }
}
