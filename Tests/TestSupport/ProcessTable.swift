import Foundation

/// The machine's processes as /proc shows them, for tests that check what runs.
public struct ProcessEntry: Sendable, Equatable {
    public let pid: Int
    public let parent: Int
    public let processGroup: Int
    /// The one-letter state: R, S, D, T, Z (a zombie: exited, not yet reaped)...
    public let state: String
    /// The executable's name, as the kernel keeps it (at most 15 characters).
    public let name: String
    /// The arguments, joined by spaces, on one line.
    public let commandLine: String

    /// Every process of the machine.
    public static func all() -> [ProcessEntry] {
        let ids = (try? FileManager.default.contentsOfDirectory(atPath: "/proc"))?.compactMap { Int($0) } ?? []
        return ids.compactMap(read)
    }

    /// The process `pid`, if it exists.
    public static func read(_ pid: Int) -> ProcessEntry? {
        // stat: "pid (name) state ppid pgrp ...": the name may hold spaces and parentheses
        guard let stat = Self.file(pid, "stat"), let open = stat.firstIndex(of: "("), let close = stat.lastIndex(of: ")") else {
            return nil
        }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 2, let parent = Int(fields[1]), let group = Int(fields[2]) else { return nil }
        let commandLine = Self.file(pid, "cmdline").map { text in
            String(text.map { $0 == "\0" || $0.isNewline ? " " : $0 }).trimmingCharacters(in: .whitespaces)
        } ?? ""
        return ProcessEntry(pid: pid, parent: parent, processGroup: group, state: String(fields[0]),
                            name: String(stat[stat.index(after: open)..<close]), commandLine: commandLine)
    }

    /// The environment the process started with, NUL-separated.
    public var environment: String { Self.file(pid, "environ") ?? "" }

    /// Whether the process has exited (a zombie has), told apart from a later one given the same pid.
    public var isGone: Bool { Self.isGone(pid: pid, commandLine: commandLine) }

    /// Whether the process `pid` that ran `commandLine` has exited.
    public static func isGone(pid: Int, commandLine: String) -> Bool {
        guard let now = read(pid) else { return true }
        return now.state == "Z" || now.commandLine != commandLine
    }

    /// Every process whose ancestry leads to `pid`.
    public static func descendants(of pid: Int) -> [ProcessEntry] {
        let all = all()
        var found: [ProcessEntry] = []
        var parents: Set<Int> = [pid]
        var grew = true
        while grew {
            grew = false
            for entry in all where parents.contains(entry.parent) && !parents.contains(entry.pid) {
                found.append(entry)
                parents.insert(entry.pid)
                grew = true
            }
        }
        return found
    }

    private static func file(_ pid: Int, _ name: String) -> String? {
        (try? Data(contentsOf: URL(fileURLWithPath: "/proc/\(pid)/\(name)"))).map { String(decoding: $0, as: UTF8.self) }
    }
}
