import Foundation

/// Reservations: several VMs checked out as one, all or none (lua/reserve.lua and its siblings).
extension ReservationStore {
    /// Checks out every VM `groups` asks for to the caller as one reservation, with one lease, or
    /// none; with an `Idempotency-Key` used before, the first answer again.
    /// - Throws: `.quotaExceeded` (the whole group counted, checked first), `.noVMAvailable`
    ///   (nothing taken), `.invalidState` (more VMs than the cap can ever hold), `.badRequest`.
    public func reserve(
        _ caller: Caller, groups: [ReservationGroup], leaseSeconds: Int?, idempotencyKey: String? = nil
    ) async throws(ReservationError) -> Reservation {
        let reply = try await run(.reserve, caller, reserveArguments(groups, leaseSeconds, idempotencyKey))
        guard case .answered(let reservation) = try Self.waitStart(reply, answer: "reservation", RecordDecoding.reservation) else {
            throw RecordDecoding.malformed(reply)
        }
        return reservation
    }

    /// As `reserve`, but when too few VMs are available the caller joins the queue of waiters
    /// (ticket `ticket`, for at most `wait`), in arrival order with waiting checkouts: VMs are set
    /// aside for it as they free up, and once it has them all, the reservation is handed to
    /// gateway `gateway`'s `WaitingRoom` (claim it with `claimReservation`). The gateway holds its
    /// claim on the wait with `holdWait` every third of `claim`; a wait whose claim runs out ends,
    /// and its set-aside VMs go back.
    public func waitReserve(
        _ caller: Caller, groups: [ReservationGroup], leaseSeconds: Int?, wait: Duration, gateway: String, ticket: String,
        claim: Duration, idempotencyKey: String? = nil
    ) async throws(ReservationError) -> WaitStart<Reservation> {
        let arguments = reserveArguments(groups, leaseSeconds, idempotencyKey)
            + [String(Self.milliseconds(wait)), gateway, ticket, String(Self.milliseconds(claim))]
        return try Self.waitStart(try await run(.reserve, caller, arguments), answer: "reservation", RecordDecoding.reservation)
    }

    private func reserveArguments(_ groups: [ReservationGroup], _ leaseSeconds: Int?, _ idempotencyKey: String?) -> [String] {
        let spec = groups.map { "\($0.size ?? ""):\($0.count)" }.joined(separator: ",")
        return [String(defaultQuota)] + leaseArguments(leaseSeconds) + [spec] + idempotencyArguments(idempotencyKey)
            + [UUID().uuidString.lowercased()]
    }

    /// Takes the reservation handed to waiting `ticket`, with the lease the request asked for.
    public func claimReservation(
        _ caller: Caller, ticket: String, leaseSeconds: Int?, idempotencyKey: String? = nil
    ) async throws(ReservationError) -> Reservation {
        try RecordDecoding.reservation(try await run(.claimReservation, caller, [ticket] + leaseArguments(leaseSeconds)
                                                     + idempotencyArguments(idempotencyKey)))
    }

    /// How a waiting request stands when its gateway holds its claim.
    public enum WaitHold: String, Sendable {
        /// Still waiting; its claim renewed.
        case waiting
        /// Handed what it waited for: claim it.
        case handed
        /// Its wait is over (its claim ran out).
        case gone
    }

    /// Renews this gateway's claim on waiting `ticket` to `claim` from now.
    public func holdWait(_ caller: Caller, ticket: String, claim: Duration) async throws(ReservationError) -> WaitHold {
        let reply = try await run(.holdWait, caller, [ticket, String(Self.milliseconds(claim))])
        guard let hold = reply.string.flatMap(WaitHold.init(rawValue:)) else { throw RecordDecoding.malformed(reply) }
        return hold
    }

    /// One reservation: the caller's, or any for an admin (`.reservationNotFound` otherwise).
    public func reservation(_ caller: Caller, id: String) async throws(ReservationError) -> Reservation {
        try RecordDecoding.reservation(try await run(.getReservation, caller, [id]))
    }

    /// The caller's reservations, oldest first.
    public func myReservations(_ caller: Caller) async throws(ReservationError) -> [Reservation] {
        var list: [Reservation] = []
        for reply in try RecordDecoding.array(try await run(.listReservations, caller, [])) {
            list.append(try RecordDecoding.reservation(reply))
        }
        return list
    }

    /// Renews the lease of every VM of the caller's reservation `id`, to one end.
    public func renewReservation(_ caller: Caller, id: String, leaseSeconds: Int?) async throws(ReservationError) -> Reservation {
        try RecordDecoding.reservation(try await run(.renewReservation, caller, [id] + leaseArguments(leaseSeconds)))
    }

    /// Checks in every VM of reservation `id` (the caller's, or any for an admin), which ends it.
    public func returnReservation(_ caller: Caller, id: String) async throws(ReservationError) -> Reservation {
        try RecordDecoding.reservation(try await run(.returnReservation, caller, [id]))
    }
}
