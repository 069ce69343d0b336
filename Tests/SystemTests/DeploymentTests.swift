import Foundation
import GatewayTestSupport
import Processes
import RedisServerProcess
import Testing
import TestSupport

/// The deployment files, checked by the tools that read them (there is no Docker engine here):
/// the compose file is valid and tells a first-time user what secret it needs, HAProxy accepts
/// its configuration, and every setting they give vmreserve is one it knows.
@Suite(.timeLimit(.minutes(10))) struct DeploymentTests {
    static let root = repositoryRoot

    /// Runs a tool in the repository's root; answers its exit code and its output (both streams).
    private func run(_ arguments: [String], environment: [String: String] = [:], in processes: TestProcesses) async throws
        -> (Int32, String)
    {
        let log = try processes.temporaryDirectory("deploy").appending(path: "output")
        var variables = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("VMRESERVE_") }
        variables.merge(environment) { $1 }
        let process = try ChildProcess(["sh", "-c", "cd \"$0\" && exec \"$@\"", Self.root.path] + arguments, environment: variables,
                                       inheritEnvironment: false, output: .file(log))
        let code = await process.waitForExit()
        return (code, (try? String(contentsOf: log, encoding: .utf8)) ?? "")
    }

    @Test func theComposeFileIsValidAndAsksForTheAdminToken() async throws {
        try await withTestProcesses { processes in
            let (valid, output) = try await run(["docker-compose", "config", "-q"],
                                                environment: ["VMRESERVE_ADMIN_TOKEN": String(repeating: "a", count: 64)], in: processes)
            #expect(valid == 0, "\(output)")
            let (missing, message) = try await run(["docker-compose", "config", "-q"], in: processes)
            #expect(missing != 0)
            #expect(message.contains("set VMRESERVE_ADMIN_TOKEN first, e.g. export VMRESERVE_ADMIN_TOKEN=$(openssl rand -hex 32)"))
            #expect(!message.contains("Traceback"))
        }
    }

    @Test func haproxyAcceptsItsConfiguration() async throws {
        try await withTestProcesses { processes in
            let (code, output) = try await run(["haproxy", "-c", "-f", "deploy/haproxy.cfg"], in: processes)
            #expect(code == 0, "\(output)")
        }
    }

    @Test func everySettingTheDeploymentGivesIsOneVmreserveKnows() async throws {
        try await withTestProcesses { processes in
            let (_, help) = try await run([GatewayProcess.executable, "serve", "--help"], in: processes)
            var named: Set<String> = []
            for file in ["docker-compose.yml", "Dockerfile"] {
                let text = try String(contentsOf: Self.root.appending(path: file), encoding: .utf8)
                for match in text.matches(of: /VMRESERVE_[A-Z_]+/) { named.insert(String(match.output)) }
            }
            #expect(named.count > 5)
            // (a variable is its flag's name: VMRESERVE_REDIS_URL is --redis-url's)
            for variable in named {
                let flag = "--" + variable.dropFirst("VMRESERVE_".count).lowercased().replacingOccurrences(of: "_", with: "-")
                #expect(help.contains(flag + " "), "\(variable) is not a setting of vmreserve serve")
            }
        }
    }
}
