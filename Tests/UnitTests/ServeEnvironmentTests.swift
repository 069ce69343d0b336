import Foundation
import Testing
import TestSupport
@testable import vmreserve

/// `serve`'s environment variables: one per flag by one rule, each read as its flag, README
/// naming every one.
@Suite struct ServeEnvironmentTests {
    static let readme = repositoryRoot.appending(path: "README.md")

    @Test func everyFlagOfServeHasAVariableThatREADMENames() throws {
        let flags = ServeEnvironment.flags
        #expect(flags.count >= 40, "\(flags.map(\.name))")
        #expect(flags.contains(ServeEnvironment.Flag(name: "redis-url", takesValue: true, repeats: false)))
        #expect(flags.contains(ServeEnvironment.Flag(name: "pool", takesValue: true, repeats: true)))
        #expect(flags.contains(ServeEnvironment.Flag(name: "dev", takesValue: false, repeats: false)))
        let readme = try String(contentsOf: Self.readme, encoding: .utf8)
        for flag in flags { #expect(readme.contains("`\(flag.variable)`"), "README does not name \(flag.variable)") }
        #expect(ServeEnvironment.Flag(name: "max-vm-count", takesValue: true, repeats: false).variable == "VMRESERVE_MAX_VM_COUNT")
    }

    /// The values an option takes only some of (an enum's), by flag, from ArgumentParser's own
    /// description of the command.
    static let choices: [String: [String]] = {
        let dump = try? JSONSerialization.jsonObject(with: Data(ServeCommand._dumpHelp().utf8)) as? [String: Any]
        let arguments = (dump?["command"] as? [String: Any])?["arguments"] as? [[String: Any]] ?? []
        return Dictionary(uniqueKeysWithValues: arguments.compactMap { argument in
            guard let name = (argument["names"] as? [[String: Any]])?.first(where: { $0["kind"] as? String == "long" })?["name"] as? String,
                  let values = argument["allValues"] as? [String] else { return nil }
            return (name, values)
        })
    }()

    /// Each variable parses as its flag would: the same command, option for option.
    @Test func everyVariableIsReadAsItsFlag() throws {
        #expect(Self.choices["log-format"] == ["text", "json"])
        for flag in ServeEnvironment.flags {
            let value = flag.takesValue ? Self.choices[flag.name]?.last ?? "7" : "1"
            let given = flag.takesValue ? ["--\(flag.name)", value] : ["--\(flag.name)"]
            let (arguments, used) = try ServeEnvironment.adding(to: [], from: [flag.variable: value, "UNRELATED": "x"])
            #expect(used == [flag.name: flag.variable])
            let fromFlag = String(describing: try ServeCommand.parse(given))
            let fromVariable = String(describing: try ServeCommand.parse(arguments))
            #expect(fromFlag == fromVariable, "\(flag.variable)")
            #expect(fromVariable != String(describing: try ServeCommand.parse([])), "\(flag.variable) changed nothing")
        }
    }

    @Test func aFlagWinsAndValuesSplitAtCommas() throws {
        let environment = ["VMRESERVE_PORT": "6000", "VMRESERVE_POOL": "a, b", "VMRESERVE_DEV": "0", "VMRESERVE_HOST": ""]
        let (arguments, used) = try ServeEnvironment.adding(to: ["--port", "7000"], from: environment)
        #expect(arguments == ["--port", "7000", "--pool=a", "--pool=b"])
        #expect(used == ["pool": "VMRESERVE_POOL", "dev": "VMRESERVE_DEV"])
        #expect(throws: (any Error).self) { try ServeEnvironment.adding(to: [], from: ["VMRESERVE_DEV": "maybe"]) }
    }
}
