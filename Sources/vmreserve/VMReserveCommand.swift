import ArgumentParser
import Foundation

/// `vmreserve`: the reservation service's one executable.
@main
struct VMReserveCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vmreserve",
        abstract: "A multi-tenant VM reservation service on Redis: the server, and its command-line client.",
        discussion: """
            Exit codes of the client commands: 0 done; 1 refused for another reason (the message says why); 3 not signed in, \
            an unknown token, or not allowed; 4 no VM available; 5 quota reached; 6 no such VM, reservation, user or pool; \
            7 the server (or its Redis) cannot be reached; 64 a usage error. `vmreserve with` exits with its command's status.
            """,
        subcommands: [ServeCommand.self, LoginCommand.self, CheckoutCommand.self, CheckinCommand.self, RenewCommand.self,
                      ListCommand.self, ReservationsCommand.self, WithCommand.self, AdminCommand.self, LuaLibraryCommand.self,
                      MovePoolCommand.self]
    )
}

extension VMReserveCommand {
    /// ArgumentParser's own `main`, with `serve`'s environment variables given to it as flags
    /// (`ServeEnvironment`); an error about such a flag also names its variable.
    static func main() async {
        var arguments = Array(CommandLine.arguments.dropFirst())
        var fromEnvironment: [String: String] = [:]
        do {
            if arguments.first == "serve" {
                (arguments, fromEnvironment) = try ServeEnvironment.adding(to: arguments, from: ProcessInfo.processInfo.environment)
            }
            var command = try parseAsRoot(arguments)
            if var command = command as? any AsyncParsableCommand {
                try await command.run()
            } else {
                try command.run()
            }
        } catch {
            let message = fullMessage(for: error)
            for (flag, variable) in fromEnvironment.sorted(by: { $0.key < $1.key }) where message.contains("--\(flag)") {
                FileHandle.standardError.write(Data("(--\(flag) is from \(variable))\n".utf8))
            }
            exit(withError: error)
        }
    }
}
