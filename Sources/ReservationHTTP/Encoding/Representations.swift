import Reservations

/// The API's JSON for a VM: every field present, `null` when unset, times in RFC 3339 UTC to the
/// millisecond.
extension VM: JSONValue {
    func write(to json: inout JSONWriter) {
        json.object { vm in
            vm.field("vm_id", id)
            vm.field("ip", ip)
            vm.field("status", status.rawValue)
            vm.field("user", user)
            vm.field("checked_out_at", checkedOutAt.map(RFC3339.Time.init))
            vm.field("lease_expires_at", leaseExpiresAt.map(RFC3339.Time.init))
            vm.field("created_at", RFC3339.Time(createdAt))
            vm.field("size", size)
            vm.field("cpu", cpu)
            vm.field("memory_mb", memoryMB)
            vm.field("machine_id", machineID)
            vm.field("error", error)
            vm.field("reservation_id", reservationID)
        }
    }
}

/// A reservation: its id, holder, lease and VMs (`docs/API.md`, "The reservation object").
extension Reservation: JSONValue {
    func write(to json: inout JSONWriter) {
        json.object { object in
            object.field("id", id)
            object.field("user", user)
            object.field("vms", vms)
            object.field("lease_seconds", leaseSeconds)
            object.field("lease_expires_at", leaseExpiresAt.map(RFC3339.Time.init))
            object.field("created_at", RFC3339.Time(createdAt))
        }
    }
}

/// A user's quotas per size: `{"large": 1}`, `{}` when none.
struct SizeQuotas: JSONValue {
    let quotas: [String: Int]

    func write(to json: inout JSONWriter) {
        json.object { object in
            for (size, quota) in quotas.sorted(by: { $0.key < $1.key }) { object.field(named: size, quota) }
        }
    }
}

/// `GET /v1/vms/{vm_id}/status`: `{"vm_id", "status"}`.
struct VMStatusRepresentation: JSONValue {
    let vm: VM

    func write(to json: inout JSONWriter) {
        json.object { object in
            object.field("vm_id", vm.id)
            object.field("status", vm.status.rawValue)
        }
    }
}

/// A user; `token` only in the answers that issue one, `vms` only when reading one user.
struct UserRepresentation: JSONValue {
    let user: User
    var token: String?
    var vms: [VM]?

    func write(to json: inout JSONWriter) {
        json.object { object in
            object.field("name", user.name)
            object.field("role", user.role.rawValue)
            object.field("quota", user.quota)
            object.field("held", user.held)
            object.field("max_lease_seconds", user.maxLeaseSeconds)
            object.field("size_quotas", SizeQuotas(quotas: user.sizeQuotas))
            object.field("created_at", RFC3339.Time(user.createdAt))
            if let token { object.field("token", token) }
            if let vms { object.field("vms", vms) }
        }
    }
}

/// `GET/PUT /v1/admin/pool`: `{"max_vm_count", "total", "counts": {status: n}, "ip_pool", "ip_pool_free"}`.
extension PoolStats: JSONValue {
    func write(to json: inout JSONWriter) {
        json.object { pool in
            pool.field("max_vm_count", maxVMCount)
            pool.field("total", total)
            pool.field("counts", StatusCounts(counts: counts))
            pool.field("ip_pool", ipPool)
            pool.field("ip_pool_free", ipPoolFree)
        }
    }

    private struct StatusCounts: JSONValue {
        let counts: [VMStatus: Int]

        func write(to json: inout JSONWriter) {
            json.object { object in
                for status in VMStatus.allCases { object.field(named: status.rawValue, counts[status] ?? 0) }
            }
        }
    }
}

/// An event of the history: every field present, `null` when it does not apply.
extension Event: JSONValue {
    func write(to json: inout JSONWriter) {
        json.object { event in
            event.field("id", id)
            event.field("at", RFC3339.Time(at))
            event.field("action", action)
            event.field("actor", actor)
            event.field("vm_id", vmID)
            event.field("ip", ip)
            event.field("user", user)
            event.field("status", status)
            event.field("detail", detail)
            event.field("reservation_id", reservationID)
        }
    }
}

/// `GET /v1/admin/events`, `GET /v1/vms/mine/history`: `{"items", "next_cursor"}`.
extension EventPage: JSONValue {
    func write(to json: inout JSONWriter) {
        json.object { page in
            page.field("items", items)
            page.field("next_cursor", nextCursor)
        }
    }
}

/// `GET /v1/admin/vms`: `{"items", "next_cursor"}`, `next_cursor` null on the last page.
extension VMPage: JSONValue {
    func write(to json: inout JSONWriter) {
        json.object { page in
            page.field("items", items)
            page.field("next_cursor", nextCursor)
        }
    }
}
