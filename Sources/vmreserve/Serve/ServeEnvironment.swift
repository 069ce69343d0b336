import ArgumentParser
import Foundation

/// `vmreserve serve`'s environment variables, one per option by one rule: `VMRESERVE_`, then the
/// flag's name in capitals with its dashes as underscores (`--redis-url`: `VMRESERVE_REDIS_URL`).
/// A variable counts only when its flag is not given; it is given to the parser as that flag.
enum ServeEnvironment {
    static let rule = """
        Every option also reads an environment variable: VMRESERVE_ and the flag's name in capitals, its dashes as \
        underscores (--redis-url: VMRESERVE_REDIS_URL). A flag's variable is 1 or 0 (true/false, yes/no); a repeatable \
        option's takes its values separated by commas (VMRESERVE_POOL=a,b).
        """

    /// One option or flag of `serve`, as ArgumentParser describes it.
    struct Flag: Equatable {
        let name: String
        let takesValue: Bool
        let repeats: Bool

        var variable: String { "VMRESERVE_" + name.uppercased().replacingOccurrences(of: "-", with: "_") }
    }

    /// Every option and flag of `serve` (not `--help`), read from ArgumentParser's own
    /// description of the command, so that none can be left out.
    static let flags: [Flag] = {
        let dump = try? JSONSerialization.jsonObject(with: Data(ServeCommand._dumpHelp().utf8)) as? [String: Any]
        let arguments = (dump?["command"] as? [String: Any])?["arguments"] as? [[String: Any]] ?? []
        return arguments.compactMap { argument in
            let long = (argument["names"] as? [[String: Any]])?.first { $0["kind"] as? String == "long" }?["name"] as? String
            guard let long, long != "help", let kind = argument["kind"] as? String, kind != "positional" else { return nil }
            return Flag(name: long, takesValue: kind == "option", repeats: argument["isRepeating"] as? Bool ?? false)
        }
    }()

    /// `arguments` (those after `serve`) and, for every flag not among them whose variable is set,
    /// the flag with the variable's value; also which flags came from which variables.
    static func adding(to arguments: [String], from environment: [String: String]) throws -> ([String], [String: String]) {
        var all = arguments, used: [String: String] = [:]
        for flag in flags {
            guard let text = environment[flag.variable], !text.isEmpty,
                  !arguments.contains(where: { $0 == "--\(flag.name)" || $0.hasPrefix("--\(flag.name)=") })
            else { continue }
            used[flag.name] = flag.variable
            guard flag.takesValue else {
                switch text.lowercased() {
                case "1", "true", "yes": all.append("--\(flag.name)")
                case "0", "false", "no": continue
                default: throw ValidationError("\(flag.variable): use 1 or 0")
                }
                continue
            }
            let values = flag.repeats ? text.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) } : [text]
            for value in values { all.append("--\(flag.name)=\(value)") }
        }
        return (all, used)
    }
}
