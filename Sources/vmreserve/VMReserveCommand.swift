import ArgumentParser

/// `vmreserve`: the reservation service's one executable.
@main
struct VMReserveCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vmreserve",
        abstract: "A multi-tenant VM reservation service on Redis.",
        subcommands: [ServeCommand.self, LuaLibraryCommand.self, MovePoolCommand.self]
    )
}
