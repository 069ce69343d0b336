import ArgumentParser
import Foundation
import VMReserveClient

/// Where the client finds its server and token: a flag, else `VMRESERVE_SERVER` /
/// `VMRESERVE_TOKEN`, else what `vmreserve login` stored in the user's config folder
/// (`$XDG_CONFIG_HOME/vmreserve/config.json`, else `~/.config/vmreserve/config.json`, mode 0600),
/// else `http://127.0.0.1:5000` and no token (what `make run`'s dev mode serves). The stored token
/// and pool go only to the stored server, never to one a flag or variable names instead; so do the
/// stored CA file and permission to use plain http.
struct ClientSettings: Codable, Equatable {
    static let defaultServer = "http://127.0.0.1:5000"

    var server: String
    /// Nil: requests carry none (a dev-mode gateway takes them as its admin's).
    var token: String?
    /// The pool to use on a gateway that serves several (nil: its first).
    var pool: String?
    /// A PEM file of CAs to trust for an https:// server, besides the system's (a private CA).
    var cacert: String?
    /// Send the token over plain http:// to a host that is not this machine (see `run`).
    var allowInsecureHTTP: Bool?

    /// The stored settings' file.
    static func file(environment: [String: String] = ProcessInfo.processInfo.environment) -> URL {
        let base = environment["XDG_CONFIG_HOME"].flatMap { $0.isEmpty ? nil : URL(fileURLWithPath: $0) }
            ?? URL(fileURLWithPath: environment["HOME"] ?? NSHomeDirectory()).appending(path: ".config")
        return base.appending(path: "vmreserve").appending(path: "config.json")
    }

    /// The settings in force: the flags given, else the environment, else the stored ones.
    static func resolve(
        server: String?, pool: String?, transport: TransportOptions = TransportOptions(),
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) -> ClientSettings {
        let variable = { (name: String) in environment[name].flatMap { $0.isEmpty ? nil : $0 } }
        var stored = try? JSONDecoder().decode(ClientSettings.self, from: Data(contentsOf: file(environment: environment)))
        let server = server ?? variable("VMRESERVE_SERVER") ?? stored?.server ?? defaultServer
        if stored?.server != server { stored = nil }  // the stored token is for the stored server only
        return ClientSettings(server: server, token: variable("VMRESERVE_TOKEN") ?? stored?.token, pool: pool ?? stored?.pool,
                              cacert: transport.cacert ?? variable("VMRESERVE_CACERT") ?? stored?.cacert,
                              allowInsecureHTTP: transport.allowInsecureHTTP || stored?.allowInsecureHTTP == true ? true : nil)
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
    /// standard error and its exit code. A token is never sent over plain http:// to a host other
    /// than this machine (anyone on the way could read it) unless `allowInsecureHTTP`: that ends
    /// the command at once, exit 64.
    func run<T>(_ body: (VMReserveClient) async throws -> T) async throws -> T {
        if token != nil, allowInsecureHTTP != true, let host = Self.plainHTTPHost(server), !Self.isLoopback(host) {
            Terminal.error("vmreserve: refusing to send your token over plain http:// to \(host): use https://, or --allow-insecure-http")
            throw ExitCode(64)
        }
        do {
            return try await VMReserveClient.with(server: server, token: token, pool: pool, caFile: cacert, body)
        } catch let error as VMReserveError {
            throw ClientFailure(error, signedIn: token != nil).exit()
        } catch let failure as ClientFailure {
            throw failure.exit()
        }
    }
}

extension ClientSettings {
    /// The host of an `http://` URL; nil for any other.
    static func plainHTTPHost(_ server: String) -> String? {
        guard let url = URL(string: server), url.scheme?.lowercased() == "http" else { return nil }
        return url.host ?? ""
    }

    /// This machine: `localhost`, 127.0.0.0/8 or ::1.
    static func isLoopback(_ host: String) -> Bool {
        let host = host.lowercased().trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
        return host == "localhost" || host == "::1" || host.hasSuffix(".localhost")
            || (host.hasPrefix("127.") && host.split(separator: ".").count == 4 && host.split(separator: ".").allSatisfy { UInt8($0) != nil })
    }
}
