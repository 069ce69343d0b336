import Hummingbird
import Reservations

/// A user's reservations: several VMs checked out as one, all or none, renewed and returned
/// together (docs/API.md, "Reservations").
struct ReservationController {
    func addRoutes(to group: RouterGroup<AuthenticatedRequestContext>) {
        group.post("reservations") { request, context in
            _ = try RequestDecoding.query(request, allowed: [])
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
            let reservation = try await context.store.reserve(context.caller, groups: groups, leaseSeconds: lease,
                                                              idempotencyKey: try RequestDecoding.idempotencyKey(request))
            return EnvelopeResponse.success(reservation, status: .created)
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

    /// The path's reservation id: the ids the gateway makes are UUIDs; any other is not one.
    private static func id(_ context: AuthenticatedRequestContext) throws -> String {
        let id = try context.parameters.require("id")
        guard id.utf8.count <= 64, id.utf8.allSatisfy({ $0 == UInt8(ascii: "-") || ($0 >= 48 && $0 <= 57) || ($0 >= 97 && $0 <= 102) })
        else { throw APIError(.reservationNotFound) }
        return id
    }
}
