import ArgumentParser
import Foundation

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

    func run() async throws {
        guard let line = Terminal.readSecret(prompt: "Token for \(server): "),
              case let token = line.trimmingCharacters(in: .whitespaces), !token.isEmpty else {
            throw ValidationError("give the token on standard input")
        }
        let settings = ClientSettings(server: server, token: token, pool: pool)
        do {
            try await APIClient.with(settings) { client in
                _ = try await client.call(.GET, "/v1/vms/mine")  // the token works
            }
        } catch let failure as ClientFailure {
            throw failure.exit()
        }
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
            let vm = try await api.checkOut(checkout)
            print(output.json ? jsonText(vm) : vm["ip"] as? String ?? "")
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
            let checkedIn = try await api.checkIn(vm)
            output.printJSONIfAsked(checkedIn)
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
            let renewed = try await api.renew(try await api.vmID(vm), lease: lease)
            if output.json {
                print(jsonText(renewed))
            } else {
                print("\(renewed["ip"] as? String ?? "") leased until \(renewed["lease_expires_at"] as? String ?? "-") "
                      + "(\(timeLeft(until: renewed["lease_expires_at"])) left)")
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
            let vms = try await api.mine()
            if output.json {
                print(jsonText(vms))
                return
            }
            print(alignedTable([["IP", "ID", "STATUS", "LEASE LEFT"]] + vms.map { vm in
                [vm["ip"] as? String ?? "-", vm["vm_id"] as? String ?? "", vm["status"] as? String ?? "",
                 timeLeft(until: vm["lease_expires_at"])]
            }))
        }
    }
}
