import Foundation
import GatewayTestSupport
import Processes
import RedisClient
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

    @Test func theComposeFileIsValidAndKeepsEverySecretInAFile() async throws {
        try await withTestProcesses { processes in
            let (valid, output) = try await run(["docker-compose", "config", "-q"], in: processes)
            #expect(valid == 0, "\(output)")
            let compose = try String(contentsOf: Self.root.appending(path: "docker-compose.yml"), encoding: .utf8)
            for secret in ["VMRESERVE_REDIS_PASSWORD_FILE: /run/secrets/redis-password",
                           "VMRESERVE_SENTINEL_PASSWORD_FILE: /run/secrets/redis-password",
                           "VMRESERVE_ADMIN_TOKEN_FILE: /run/secrets/admin-token"] {
                #expect(compose.contains(secret))
            }
            #expect(!compose.contains("VMRESERVE_ADMIN_TOKEN:") && !compose.contains("redis://:"), "no secret in a variable or URL")
            // the script that makes the secrets: random, the folder the operator's alone
            let copy = try processes.temporaryDirectory("deploy")
            try FileManager.default.copyItem(at: Self.root.appending(path: "deploy/make-secrets.sh"), to: copy.appending(path: "make-secrets.sh"))
            let (made, log) = try await run(["sh", copy.appending(path: "make-secrets.sh").path], in: processes)
            #expect(made == 0, "\(log)")
            let folder = try FileManager.default.attributesOfItem(atPath: copy.appending(path: "secrets").path)
            #expect((folder[.posixPermissions] as? Int) == 0o700)
            for name in ["redis-password", "admin-token"] {
                let text = try String(contentsOf: copy.appending(path: "secrets/\(name)"), encoding: .utf8)
                #expect(text.count == 65 && text.dropLast().allSatisfy(\.isHexDigit), "\(name)")
            }
        }
    }

    /// The compose file's Redis and Sentinel scripts, run here as compose would run them (their
    /// `/run/secrets/` a folder of the test's, no image's entrypoint): each requires the password
    /// from the secret file, and neither's command line nor environment holds it.
    @Test func composesRedisAndSentinelTakeThePasswordFromTheSecretFileOnly() async throws {
        try await withTestProcesses { processes in
            let directory = try processes.temporaryDirectory("compose-scripts")
            let password = "compose-secret-\(UUID().uuidString)"
            try (password + "\n").write(to: directory.appending(path: "redis-password"), atomically: true, encoding: .utf8)
            // (YAML's merge keys resolved by PyYAML, which docker-compose itself uses)
            let (read, json) = try await run(["python3", "-c", """
                import json, yaml
                services = yaml.safe_load(open('docker-compose.yml'))['services']
                print(json.dumps({name: services[name]['command'][2] for name in ['redis-primary', 'sentinel-1']}))
                """], in: processes)
            #expect(read == 0, "\(json)")
            let scripts = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: String])
            let redisPort = try freeLoopbackPort(), sentinelPort = try freeLoopbackPort()
            func local(_ script: String) -> String {
                script.replacingOccurrences(of: "$$", with: "$")
                    .replacingOccurrences(of: "/tmp/", with: directory.path + "/")
                    .replacingOccurrences(of: "/run/secrets/", with: directory.path + "/")
                    .replacingOccurrences(of: "docker-entrypoint.sh ", with: "")
                    .replacingOccurrences(of: "chown redis", with: "true")
                    .replacingOccurrences(of: "port 26379", with: "port \(sentinelPort)\nbind 127.0.0.1")
                    .replacingOccurrences(of: "redis-primary 6379", with: "127.0.0.1 \(redisPort)")
            }
            let redisScript = try #require(scripts["redis-primary"]), sentinelScript = try #require(scripts["sentinel-1"])
            let redis = try processes.start(["sh", "-c", local(redisScript)], environment: [
                "REPLICA_ARGS": "--port \(redisPort) --bind 127.0.0.1 --dir \(directory.path) --appendonly no --save ''"],
                output: .file(directory.appending(path: "redis.log")))
            try await waitUntil("the compose file's Redis listens") { acceptsConnections(port: redisPort) }
            let sentinel = try processes.start(["sh", "-c", local(sentinelScript)], output: .file(directory.appending(path: "sentinel.log")))
            try await waitUntil("the compose file's Sentinel listens") { acceptsConnections(port: sentinelPort) }
            for (port, process) in [(redisPort, redis), (sentinelPort, sentinel)] {
                await #expect(throws: RedisError.self, "a password is required") {
                    try await sendToRedis(RedisURL(port: port), ["PING"])
                }
                #expect(try await sendToRedis(RedisURL(port: port, password: password), ["PING"]) == [.simpleString("PONG")])
                for file in ["cmdline", "environ"] {
                    let bytes = try Data(contentsOf: URL(fileURLWithPath: "/proc/\(process.pid)/\(file)"))
                    #expect(!String(decoding: bytes, as: UTF8.self).contains(password), "the password in \(port)'s \(file)")
                }
            }
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
