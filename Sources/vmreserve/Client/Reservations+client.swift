import Foundation
import VMReserveClient

/// The user operations the client commands share, on top of the client library's calls.
extension VMReserveClient {
    /// Checks a VM out; with `--wait` seconds, waits for one as long as that (asking again when
    /// the server's own `--max-wait` is shorter), with a spinner on a terminal. Every ask carries
    /// the same Idempotency-Key, so an answer lost on the way (asked again up to 3 times) never
    /// costs a second VM.
    func checkOut(_ options: CheckoutOptions) async throws(VMReserveError) -> Answer<VM> {
        let key = UUID().uuidString
        let deadline = ContinuousClock.now + .seconds(options.wait)
        let spinner = options.wait > 0 ? WaitSpinner("waiting for a VM") : nil
        var lost = 0  // answers lost on the way, each asked again
        while true {
            let left = Int((deadline - ContinuousClock.now).components.seconds)
            let asked = ContinuousClock.now
            do {
                let vm = try await answer(.checkOut(leaseSeconds: options.lease?.seconds, size: options.size, wait: min(max(left, 0), 3600),
                                                    idempotencyKey: key))
                await spinner?.stop()
                return vm
            } catch where (error.code == .noVMAvailable || error.code == .idempotencyKeyInUse) && ContinuousClock.now < deadline {
                // the server waited as long as it would; ask again (at most once a second)
                try? await Task.sleep(until: asked + .seconds(1))
            } catch where error.kind == .answerLost && lost < 3 {
                // the server may have checked a VM out for this ask: the same key gets it
                lost += 1
                try? await Task.sleep(for: .seconds(1))
            } catch {
                await spinner?.stop()
                throw error
            }
        }
    }

    /// The id of the VM `reference` names among those the caller holds (an id is taken as given).
    func vmID(_ reference: VMReference) async throws -> String {
        switch reference {
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
