import ArgumentParser
import Foundation
import Reservations

/// `vmreserve lua-library`: prints the Redis Functions library the gateway loads, to read it,
/// load it by hand (`redis-cli -x FUNCTION LOAD < file`) or measure it (bench/).
struct LuaLibraryCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lua-library",
        abstract: "Print the Redis Functions library of vmreserve's Lua scripts.",
        discussion: "Its first line names the library; each script is the function <library>_<script>."
    )

    @Option(help: "Build it from the .lua files of this folder instead of the ones built into the binary.")
    var from: String?

    func run() throws {
        let library = try from.map { try Script.library(from: URL(fileURLWithPath: $0)) } ?? Script.library
        print(library.source, terminator: "")
    }
}
