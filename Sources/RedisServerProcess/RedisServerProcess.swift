import Foundation
import Processes
import RedisClient

#if canImport(Glibc)
import Glibc
#endif

/// A `redis-server` child process listening on a loopback port: the store behind `--dev` and
/// behind every integration test. Stopped with SIGTERM (Redis writes its append-only file and
/// exits) or killed with SIGKILL to simulate a crash.
public final class RedisServerProcess: Sendable {
    private let process: ChildProcess
    public let port: Int
    public let dataDirectory: URL
    /// Set when the server speaks TLS only.
    public let tls: TLS?

    /// Where clients reach this server (`rediss://` when it speaks TLS).
    public var url: RedisURL {
        var url = RedisURL(host: "127.0.0.1", port: port)
        url.usesTLS = tls != nil
        return url
    }

    /// A server that speaks TLS only (`--port 0 --tls-port`), with these PEM files; replication and
    /// the cluster bus are TLS too.
    public struct TLS: Sendable {
        public var certificateFile: String
        public var keyFile: String
        /// The CA that clients' (and peers') certificates must be signed by.
        public var caFile: String
        /// `tls-auth-clients`: clients must show a certificate of that CA (mutual TLS).
        public var clientsMustAuthenticate: Bool

        public init(certificateFile: String, keyFile: String, caFile: String, clientsMustAuthenticate: Bool) {
            self.certificateFile = certificateFile
            self.keyFile = keyFile
            self.caFile = caFile
            self.clientsMustAuthenticate = clientsMustAuthenticate
        }

        /// redis-server's options for it, listening on `port`.
        public func arguments(port: Int) -> [String] {
            ["--port", "0", "--tls-port", String(port), "--tls-cert-file", certificateFile, "--tls-key-file", keyFile,
             "--tls-ca-cert-file", caFile, "--tls-auth-clients", clientsMustAuthenticate ? "yes" : "no",
             "--tls-replication", "yes", "--tls-cluster", "yes"]
        }
    }

    /// Starts redis-server (found on PATH) and waits until it accepts connections.
    /// - Parameters:
    ///   - port: the port to listen on; nil picks a free one.
    ///   - dataDirectory: where Redis keeps its files.
    ///   - persistent: append-only persistence with `appendfsync always` when true (every write is
    ///     on disk before Redis answers it); no files at all otherwise.
    ///   - password: required of clients; given to Redis in a configuration file only this user
    ///     can read, never on the command line (where `ps` shows it).
    ///   - ownProcessGroup: see `ChildProcess`: a Ctrl-C meant for this process spares Redis.
    ///   - tls: when set, the server speaks TLS only, on `port`.
    ///   - extraArguments: more `redis-server` options, e.g. `["--maxmemory", "64mb"]`.
    ///   - stopsWithThisProcess: see `ChildProcess`: the server is stopped if this process ends
    ///     (even by a crash) before stopping it.
    /// The server inherits no environment variables and no descriptors from this process, and
    /// waits (up to a minute, a busy machine's worth) until it accepts connections or exits.
    /// It runs with SIGXFSZ ignored: a write past a file-size limit (`ulimit -f`) then fails as on
    /// a full disk, which Redis reports and handles (it refuses writes, or exits under
    /// `appendfsync always`), instead of killing Redis without a word in its log.
    public static func start(
        port: Int? = nil,
        dataDirectory: URL,
        persistent: Bool,
        password: String? = nil,
        ownProcessGroup: Bool = false,
        tls: TLS? = nil,
        extraArguments: [String] = [],
        stopsWithThisProcess: Bool = false
    ) async throws -> RedisServerProcess {
        try FileManager.default.createDirectory(at: dataDirectory, withIntermediateDirectories: true)
        var lastError: (any Error)?
        for _ in 0..<5 {
            let chosen = try port ?? freeLoopbackPort()
            do {
                return try await launch(port: chosen, dataDirectory: dataDirectory, persistent: persistent, password: password,
                                        ownProcessGroup: ownProcessGroup, tls: tls, extraArguments: extraArguments,
                                        stopsWithThisProcess: stopsWithThisProcess)
            } catch {
                lastError = error
                if port != nil { break }
            }
        }
        throw lastError ?? RedisServerError("redis-server did not start")
    }

