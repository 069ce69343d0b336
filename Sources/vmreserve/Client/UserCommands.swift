import ArgumentParser
import Foundation
import VMReserveClient

/// `vmreserve login`: stores the server and a token for the other client commands.
struct LoginCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "login",
        abstract: "Store a gateway's URL and your token (read from standard input, or asked for) for the other commands.",
        discussion: "The settings go to $XDG_CONFIG_HOME/vmreserve/config.json (else ~/.config/vmreserve/config.json), readable by you only. VMRESERVE_SERVER and VMRESERVE_TOKEN override them."
    )

    @Option(help: "The gateway's URL, e.g. http://vmreserve:5000.")
    var server: String
    @Option(help: "The pool to use, on a gateway that serves several.")
    var pool: String?
    @OptionGroup var transport: TransportOptions

    func run() async throws {
        guard let line = Terminal.readSecret(prompt: "Token for \(server): "),
              case let token = line.trimmingCharacters(in: .whitespaces), !token.isEmpty else {
            throw ValidationError("give the token on standard input")
        }
        // (the CA file stored by its absolute path: later commands run from anywhere)
        let settings = ClientSettings(server: server, token: token, pool: pool,
                                      cacert: transport.cacert.map { URL(fileURLWithPath: $0).standardizedFileURL.path },
                                      allowInsecureHTTP: transport.allowInsecureHTTP ? true : nil)
        _ = try await settings.run { client in try await client.call(.mine) }  // the token works
        try settings.store()
        Terminal.error("Signed in to \(server)\(pool.map { ", pool \($0)" } ?? ""); settings in \(ClientSettings.file().path)")
    }
}

/// `vmreserve checkout [-n N]`: prints just the IP, so that `ssh $(vmreserve checkout --wait 60)`
/// works; with `-n`, a reservation's IPs, one a line.
struct CheckoutCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "checkout",
        abstract: "Check out a VM (with -n, several as one reservation) and print its IP address (their addresses, one a line).",
        discussion: "With --json: the VM, or the reservation. `vmreserve checkin` gives either back."
    )

    @OptionGroup var client: ClientOptions
    @OptionGroup var checkout: CheckoutOptions
    @OptionGroup var output: OutputOptions

    func run() async throws {
        try await client.run { api in
            output.print(try await api.checkOut(checkout)) { held in held.vms.map { $0.ip ?? "" }.joined(separator: "\n") }
        }
    }
}

/// `vmreserve checkin IP|VM_ID|RESERVATION`.
struct CheckinCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "checkin",
                                                    abstract: "Check in a VM you hold, or every VM of a reservation of yours.")

    @OptionGroup var client: ClientOptions
    @Argument(help: heldArgumentHelp) var target: VMReference
    @OptionGroup var output: OutputOptions

    func run() async throws {
        try await client.run { api in
            switch try await api.held(target) {
            case .vm(let name): output.printJSONIfAsked(try await api.answer(.checkIn(name)))
            case .reservation(let id): output.printJSONIfAsked(try await api.answer(.returnReservation(id)))
            }
        }
    }
}

/// `vmreserve renew IP|VM_ID|RESERVATION [--lease D]`.
struct RenewCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "renew",
        abstract: "Extend the lease of a VM you hold (of every VM of a reservation of yours), and print when it ends."
    )

    @OptionGroup var client: ClientOptions
    @Argument(help: heldArgumentHelp) var target: VMReference
    @Option(help: ArgumentHelp("The new lease, from now: 90s, 15m, 2h, 7d or seconds (default: the lease's own length).",
                               valueName: "duration"))
    var lease: LeaseDuration?
    @OptionGroup var output: OutputOptions

    func run() async throws {
        try await client.run { api in
            switch try await api.held(target) {
            case .vm(let name):
                output.print(try await api.answer(.renew(try await api.vmID(name), leaseSeconds: lease?.seconds))) { vm in
                    leasedUntil(vm.ip ?? "", vm.leaseExpiresAt)
                }
            case .reservation(let id):
                output.print(try await api.answer(.renewReservation(id, leaseSeconds: lease?.seconds))) { reservation in
                    leasedUntil("\(reservation.id) (\(reservation.vms.count) VMs)", reservation.leaseExpiresAt)
                }
            }
        }
    }

    /// `what leased until TIME (LEFT left)`.
    private func leasedUntil(_ what: String, _ end: Date?) -> String {
        "\(what) leased until \(end.map(rfc3339) ?? "-") (\(timeLeft(until: end)) left)"
    }
}

/// The argument of `checkin` and `renew`.
private let heldArgumentHelp = ArgumentHelp(
    "The VM's IP address or id, or the id of a reservation of yours (or the start of it that `ls` shows).",
    valueName: "ip-or-id")

/// `vmreserve ls`: the VMs you hold.
struct ListCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ls", abstract: "List the VMs you hold, and the reservation each belongs to.",
        discussion: "RESERVATION is the start of the reservation's id that no other of yours shares (- for a VM checked out alone).")

    @OptionGroup var client: ClientOptions
    @OptionGroup var output: OutputOptions

    func run() async throws {
        try await client.run { api in
            output.print(try await api.answer(.mine)) { vms in
                let reservations = shortForms(of: Set(vms.compactMap(\.reservationID)))
                return alignedTable([["IP", "ID", "RESERVATION", "STATUS", "LEASE LEFT"]] + vms.map { vm in
                    [vm.ip ?? "-", vm.id, vm.reservationID.flatMap { reservations[$0] } ?? "-", vm.status.rawValue,
                     timeLeft(until: vm.leaseExpiresAt)]
                })
            }
        }
    }
}

/// `vmreserve reservations`: the reservations you hold.
struct ReservationsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reservations", abstract: "List your reservations (VMs checked out together with checkout -n), oldest first.")

    @OptionGroup var client: ClientOptions
    @OptionGroup var output: OutputOptions

    func run() async throws {
        try await client.run { api in
            output.print(try await api.answer(.myReservations)) { reservations in
                alignedTable([["ID", "VMS", "LEASE LEFT", "IPS"]] + reservations.map { reservation in
                    [reservation.id, "\(reservation.vms.count)", timeLeft(until: reservation.leaseExpiresAt),
                     reservation.vms.map { $0.ip ?? "-" }.joined(separator: " ")]
                })
            }
        }
    }
}
