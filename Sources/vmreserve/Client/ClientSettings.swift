import Foundation
import VMReserveClient

/// Where the client finds its server and token: a flag, else `VMRESERVE_SERVER` /
/// `VMRESERVE_TOKEN`, else what `vmreserve login` stored in the user's config folder
/// (`$XDG_CONFIG_HOME/vmreserve/config.json`, else `~/.config/vmreserve/config.json`, mode 0600),
/// else `http://127.0.0.1:5000` and no token (what `make run`'s dev mode serves). The stored token
/// and pool go only to the stored server, never to one a flag or variable names instead.
struct ClientSettings: Codable, Equatable {
    static let defaultServer = "http://127.0.0.1:5000"

    var server: String
    /// Nil: requests carry none (a dev-mode gateway takes them as its admin's).
    var token: String?
    /// The pool to use on a gateway that serves several (nil: its first).
    var pool: String?

    /// The stored settings' file.
    static func file(environment: [String: String] = ProcessInfo.processInfo.environment) -> URL {
        let base = environment["XDG_CONFIG_HOME"].flatMap { $0.isEmpty ? nil : URL(fileURLWithPath: $0) }
            ?? URL(fileURLWithPath: environment["HOME"] ?? NSHomeDirectory()).appending(path: ".config")
        return base.appending(path: "vmreserve").appending(path: "config.json")
    }

    /// The settings in force: the flags given, else the environment, else the stored ones.
    static func resolve(server: String?, pool: String?, environment: [String: String] = ProcessInfo.processInfo.environment)
        -> ClientSettings
    {
        let variable = { (name: String) in environment[name].flatMap { $0.isEmpty ? nil : $0 } }
        var stored = try? JSONDecoder().decode(ClientSettings.self, from: Data(contentsOf: file(environment: environment)))
        let server = server ?? variable("VMRESERVE_SERVER") ?? stored?.server ?? defaultServer
        if stored?.server != server { stored = nil }  // the stored token is for the stored server only
        return ClientSettings(server: server, token: variable("VMRESERVE_TOKEN") ?? stored?.token, pool: pool ?? stored?.pool)
    }

    /// Writes the settings where `resolve` finds them, readable by the user only.
    func store(environment: [String: String] = ProcessInfo.processInfo.environment) throws {
        let file = Self.file(environment: environment)
        let manager = FileManager.default
        try manager.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true,
                                    attributes: [.posixPermissions: 0o700])
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        let data = try encoder.encode(self)
        // created 0600 before the token is written into it
        let temporary = file.deletingLastPathComponent().appending(path: ".config.json.\(getpid())")
        guard manager.createFile(atPath: temporary.path, contents: nil, attributes: [.posixPermissions: 0o600]) else {
            throw CocoaError(.fileWriteNoPermission, userInfo: [NSFilePathErrorKey: temporary.path])
        }
        let handle = try FileHandle(forWritingTo: temporary)
        try handle.write(contentsOf: data)
        try handle.close()
        guard rename(temporary.path, file.path) == 0 else {
            try? manager.removeItem(at: temporary)
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: file.path])
        }
    }
}

extension ClientSettings {
    /// Runs `body` with a client of these settings; a failure ends the command with its line on
    /// standard error and its exit code.
    func run<T>(_ body: (VMReserveClient) async throws -> T) async throws -> T {
        do {
            return try await VMReserveClient.with(server: server, token: token, pool: pool, body)
        } catch let error as VMReserveError {
            throw ClientFailure(error, signedIn: token != nil).exit()
        } catch let failure as ClientFailure {
            throw failure.exit()
        }
    }
}
