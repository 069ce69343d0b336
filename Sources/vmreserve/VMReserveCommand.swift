import ArgumentParser

/// `vmreserve`: the reservation service's one executable.
@main
struct VMReserveCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vmreserve",
        abstract: "A multi-tenant VM reservation service on Redis: the server, and its command-line client.",
        discussion: """
            Exit codes of the client commands: 0 done; 1 refused for another reason (the message says why); 3 not signed in, \
            an unknown token, or not allowed; 4 no VM available; 5 quota reached; 6 no such VM, user or pool; \
            7 the server (or its Redis) cannot be reached; 64 a usage error. `vmreserve with` exits with its command's status.
            """,
        subcommands: [ServeCommand.self, LoginCommand.self, CheckoutCommand.self, CheckinCommand.self, RenewCommand.self,
                      ListCommand.self, WithCommand.self, AdminCommand.self, LuaLibraryCommand.self, MovePoolCommand.self]
    )
}
