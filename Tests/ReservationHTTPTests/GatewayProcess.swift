import Foundation
import RedisServerProcess
import TestSupport

/// `vmreserve serve` as users run it: the debug build of the executable, which `swift test` builds
/// alongside the tests, in a process of its own.
enum GatewayProcess {
    /// The executable's path in this checkout.
    static let executable = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appending(path: ".build/debug/vmreserve").path

    /// Starts `vmreserve serve` on `port` (given as `--port` unless the environment names it) and
    /// waits until /readyz answers 200.
    static func start(_ arguments: [String], environment: [String: String] = [:], port: Int, log: URL) async throws -> ChildProcess {
        let portArguments = environment["VMRESERVE_PORT"] == nil ? ["--port", String(port)] : []
        let process = try ChildProcess([executable, "serve"] + portArguments + arguments, environment: environment, output: log)
        let gateway = Gateway(port: port)
        try await waitUntil("vmreserve serve is ready", timeout: .seconds(20)) {
            (try? await gateway.call(.GET, "/readyz", token: nil).status) == 200 || !process.isRunning
        }
        guard process.isRunning else {
            throw TestSupportError("vmreserve exited: \((try? String(contentsOf: log, encoding: .utf8)) ?? "")")
        }
        return process
    }

    /// A fresh directory for a process's log and data.
    static func temporaryDirectory() throws -> URL {
        let directory = FileManager.default.temporaryDirectory.appending(path: "vmreserve-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        return directory
    }
}
