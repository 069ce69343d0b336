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

/// `vmreserve checkout`: prints just the IP, so that `ssh $(vmreserve checkout --wait 60)` works.
struct CheckoutCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "checkout",
        abstract: "Check out a VM and print its IP address."
    )

    @OptionGroup var client: ClientOptions
    @OptionGroup var checkout: CheckoutOptions
    @OptionGroup var output: OutputOptions

    func run() async throws {
        try await client.run { api in
            output.print(try await api.checkOut(checkout)) { $0.ip ?? "" }
        }
    }
}

/// `vmreserve checkin IP|VM_ID`.
struct CheckinCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "checkin", abstract: "Check in a VM you hold.")

    @OptionGroup var client: ClientOptions
    @Argument(help: ArgumentHelp("The VM's IP address or id.", valueName: "ip-or-vm-id"))
    var vm: VMReference
    @OptionGroup var output: OutputOptions

    func run() async throws {
        try await client.run { api in
            output.printJSONIfAsked(try await api.answer(.checkIn(vm.name)))
        }
    }
}

/// `vmreserve renew IP|VM_ID [--lease D]`.
struct RenewCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "renew",
        abstract: "Extend the lease of a VM you hold, and print when it ends."
    )

    @OptionGroup var client: ClientOptions
    @Argument(help: ArgumentHelp("The VM's IP address or id.", valueName: "ip-or-vm-id"))
    var vm: VMReference
    @Option(help: ArgumentHelp("The new lease, from now: 90s, 15m, 2h, 7d or seconds (default: the lease's own length).",
                               valueName: "duration"))
    var lease: LeaseDuration?
    @OptionGroup var output: OutputOptions

    func run() async throws {
        try await client.run { api in
            let renewed = try await api.answer(.renew(try await api.vmID(vm), leaseSeconds: lease?.seconds))
            output.print(renewed) { vm in
                "\(vm.ip ?? "") leased until \(vm.leaseExpiresAt.map(rfc3339) ?? "-") (\(timeLeft(until: vm.leaseExpiresAt)) left)"
            }
        }
    }
}

/// `vmreserve ls`: the VMs you hold.
struct ListCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "ls", abstract: "List the VMs you hold.")

    @OptionGroup var client: ClientOptions
    @OptionGroup var output: OutputOptions

    func run() async throws {
        try await client.run { api in
            output.print(try await api.answer(.mine)) { vms in
                alignedTable([["IP", "ID", "STATUS", "LEASE LEFT"]] + vms.map { vm in
                    [vm.ip ?? "-", vm.id, vm.status.rawValue, timeLeft(until: vm.leaseExpiresAt)]
                })
            }
        }
    }
}
