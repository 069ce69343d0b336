import Foundation
import GatewayTestSupport
import RedisServerProcess
import Testing
import TestSupport

/// schemathesis, generating requests from docs/openapi.json (valid and invalid), against a
/// `vmreserve serve` process: no answer breaks the document (no 500, no undocumented status, no
/// body off its schema, no rejected-input-accepted, 401 without a token, 405 for other methods),
/// and no request it refuses changes anything in Redis (Tests/schemathesis/unchanged_on_rejection.py).
@Suite(.timeLimit(.minutes(20))) struct SchemathesisTests {
    @Test func schemathesisFindsNoAnswerThatBreaksTheDocument() async throws {
        try await Self.schemathesis(as: { _ in adminToken }, selected: "37/37", arguments: [])
    }

    /// The operations a user may call, called with a user's token: what they may do, and what
    /// they may not (another's VM, a quota reached), answered as the document says.
    @Test func schemathesisAsAPlainUserFindsNoAnswerThatBreaksTheDocument() async throws {
        try await Self.schemathesis(as: { gateway in try await gateway.createUser("fuzzed", quota: 3) }, selected: "16/37",
                                    arguments: ["--include-path-regex", "^/(v1/(checkouts|checkins|vms|reservations)|checkoutVM/|checkinVM/|getVM/|getVMStatus/)"])
    }

    /// schemathesis against a gateway process with 50 VMs, with the token `token` gives, on the
    /// operations `arguments` select (`selected` of them, as schemathesis counts).
    static func schemathesis(as token: @Sendable (Gateway) async throws -> String, selected: String, arguments: [String]) async throws {
        try await withTestProcesses { processes in
            let redis = try await processes.redis(extraArguments: ["--enable-debug-command", "local"])  // (DEBUG DIGEST)
            let port = try freeLoopbackPort(), directory = try processes.temporaryDirectory("schemathesis")
            _ = try await GatewayProcess.start(["--redis-url", redis.url.description, "--admin-token", adminToken,
                                                "--auth-failure-limit", "0", "--log-level", "warning"],
                                               port: port, log: directory.appending(path: "gateway.log"), processes: processes)
            let gateway = Gateway(port: port)
            try await gateway.createVMs(50)
            let bearer = try await token(gateway)
            let report = directory.appending(path: "report.txt")
            // Every check but positive_data_acceptance: some well-formed requests are refused by
            // rules the document cannot state (a size the pool's catalog lacks, renewing a VM with
            // no lease, an Idempotency-Key reused), with 400 or 422 as docs/API.md says.
            // (run in the test's folder: schemathesis keeps a cache where it runs)
            let schemathesis = try processes.start(
                ["sh", "-c", "cd \"$0\" && exec \"$@\"", directory.path,
                 "schemathesis", "run", "http://127.0.0.1:\(port)/openapi.json", "-H", "Authorization: Bearer \(bearer)",
                 "--checks", "all", "--exclude-checks", "positive_data_acceptance", "--max-examples", "15", "--workers", "1",
                 "--seed", "7", "--no-color"] + arguments,
                environment: ["SCHEMATHESIS_TELEMETRY": "false", "SCHEMATHESIS_HOOKS": "unchanged_on_rejection",
                              "PYTHONPATH": repositoryRoot.appending(path: "Tests/schemathesis").path,
                              "VMRESERVE_TEST_REDIS_PORT": String(redis.port), "VMRESERVE_TEST_POOL_PREFIX": "vmreserve:{default}"],
                output: .file(report))
            let code = await schemathesis.waitForExit()
            let text = (try? String(contentsOf: report, encoding: .utf8)) ?? ""
            #expect(code == 0, "schemathesis found failures:\n\(text.suffix(6000))")
            #expect(text.contains("Selected: \(selected)"), "\(text.suffix(2000))")
            // the hook's own check ran on refused requests, and most of them proved something
            let rejections = (try? String(contentsOf: directory.appending(path: "rejections.txt"), encoding: .utf8)) ?? ""
            print("schemathesis, refused requests: \(rejections)", terminator: "")
            let counts = rejections.split(whereSeparator: { !$0.isNumber }).compactMap { Int($0) }
            #expect(counts.count == 2 && counts[0] >= 100 && counts[0] > 4 * counts[1], "refused requests checked: \(rejections)")
            let log = (try? String(contentsOf: directory.appending(path: "gateway.log"), encoding: .utf8)) ?? ""
            #expect(!log.contains("request failed"), "an unexpected error: \(log.suffix(2000))")
        }
    }
}
