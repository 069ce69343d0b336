import Foundation
import VMReserveClient

/// What one checkout got the caller: a VM, or (`-n`) a reservation of several, all or none.
/// `checkout` prints it; `with` runs a command with it, renews it and gives it back.
enum Holding: Sendable {
    case vm(VM)
    case reservation(Reservation)

    /// Its VMs: the one, or the reservation's.
    var vms: [VM] {
        switch self {
        case .vm(let vm): [vm]
        case .reservation(let reservation): reservation.vms
        }
    }

    /// The length of its lease in seconds (from its checkout or last renewal to its end); nil
    /// without one.
    var leaseSeconds: Int? {
        switch self {
        case .vm(let vm):
            guard let end = vm.leaseExpiresAt, let start = vm.checkedOutAt else { return nil }
            return Int(end.timeIntervalSince(start).rounded())
        case .reservation(let reservation):
            return reservation.leaseSeconds
        }
    }

    /// What `with` tells its command: `VMRESERVE_IPS` (every IP, space-separated), `VMRESERVE_IP`
    /// and `VMRESERVE_VM_ID` (the first VM's), and `VMRESERVE_RESERVATION_ID` for a reservation.
    var environment: [String: String] {
        let first = vms.first
        var environment = ["VMRESERVE_IPS": vms.map { $0.ip ?? "" }.joined(separator: " "),
                           "VMRESERVE_IP": first?.ip ?? "", "VMRESERVE_VM_ID": first?.id ?? ""]
        if case .reservation(let reservation) = self { environment["VMRESERVE_RESERVATION_ID"] = reservation.id }
        return environment
    }

    /// Giving it back, as a message says it: `check in IP` (else the VM's id), or `return
    /// reservation ID`.
    var givingBack: String {
        switch self {
        case .vm(let vm): "check in \(vm.ip ?? vm.id)"
        case .reservation(let reservation): "return reservation \(reservation.id)"
        }
    }

    /// Extends its lease: `leaseSeconds` from now, else the lease's own length.
    func renew(_ api: VMReserveClient, leaseSeconds: Int?) async throws(VMReserveError) {
        switch self {
        case .vm(let vm): _ = try await api.call(.renew(vm.id, leaseSeconds: leaseSeconds))
        case .reservation(let reservation): _ = try await api.call(.renewReservation(reservation.id, leaseSeconds: leaseSeconds))
        }
    }

    /// Gives it back: checks the VM in, or returns the whole reservation.
    func giveBack(_ api: VMReserveClient) async throws(VMReserveError) {
        switch self {
        case .vm(let vm): _ = try await api.call(.checkIn(.id(vm.id)))
        case .reservation(let reservation): _ = try await api.call(.returnReservation(reservation.id))
        }
    }
}
