import Foundation
import Hummingbird
import NIOCore
import Reservations

/// The routes of any user: check out, renew a lease, check in, and read the VMs one holds.
struct VMController {
    let waits: QueueWaits

    func addRoutes(to group: RouterGroup<AuthenticatedRequestContext>) {
        group.post("checkouts") { request, context in
            let wait = try waits.asked(by: request)
            let body = try await RequestDecoding.body(CheckoutBody.self, from: request, context: context, required: false)
            let size = try body?.size.map(Limits.checkSize)
            let key = try RequestDecoding.idempotencyKey(request)
            guard let wait else {
                return try await checkout(context, leaseSeconds: body?.leaseSeconds, size: size, idempotencyKey: key)
            }
            return try await waitingCheckout(context, leaseSeconds: body?.leaseSeconds, size: size, idempotencyKey: key, wait: wait)
        }
        group.post("checkouts/{vm_id}/renew") { request, context in
            _ = try RequestDecoding.query(request, allowed: [])
            let id = try RequestDecoding.vmID(context.parameters.require("vm_id"))
            let body = try await RequestDecoding.body(LeaseBody.self, from: request, context: context, required: false)
            let lease = try checked(body?.leaseSeconds, "lease_seconds", in: Limits.leaseSeconds)
            return try EnvelopeResponse.success(await context.store.renew(context.caller, id: id, leaseSeconds: lease))
        }
        group.post("checkins") { request, context in
            _ = try RequestDecoding.query(request, allowed: [])
            let body = try await RequestDecoding.body(CheckinBody.self, from: request, context: context, required: true)
            return try await checkin(context, vmID: body?.vmID, ip: body?.ip)
        }
        group.get("vms/mine") { request, context in
            _ = try RequestDecoding.query(request, allowed: [])
            return try EnvelopeResponse.success(await context.store.myVMs(context.caller))
        }
        group.get("vms/{vm_id}") { request, context in
            _ = try RequestDecoding.query(request, allowed: [])
            return try await vm(context, id: context.parameters.require("vm_id"))
        }
        group.get("vms/{vm_id}/status") { request, context in
            _ = try RequestDecoding.query(request, allowed: [])
            return try await status(context, id: context.parameters.require("vm_id"))
        }
    }

    /// `POST /v1/checkouts`: 201 with the VM, 429 at quota (checked first), 503 when none is free;
    /// with an `Idempotency-Key` used before, the first answer again.
    func checkout(_ context: AuthenticatedRequestContext, leaseSeconds: Int?, size: String? = nil, idempotencyKey: String? = nil) async throws -> Response {
        let lease = try checked(leaseSeconds, "lease_seconds", in: Limits.leaseSeconds)
        let vm = try await context.store.checkout(context.caller, leaseSeconds: lease, size: size, idempotencyKey: idempotencyKey)
        return EnvelopeResponse.success(vm, status: .created)
    }

    /// `POST /v1/checkouts?wait=N`: a VM at once if one is free; else waits in the queue that all
    /// gateways share, first come first served, for at most N seconds (at most the gateway's
    /// longest), then answers as a checkout without waiting would: 503 with Retry-After. A client
    /// that goes away leaves the queue, and a VM already handed to it goes back to the pool.
    func waitingCheckout(
        _ context: AuthenticatedRequestContext, leaseSeconds: Int?, size: String?, idempotencyKey key: String?, wait: Duration
    ) async throws -> Response {
        let (caller, store) = (context.caller, context.store)
        let lease = try checked(leaseSeconds, "lease_seconds", in: Limits.leaseSeconds)
        let vm = try await waits.answer(waiting: wait, idempotencyKey: key, holdsClaim: false, context: context) { ticket in
            try await store.waitCheckout(caller, leaseSeconds: lease, wait: wait, gateway: context.pool.room.gatewayID,
                                         ticket: ticket, size: size, idempotencyKey: key)
        } take: { ticket in
            try await store.claim(caller, ticket: ticket, leaseSeconds: lease, idempotencyKey: key)
        }
        return EnvelopeResponse.success(vm, status: .created)
    }

    /// `POST /v1/checkins`: by ip, vm_id or both; 403 for a VM the caller does not hold.
    func checkin(_ context: AuthenticatedRequestContext, vmID: String?, ip: String?) async throws -> Response {
        guard vmID != nil || ip != nil else { throw APIError.badRequest("Give ip, vm_id or both") }
        let id = try vmID.map(RequestDecoding.vmID)
        let address = try ip.map(RequestDecoding.ip)
        return EnvelopeResponse.success(try await context.store.checkin(context.caller, id: id, ip: address))
    }

    /// `GET /v1/vms/{vm_id}`: the holder's or an admin's; 404 for anyone else.
    func vm(_ context: AuthenticatedRequestContext, id: String) async throws -> Response {
        try EnvelopeResponse.success(await context.store.vm(context.caller, id: try RequestDecoding.vmID(id)))
    }

    /// `GET /v1/vms/{vm_id}/status`: `{"vm_id", "status"}`.
    func status(_ context: AuthenticatedRequestContext, id: String) async throws -> Response {
        EnvelopeResponse.success(VMStatusRepresentation(vm: try await context.store.vm(context.caller, id: try RequestDecoding.vmID(id))))
    }
}
