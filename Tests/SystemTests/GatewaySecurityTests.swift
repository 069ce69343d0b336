import Foundation
import GatewayTestSupport
import Processes
import RedisClient
import RedisServerProcess
import Testing
import TestSupport

#if canImport(Glibc)
import Glibc
#endif

/// Security of `vmreserve serve` processes: the admin token rotated through its file with no
/// restart, and no secret in their logs.
@Suite(.timeLimit(.minutes(20))) struct GatewaySecurityTests {
    @Test func theAdminTokenIsRotatedWithoutARestart() async throws {
        try await withTestProcesses { processes in
            let file = try processes.temporaryDirectory("tokens").appending(path: "admin-tokens")
            let old = "old-" + String(repeating: "a", count: 40), new = "new-" + String(repeating: "b", count: 40)
            try "# the admin's tokens\n\(old)\n".write(to: file, atomically: true, encoding: .utf8)
            // a gateway process, whose log says when it has read the file again
            let redis = try await SharedRedis.url(), port = try freeLoopbackPort()
            let log = try processes.temporaryDirectory("tokens-log").appending(path: "log")
            _ = try await GatewayProcess.start(["--redis-url", redis.description, "--pool", "tokens-\(UUID().uuidString)",
                                                "--admin-token-file", file.path,
                                                "--auth-failure-limit", "0"],  // (the waits below try the new token until it works)
                                               port: port, log: log, processes: processes)
            let gateway = Gateway(port: port)
            func works(_ token: String) async -> Bool { (try? await gateway.call(.GET, "/v1/admin/pool", token: token).status) == 200 }
            let oldWorks = await works(old), newWorks = await works(new)
            #expect(oldWorks && !newWorks)
            try "\(old)\n\(new)\n".write(to: file, atomically: true, encoding: .utf8)
            try await waitUntil("the new token works") { await works(new) }
            #expect(await works(old), "both while clients move over")
            try "\(new)\n".write(to: file, atomically: true, encoding: .utf8)
            try await waitUntil("the old token stops working") { !(await works(old)) }
            #expect(await works(new))
            // a broken file changes nothing, once the gateway has read it
            try "short\n".write(to: file, atomically: true, encoding: .utf8)
            try await waitUntil("the gateway has read the broken file") {
                ((try? String(contentsOf: log, encoding: .utf8)) ?? "").contains("kept the admin tokens as before")
            }
            let stillWorks = await works(new), shortWorks = await works("short")
            #expect(stillWorks && !shortWorks)
        }
    }

    /// In either log format, at the most detailed level: no token (valid, rotated or wrong), no
    /// password, no query string.
    @Test(arguments: ["text", "json"]) func noTokenOrPasswordEverReachesTheLog(format: String) async throws {
        try await withTestProcesses { processes in
            let password = "redis-secret-\(UUID().uuidString)"
            let redis = try await processes.redis(extraArguments: ["--requirepass", password])
            let port = try freeLoopbackPort(), log = try processes.temporaryDirectory("log").appending(path: "gateway.log")
            let process = try await GatewayProcess.start(
                ["--redis-url", "redis://:\(password)@127.0.0.1:\(redis.port)/0", "--admin-token", adminToken, "--log-level", "trace",
                 "--log-format", format],
                port: port, log: log, processes: processes)
            let gateway = Gateway(port: port)
            try await gateway.createVMs(2)
            let userToken = try await gateway.createUser("alice", quota: 1)
            #expect(try await gateway.call(.POST, "/v1/checkouts", token: userToken).status == 201)
            let rotated = try #require(try await gateway.call(.POST, "/v1/admin/users/alice/token")["token"])
            let wrong = "not-a-token-\(UUID().uuidString)"
            #expect(try await gateway.call(.GET, "/v1/vms/mine", token: wrong).status == 401)
            #expect(try await gateway.call(.GET, "/v1/vms/mine", token: rotated).status == 200)
            #expect(try await gateway.call(.GET, "/v1/vms/mine?token=\(wrong)", token: rotated).status == 400)
            #expect(await process.terminate(with: SIGTERM) == 0)  // every log line written
            let text = try String(contentsOf: log, encoding: .utf8)
            #expect(text.contains(format == "json" ? #""route":"/v1/vms/mine""# : "route=/v1/vms/mine"), "the requests were logged")
            for secret in [adminToken, userToken, rotated, wrong, password, "token="] {
                #expect(!text.contains(secret), "a secret in the log: \(secret)")
            }
        }
    }

    /// A Redis password given in a file is used, and is on neither the gateway's command line
    /// nor its environment, as `ps e` would show them.
    @Test func aRedisPasswordFromAFileIsOnNoCommandLine() async throws {
        try await withTestProcesses { processes in
            let password = "redis-secret-\(UUID().uuidString)"
            let redis = try await processes.redis(extraArguments: ["--requirepass", password])
            let directory = try processes.temporaryDirectory("password-file")
            let file = directory.appending(path: "redis-password")
            try (password + "\n").write(to: file, atomically: true, encoding: .utf8)
            let port = try freeLoopbackPort()
            let process = try await GatewayProcess.start(
                ["--redis-url", "redis://127.0.0.1:\(redis.port)/0", "--redis-password-file", file.path, "--admin-token", adminToken],
                port: port, log: directory.appending(path: "gateway.log"), processes: processes)
            let gateway = Gateway(port: port)
            #expect(try await gateway.createVMs(1).count == 1, "the gateway reached Redis with the file's password")
            for listing in ["cmdline", "environ"] {
                let bytes = try Data(contentsOf: URL(fileURLWithPath: "/proc/\(process.pid)/\(listing)"))
                #expect(!String(decoding: bytes, as: UTF8.self).contains(password), "the password is in /proc/PID/\(listing)")
            }
            #expect(await process.terminate(with: SIGTERM) == 0)
        }
    }
}
