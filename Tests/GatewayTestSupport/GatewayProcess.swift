import AsyncHTTPClient
import Foundation
import Processes
import RedisServerProcess
import TestSupport

/// `vmreserve serve` as users run it: the executable that the build running these tests made
/// (`swift test` builds it alongside them, into the same folder), in a process of its own.
public enum GatewayProcess {
    /// The executable beside this test binary, wherever the build put it (`--scratch-path`,
    /// release or debug).
    public static let executable: String = {
        let testBinary = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        return URL(fileURLWithPath: testBinary).deletingLastPathComponent().appending(path: "vmreserve").path
    }()

    /// Starts `vmreserve serve` on `port` (given as `--port` unless the environment names it),
    /// stopped with `processes`, and waits until /readyz answers 200 (over HTTPS with `https`, a
    /// client that trusts the gateway's certificate).
    public static func start(
        _ arguments: [String], environment: [String: String] = [:], port: Int, log: URL, processes: TestProcesses,
        https: HTTPClient? = nil
    ) async throws -> ChildProcess {
        guard FileManager.default.isExecutableFile(atPath: executable) else {
            throw TestSupportError("\(executable) does not exist: build the vmreserve product with the tests")
        }
        let portArguments = environment["VMRESERVE_PORT"] == nil ? ["--port", String(port)] : []
        let process = try processes.start([executable, "serve"] + portArguments + arguments, environment: environment, output: .file(log))
        let gateway = Gateway(port: port, https: https)
        try await waitUntil("vmreserve serve is ready") {
            (try? await gateway.call(.GET, "/readyz", token: nil).status) == 200 || !process.isRunning
        }
        guard process.isRunning else {
            throw TestSupportError("vmreserve exited: \((try? String(contentsOf: log, encoding: .utf8)) ?? "")")
        }
        return process
    }
}
