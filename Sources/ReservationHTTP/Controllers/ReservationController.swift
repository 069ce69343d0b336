import Hummingbird
import Reservations

/// A user's reservations: several VMs checked out as one, all or none, renewed and returned
/// together (docs/API.md, "Reservations").
struct ReservationController {
    let waits: QueueWaits

    func addRoutes(to group: RouterGroup<AuthenticatedRequestContext>) {
        group.post("reservations") { request, context in
            let wait = try waits.asked(by: request)
            let body = try await RequestDecoding.body(ReservationBody.self, from: request, context: context, required: true)
            guard let body else { throw APIError.badRequest("Give the VMs to reserve: {\"count\": N} or {\"vms\": [...]}") }
            var groups: [ReservationGroup] = []
            for group in body.groups {
                let count = try checked(group.count, "count", in: 1...Limits.reservationVMs) ?? 0
                groups.append(ReservationGroup(size: try group.size.map(Limits.checkSize), count: count))
            }
            guard groups.map(\.count).reduce(0, +) <= Limits.reservationVMs else {
                throw APIError.badRequest("A reservation holds at most \(Limits.reservationVMs) VMs")
            }
            let lease = try checked(body.leaseSeconds, "lease_seconds", in: Limits.leaseSeconds)
            let key = try RequestDecoding.idempotencyKey(request)
            guard let wait else {
                let reservation = try await context.store.reserve(context.caller, groups: groups, leaseSeconds: lease, idempotencyKey: key)
                return EnvelopeResponse.success(reservation, status: .created)
            }
            return try await waitingReservation(context, groups: groups, leaseSeconds: lease, idempotencyKey: key, wait: wait)
        }
        group.get("reservations/mine") { request, context in
            _ = try RequestDecoding.query(request, allowed: [])
            return try EnvelopeResponse.success(await context.store.myReservations(context.caller))
        }
        group.get("reservations/{id}") { request, context in
            _ = try RequestDecoding.query(request, allowed: [])
            return try EnvelopeResponse.success(await context.store.reservation(context.caller, id: try Self.id(context)))
        }
        group.post("reservations/{id}/renew") { request, context in
            _ = try RequestDecoding.query(request, allowed: [])
            let body = try await RequestDecoding.body(LeaseBody.self, from: request, context: context, required: false)
            let lease = try checked(body?.leaseSeconds, "lease_seconds", in: Limits.leaseSeconds)
            return try EnvelopeResponse.success(await context.store.renewReservation(context.caller, id: try Self.id(context),
                                                                                    leaseSeconds: lease))
        }
        group.delete("reservations/{id}") { request, context in
            _ = try RequestDecoding.query(request, allowed: [])
            return try EnvelopeResponse.success(await context.store.returnReservation(context.caller, id: try Self.id(context)))
        }
    }

    /// `POST /v1/reservations?wait=N`: the reservation at once if enough VMs are free; else waits
    /// in the queue that all gateways share, with waiting checkouts, first come first served: VMs
    /// are set aside for it as they free up, and it gets them all in one step (docs/API.md).
    private func waitingReservation(
        _ context: AuthenticatedRequestContext, groups: [ReservationGroup], leaseSeconds lease: Int?, idempotencyKey key: String?,
        wait: Duration
    ) async throws -> Response {
        let (caller, store) = (context.caller, context.store)
        let reservation = try await waits.answer(waiting: wait, idempotencyKey: key, holdsClaim: true, context: context) { ticket in
            try await store.waitReserve(caller, groups: groups, leaseSeconds: lease, wait: wait, gateway: context.pool.room.gatewayID,
                                        ticket: ticket, claim: waits.claim, idempotencyKey: key)
        } take: { ticket in
            try await store.claimReservation(caller, ticket: ticket, leaseSeconds: lease, idempotencyKey: key)
        }
        return EnvelopeResponse.success(reservation, status: .created)
    }

    /// The path's reservation id: the ids the gateway makes are UUIDs; any other is not one.
    private static func id(_ context: AuthenticatedRequestContext) throws -> String {
        let id = try context.parameters.require("id")
        guard id.utf8.count <= 64, id.utf8.allSatisfy({ $0 == UInt8(ascii: "-") || ($0 >= 48 && $0 <= 57) || ($0 >= 97 && $0 <= 102) })
        else { throw APIError(.reservationNotFound) }
        return id
    }
}
