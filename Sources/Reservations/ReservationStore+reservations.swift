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
        let spec = groups.map { "\($0.size ?? ""):\($0.count)" }.joined(separator: ",")
        let reply = try await run(.reserve, caller, [String(defaultQuota)] + leaseArguments(leaseSeconds) + [spec]
                                  + idempotencyArguments(idempotencyKey) + [UUID().uuidString.lowercased()])
        return try RecordDecoding.reservation(reply)
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
