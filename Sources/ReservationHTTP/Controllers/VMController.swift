import Hummingbird
import Reservations

/// The routes of any user: check out, renew a lease, check in, and read the VMs one holds.
struct VMController {
    let store: ReservationStore

    func addRoutes(to group: RouterGroup<AuthenticatedRequestContext>) {
        group.post("checkouts") { request, context in
            let body = try await RequestDecoding.body(LeaseBody.self, from: request, context: context, required: false)
            return try await checkout(context.caller, leaseSeconds: body?.leaseSeconds)
        }
        group.post("checkouts/{vm_id}/renew") { request, context in
            let id = try RequestDecoding.vmID(context.parameters.require("vm_id"))
            let body = try await RequestDecoding.body(LeaseBody.self, from: request, context: context, required: false)
            let lease = try checked(body?.leaseSeconds, "lease_seconds", in: Limits.leaseSeconds)
            return try EnvelopeResponse.success(await store.renew(context.caller, id: id, leaseSeconds: lease))
        }
        group.post("checkins") { request, context in
            let body = try await RequestDecoding.body(CheckinBody.self, from: request, context: context, required: true)
            return try await checkin(context.caller, vmID: body?.vmID, ip: body?.ip)
        }
        group.get("vms/mine") { _, context in
            try EnvelopeResponse.success(await store.myVMs(context.caller))
        }
        group.get("vms/{vm_id}") { _, context in
            try await vm(context.caller, id: context.parameters.require("vm_id"))
        }
        group.get("vms/{vm_id}/status") { _, context in
            try await status(context.caller, id: context.parameters.require("vm_id"))
        }
    }

    /// `POST /v1/checkouts`: 201 with the VM, 429 at quota (checked first), 503 when none is free.
    func checkout(_ caller: Caller, leaseSeconds: Int?) async throws -> Response {
        let lease = try checked(leaseSeconds, "lease_seconds", in: Limits.leaseSeconds)
        return EnvelopeResponse.success(try await store.checkout(caller, leaseSeconds: lease), status: .created)
    }

    /// `POST /v1/checkins`: by ip, vm_id or both; 403 for a VM the caller does not hold.
    func checkin(_ caller: Caller, vmID: String?, ip: String?) async throws -> Response {
        guard vmID != nil || ip != nil else { throw APIError.badRequest("Give ip, vm_id or both") }
        let id = try vmID.map(RequestDecoding.vmID)
        let address = try ip.map(RequestDecoding.ip)
        return EnvelopeResponse.success(try await store.checkin(caller, id: id, ip: address))
    }

    /// `GET /v1/vms/{vm_id}`: the holder's or an admin's; 404 for anyone else.
    func vm(_ caller: Caller, id: String) async throws -> Response {
        try EnvelopeResponse.success(await store.vm(caller, id: try RequestDecoding.vmID(id)))
    }

    /// `GET /v1/vms/{vm_id}/status`: `{"vm_id", "status"}`.
    func status(_ caller: Caller, id: String) async throws -> Response {
        EnvelopeResponse.success(VMStatusRepresentation(vm: try await store.vm(caller, id: try RequestDecoding.vmID(id))))
    }
}
