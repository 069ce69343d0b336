import Foundation
import Reservations
import Testing
import TestSupport

/// The shape of lua/ (lua/README.md): scripts and helpers are small, every file says which helper
/// tables it uses (`-- uses: a, b`) and that list is exactly what it uses, and no helper goes unused.
@Suite struct LuaSourceTests {
    static let folder = repositoryRoot.appending(path: "lua")

    /// Name → text of the scripts (`lua/*.lua`) or of the helpers (`lua/lib/*.lua`).
    static func files(_ subfolder: String = "") throws -> [String: String] {
        let directory = subfolder.isEmpty ? folder : folder.appending(path: subfolder)
        var files: [String: String] = [:]
        for name in try FileManager.default.contentsOfDirectory(atPath: directory.path) where name.hasSuffix(".lua") {
            files[String(name.dropLast(4))] = try String(contentsOf: directory.appending(path: name), encoding: .utf8)
        }
        return files
    }

    /// The text without its comments (`--` to the end of a line; no script has `--` in a string).
    static func code(_ text: String) -> String {
        text.split(separator: "\n", omittingEmptySubsequences: false)
            .map { line in line.range(of: "--").map { String(line[..<$0.lowerBound]) } ?? String(line) }
            .joined(separator: "\n")
    }

    /// The helper tables `text`'s code refers to (`name.` where name is a helper's), but `own`.
    static func used(in text: String, helpers: Set<String>, own: String?) -> Set<String> {
        let code = code(text)
        var used: Set<String> = []
        for helper in helpers where helper != own {
            let pattern = "(^|[^A-Za-z0-9_.])" + helper + "\\."
            if code.range(of: pattern, options: .regularExpression) != nil { used.insert(helper) }
        }
        return used
    }

    /// The tables a file's header names on its `-- uses:` line (continued on lines that start
    /// `--   `; "(none)" for none); nil without one.
    static func declared(in text: String) -> Set<String>? {
        let lines = text.split(separator: "\n").prefix(40)
        guard let start = lines.firstIndex(where: { $0.hasPrefix("-- uses:") }) else { return nil }
        let continued = lines[(start + 1)...].prefix { $0.hasPrefix("--   ") }.map { $0.dropFirst(2) }
        let list = ([lines[start].dropFirst("-- uses:".count)] + continued).joined(separator: " ").trimmingCharacters(in: .whitespaces)
        return list == "(none)" ? [] : Set(list.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) })
    }

    @Test func everyFileListsExactlyTheHelpersItUses() throws {
        let helpers = try Self.files("lib"), scripts = try Self.files()
        let names = Set(helpers.keys)
        for (name, text) in helpers.map({ ("lib/" + $0.key, $0.value) }) + scripts.map({ ($0.key, $0.value) }) {
            let declared = try #require(Self.declared(in: text), "\(name).lua has no `-- uses:` line in its header")
            let own = name.hasPrefix("lib/") ? String(name.dropFirst(4)) : nil
            let used = Self.used(in: text, helpers: names, own: own)
            #expect(used.subtracting(declared).isEmpty, "\(name).lua uses \(used.subtracting(declared).sorted()) without listing them")
            #expect(declared.subtracting(used).isEmpty, "\(name).lua lists \(declared.subtracting(used).sorted()) but does not use them")
        }
    }

    @Test func noFileIsLongerThan150Lines() throws {
        for (name, text) in try Self.files("lib").map({ ("lib/" + $0.key, $0.value) }) + Self.files().map({ ($0.key, $0.value) }) {
            #expect(text.split(separator: "\n", omittingEmptySubsequences: false).count <= 151, "\(name).lua")
        }
    }

    @Test func everyScriptIsAFunctionOfTheLibraryAndDocumentsItsKeysAndArguments() throws {
        let scripts = try Self.files()
        #expect(Set(scripts.keys) == Set(Script.allCases.map(\.rawValue)))
        for (name, text) in scripts {
            let header = text.split(separator: "\n").prefix { $0.hasPrefix("--") }.joined(separator: "\n")
            #expect(header.contains("-- KEYS:") && header.contains("ARGV") && header.contains("-- Returns:"), "\(name).lua")
        }
    }

    /// A helper function nothing calls is dead code.
    @Test func everyHelperFunctionIsCalled() throws {
        let helpers = try Self.files("lib")
        let all = (Array(helpers.values) + Array(try Self.files().values)).map(Self.code).joined(separator: "\n")
        for (name, text) in helpers {
            for line in Self.code(text).split(separator: "\n") where line.hasPrefix("function \(name).") {
                let function = line.dropFirst("function ".count).prefix { $0 != "(" }
                let calls = all.components(separatedBy: function + "(").count - 1 + all.components(separatedBy: function + ",").count - 1
                #expect(calls > 1, "\(function) is defined but never called")
            }
        }
    }
}
