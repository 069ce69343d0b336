import RedisClient

/// Turns script replies (flat field/value arrays, and VMs as `VMRecord`s, see lua/README.md) into models.
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
        guard let record = VMRecord(reply), let status = record[.status].flatMap(VMStatus.init(rawValue:)),
              let createdAt = time(record[.createdAt])
        else { throw malformed(reply) }
        return VM(
            id: record.id, ip: record[.ip], status: status, user: record[.user],
            checkedOutAt: time(record[.checkedOutAt]),
            leaseExpiresAt: time(record[.leaseExpiresAt]),
            createdAt: createdAt,
            size: record[.size], cpu: record[.cpu].flatMap { Int($0) }, memoryMB: record[.memoryMB].flatMap { Int($0) },
            machineID: record[.machineID], error: record[.error], reservationID: record[.reservation] ?? record[.setAsideFor]
        )
    }

    /// A reservation as the scripts answer it (lua/lib/reservations.lua): `[id, field, value, ...,
    /// [VM, VM, ...]]`.
    static func reservation(_ reply: RESPValue) throws(ReservationError) -> Reservation {
        guard let elements = reply.array, elements.count % 2 == 0, elements.count >= 2, let id = elements[0].string,
              let vms = elements.last?.array else { throw malformed(reply) }
        var fields: [String: String] = [:]
        for index in stride(from: 1, to: elements.count - 1, by: 2) {
            guard let name = elements[index].string, let value = elements[index + 1].string else { throw malformed(reply) }
            fields[name] = value
        }
        guard let user = fields["user"], let createdAt = time(fields["created_at"]) else { throw malformed(reply) }
        return Reservation(id: id, user: user, createdAt: createdAt, leaseSeconds: fields["lease_seconds"].flatMap { Int($0) },
                           leaseExpiresAt: time(fields["lease_expires_at"]), vms: try Self.vms(vms))
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
              let quota = record["quota"].flatMap({ Int($0) }), let createdAt = time(record["created_at"]),
              let held = record["held"].flatMap({ Int($0) })
        else { throw malformed(reply) }
        var sizeQuotas: [String: Int] = [:]
        for entry in (record["size_quotas"] ?? "").split(separator: ",") {
            let parts = entry.split(separator: "=")
            if parts.count == 2, let quota = Int(parts[1]) { sizeQuotas[String(parts[0])] = quota }
        }
        return User(name: name, role: role, quota: quota, createdAt: createdAt, held: held,
                    maxLeaseSeconds: record["max_lease"].flatMap { Int($0) }, sizeQuotas: sizeQuotas)
    }

    /// A stored time in Unix milliseconds. Records written before times were milliseconds hold
    /// whole seconds, which are below 10^11 (in ms, a date of 1973).
    static func time(_ text: String?) -> Int? {
        guard let value = text.flatMap({ Int($0) }) else { return nil }
        return value < 100_000_000_000 ? value * 1000 : value
    }

    static func event(_ reply: RESPValue) throws(ReservationError) -> Event {
        let record = try fields(reply)
        guard let id = record["id"], let at = id.split(separator: "-").first.flatMap({ Int($0) }),
              let action = record["action"], let actor = record["actor"]
        else { throw malformed(reply) }
        return Event(id: id, at: at, action: action, actor: actor, vmID: record["vm_id"], ip: record["ip"],
                     user: record["user"], status: record["status"], detail: record["detail"],
                     reservationID: record["reservation_id"])
    }

    static func array(_ reply: RESPValue) throws(ReservationError) -> [RESPValue] {
        guard let elements = reply.array else { throw malformed(reply) }
        return elements
    }

    static func malformed(_ reply: RESPValue) -> ReservationError {
        .internalError("a script answered with an unexpected reply: \(reply)")
    }
}
