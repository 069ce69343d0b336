import Foundation

/// The user operations the client commands share.
extension APIClient {
    /// Checks a VM out; with `--wait` seconds, waits for one as long as that (asking again when
    /// the server's own `--max-wait` is shorter), with a spinner on a terminal. Every ask carries
    /// the same Idempotency-Key, so an answer lost on the way (asked again up to 3 times) never
    /// costs a second VM.
    func checkOut(_ options: CheckoutOptions) async throws(ClientFailure) -> [String: Any] {
        let wait = options.wait
        var body: [String: Any] = [:]
        if let lease = options.lease { body["lease_seconds"] = lease.seconds }
        if let size = options.size { body["size"] = size }
        let key = UUID().uuidString
        let deadline = ContinuousClock.now + .seconds(wait)
        let spinner = wait > 0 ? WaitSpinner("waiting for a VM") : nil
        var lost = 0  // answers lost on the way, each asked again
        while true {
            let left = Int((deadline - ContinuousClock.now).components.seconds)
            let asked = ContinuousClock.now
            do {
                let vm = try await call(.POST, "/v1/checkouts", query: left > 0 ? [("wait", String(min(left, 3600)))] : [],
                                        body: body, headers: [("Idempotency-Key", key)], timeout: .seconds(max(left, 0) + 60))
                await spinner?.stop()
                return vm as? [String: Any] ?? [:]
            } catch where (error.kind == .noneAvailable || error.code == "idempotency_key_in_use") && ContinuousClock.now < deadline {
                // the server waited as long as it would; ask again (at most once a second)
                try? await Task.sleep(until: asked + .seconds(1))
            } catch where error.code == "answer_lost" && lost < 3 {
                // the server may have checked a VM out for this ask: the same key gets it
                lost += 1
                try? await Task.sleep(for: .seconds(1))
            } catch {
                await spinner?.stop()
                throw error
            }
        }
    }

    /// The VMs the caller holds.
    func mine() async throws(ClientFailure) -> [[String: Any]] {
        try await call(.GET, "/v1/vms/mine") as? [[String: Any]] ?? []
    }

    /// The id of the VM `reference` names among those the caller holds (an id is taken as given).
    func vmID(_ reference: VMReference) async throws(ClientFailure) -> String {
        switch reference {
        case .id(let id):
            return id
        case .ip(let ip):
            guard let id = try await mine().first(where: { $0["ip"] as? String == ip })?["vm_id"] as? String else {
                throw ClientFailure(kind: .notFound, message: "you hold no VM with the address \(ip)")
            }
            return id
        }
    }

    /// Checks in the VM `reference` names.
    @discardableResult
    func checkIn(_ reference: VMReference) async throws(ClientFailure) -> Any {
        try await call(.POST, "/v1/checkins", body: reference.checkinBody)
    }

    /// Renews the lease of VM `id`: `lease`, else the lease's own length.
    func renew(_ id: String, lease: LeaseDuration?) async throws(ClientFailure) -> [String: Any] {
        try await call(.POST, "/v1/checkouts/\(Self.pathComponent(id))/renew",
                       body: lease.map { ["lease_seconds": $0.seconds] } ?? [:]) as? [String: Any] ?? [:]
    }
}
