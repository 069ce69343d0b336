import Foundation
import VMReserveClient

/// The user operations the client commands share, on top of the client library's calls.
extension VMReserveClient {
    /// Checks out what `options` ask for: a VM, or with `-n` a reservation of that many (of
    /// `--size`, else of any size), all of them or none. With `--wait` seconds, waits as long as
    /// that (asking again when the server's own `--max-wait` is shorter), with a spinner on a
    /// terminal. Every ask carries the same Idempotency-Key, so an answer lost on the way (asked
    /// again up to 3 times) never costs a second VM or reservation.
    func checkOut(_ options: CheckoutOptions) async throws(VMReserveError) -> Answer<Holding> {
        let lease = options.lease?.seconds, size = options.size
        guard let count = options.count else {
            return try await asking(options, for: "a VM") { wait, key in
                .checkOut(leaseSeconds: lease, size: size, wait: wait, idempotencyKey: key)
            }.map(Holding.vm)
        }
        return try await asking(options, for: count == 1 ? "a VM" : "\(count) VMs") { wait, key in
            .reserve(count: count, size: size, leaseSeconds: lease, wait: wait, idempotencyKey: key)
        }.map(Holding.reservation)
    }

    /// The answer to `endpoint(wait, idempotencyKey)`: asked again, with the same key and what
    /// is left of `--wait`, while the server's wait ended before it; asked again up to 3 times
    /// when the answer is lost on the way.
    private func asking<Value>(
        _ options: CheckoutOptions, for what: String, _ endpoint: (_ wait: Int, _ idempotencyKey: String) -> Endpoint<Value>
    ) async throws(VMReserveError) -> Answer<Value> {
        let key = UUID().uuidString
        let deadline = ContinuousClock.now + .seconds(options.wait)
        let spinner = options.wait > 0 ? WaitSpinner("waiting for \(what)") : nil
        var lost = 0  // answers lost on the way, each asked again
        while true {
            let left = Int((deadline - ContinuousClock.now).components.seconds)
            let asked = ContinuousClock.now
            do {
                let answered = try await answer(endpoint(min(max(left, 0), 3600), key))
                await spinner?.stop()
                return answered
            } catch where (error.code == .noVMAvailable || error.code == .idempotencyKeyInUse) && ContinuousClock.now < deadline {
                // the server waited as long as it would; ask again (at most once a second)
                try? await Task.sleep(until: asked + .seconds(1))
            } catch where error.kind == .answerLost && lost < 3 {
                // the server may have checked out for this ask: the same key gets it
                lost += 1
                try? await Task.sleep(for: .seconds(1))
            } catch {
                await spinner?.stop()
                throw error
            }
        }
    }

    /// What `reference` names among what the caller holds: a reservation of theirs, by its id or
    /// by a start of it that no other of theirs shares (as `ls` shows it); else a VM.
    func held(_ reference: VMReference) async throws -> HeldName {
        guard case .id(let text) = reference else { return .vm(reference.name) }
        let ids = try await call(.myReservations).map(\.id)
        if ids.contains(text) { return .reservation(id: text) }
        let matching = ids.filter { $0.hasPrefix(text) }
        guard matching.count < 2 else {
            throw ClientFailure(kind: .other, message: "\(text) starts \(matching.count) of your reservations' ids: give more of it")
        }
        return matching.first.map { .reservation(id: $0) } ?? .vm(reference.name)
    }

    /// The id of the VM `name` names among those the caller holds (an id is taken as given).
    func vmID(_ name: VMName) async throws -> String {
        switch name {
        case .id(let id):
            return id
        case .ip(let ip):
            guard let id = try await call(.mine).first(where: { $0.ip == ip })?.id else {
                throw ClientFailure(kind: .notFound, message: "you hold no VM with the address \(ip)")
            }
            return id
        }
    }
}

/// A VM, or a whole reservation, that a command line names (`VMReserveClient.held`).
enum HeldName {
    case vm(VMName)
    case reservation(id: String)
}