    private static func launch(
        port: Int, dataDirectory: URL, persistent: Bool, password: String?, ownProcessGroup: Bool, tls: TLS?, extraArguments: [String],
        stopsWithThisProcess: Bool
    ) async throws -> RedisServerProcess {
        var configuration: [String] = []
        if let password {
            let file = dataDirectory.appending(path: "vmreserve-password.conf")
            let quoted = password.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            try writePrivately(Array("requirepass \"\(quoted)\"\n".utf8), to: file)
            configuration = [file.path]
        }
        let persistence = persistent
            ? ["--appendonly", "yes", "--appendfsync", "always", "--save", ""]
            : ["--appendonly", "no", "--save", ""]
        // (through sh, which ignores SIGXFSZ for it: see `start`)
        let arguments = ["/bin/sh", "-c", "trap '' XFSZ; exec \"$0\" \"$@\"", "redis-server"] + configuration + ["--bind", "127.0.0.1", "--port", String(port), "--dir", dataDirectory.path,
                         "--daemonize", "no", "--logfile", "redis.log", "--protected-mode", "yes"]
            + persistence + (tls?.arguments(port: port) ?? []) + extraArguments
        let process = try ChildProcess(arguments, inheritEnvironment: false, ownProcessGroup: ownProcessGroup,
                                       stopsWithThisProcess: stopsWithThisProcess)
        let server = RedisServerProcess(process: process, port: port, dataDirectory: dataDirectory, tls: tls)
        let deadline = ContinuousClock.now + .seconds(60)
        do {
            while ContinuousClock.now < deadline {
                if !server.isRunning { throw RedisServerError("redis-server exited at start; see \(dataDirectory.path)/redis.log") }
                if acceptsConnections(port: port) { return server }
                try await Task.sleep(for: .milliseconds(25))
            }
        } catch {
            await server.kill()
            throw error
        }
        await server.kill()
        throw RedisServerError("redis-server did not accept connections on port \(port) within 60 s")
    }

    private init(process: ChildProcess, port: Int, dataDirectory: URL, tls: TLS?) {
        self.process = process
        self.port = port
        self.tls = tls
        self.dataDirectory = dataDirectory
    }

    public var isRunning: Bool { process.isRunning }

    public var pid: pid_t { process.pid }

    /// SIGTERM, then waits for the exit: Redis flushes its append-only file first.
    public func stop() async {
        await process.terminate(with: SIGTERM)
    }

    /// SIGKILL, then waits: no chance to flush anything.
    public func kill() async {
        await process.terminate(with: SIGKILL)
    }

    /// Suspends (SIGSTOP) or resumes (SIGCONT) the server: a Redis that hangs without closing sockets.
    public func suspend(_ suspended: Bool) {
        process.signal(suspended ? SIGSTOP : SIGCONT)
    }
}

public struct RedisServerError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}

/// Writes `bytes` to a file that only this user can read, from the moment it exists.
private func writePrivately(_ bytes: [UInt8], to file: URL) throws {
    let fd = open(file.path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    guard fd >= 0 else { throw RedisServerError("cannot write \(file.path)") }
    defer { close(fd) }
    fchmod(fd, 0o600)  // a file that already existed keeps its mode otherwise
    guard bytes.withUnsafeBytes({ write(fd, $0.baseAddress, $0.count) }) == bytes.count else {
        throw RedisServerError("cannot write \(file.path)")
    }
}

/// Asks the kernel for a free loopback TCP port.
public func freeLoopbackPort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw RedisServerError("socket() failed") }
    defer { close(fd) }
    var address = loopbackAddress(port: 0)
    let bound = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard bound == 0 else { throw RedisServerError("bind() failed") }
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
    }
    return Int(UInt16(bigEndian: address.sin_port))
}

/// True when something accepts TCP connections on this loopback port.
public func acceptsConnections(port: Int) -> Bool {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { return false }
    defer { close(fd) }
    var address = loopbackAddress(port: port)
    return withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    } == 0
}

private func loopbackAddress(port: Int) -> sockaddr_in {
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = UInt16(port).bigEndian
    address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
    return address
}
