import AsyncHTTPClient
import Foundation
import GatewayTestSupport
import NIOSSL
import Processes
import RedisServerProcess
import Testing
import TestSupport

/// Encrypted end to end, with certificates the test makes (openssl): `vmreserve serve` processes
/// that serve HTTPS and reach a redis-server speaking TLS only, which asks for their certificate;
/// curl and the command-line client trusting the test's CA; a certificate replaced on disk.
@Suite(.timeLimit(.minutes(10))) struct HTTPSTests {
    /// A client that trusts the test's CA, shut down after `body`.
    static func withHTTPSClient<T>(_ certificates: TestCertificates, _ body: (HTTPClient) async throws -> T) async throws -> T {
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.trustRoots = .file(certificates.caFile)
        var configuration = HTTPClient.Configuration(tlsConfiguration: tls)
        configuration.timeout = .init(connect: .seconds(60), read: .seconds(120))
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        do {
            let result = try await body(client)
            try await client.shutdown()
            return result
        } catch {
            try? await client.shutdown()
            throw error
        }
    }

    /// Runs a command (curl) to its end: its exit code and standard output.
    static func run(_ arguments: [String], environment: [String: String] = [:]) async throws -> (status: Int32, output: String) {
        let result = try await ChildProcess.run(arguments, environment: ["PATH": "/usr/bin:/bin"].merging(environment) { _, new in new },
                                                input: Data(), timeout: .seconds(120), outputLimit: 1 << 20)
        return (result.status, String(decoding: result.output, as: UTF8.self))
    }

    /// The gateway's flags for HTTPS with `name`.crt and `name`.key.
    static func httpsFlags(_ certificates: TestCertificates, _ name: String = "server") -> [String] {
        ["--tls-cert", certificates.file(name, "crt"), "--tls-key", certificates.file(name, "key")]
    }

    /// A gateway reaches Redis over `rediss://` with mutual TLS and serves checkouts over HTTPS:
    /// to curl `--cacert`, and to the client with `--cacert` or `VMRESERVE_CACERT`; a client
    /// that does not trust the CA, or plain http, gets nothing.
    @Test func aGatewayOnMutualTLSRedisServesCheckoutsOverHTTPS() async throws {
        try await withTestProcesses { processes in
            let directory = try processes.temporaryDirectory("https")
            let certificates = try await TestCertificates.make(in: directory)
            let redis = try await processes.redis(tls: certificates.redisServer())
            let port = try freeLoopbackPort()
            try await Self.withHTTPSClient(certificates) { https in
                _ = try await GatewayProcess.start(
                    ["--redis-url", redis.url.description, "--admin-token", adminToken] + certificates.gatewayRedisFlags
                        + Self.httpsFlags(certificates),
                    port: port, log: directory.appending(path: "gateway.log"), processes: processes, https: https)
                let gateway = Gateway(port: port, https: https)
                for _ in 0..<3 { #expect(try await gateway.call(.POST, "/v1/admin/vms").status == 201) }
                let alice = try await gateway.createUser("alice", quota: 3)
                let server = "https://localhost:\(port)"

                let curl = try await Self.run(["curl", "-sS", "--cacert", certificates.caFile, "-X", "POST",
                                               "-H", "Authorization: Bearer \(alice)", "\(server)/v1/checkouts"])
                #expect(curl.status == 0 && curl.output.contains(#""status":"success""#) && curl.output.contains(#""ip":"#), "\(curl)")

                let client = try CommandLineClientTests.Client(server: server, processes: processes)
                let withFlag = try await client.run(["checkout", "--cacert", certificates.caFile], token: alice)
                #expect(withFlag.code == 0 && CommandLineClientTests.isIP(withFlag.output.trimmingCharacters(in: .newlines)), "\(withFlag)")
                let withVariable = try await client.run(["checkout"], token: alice, environment: ["VMRESERVE_CACERT": certificates.caFile])
                #expect(withVariable.code == 0, "\(withVariable)")
                let untrusting = try await client.run(["checkout"], token: alice)
                #expect(untrusting.code == 7 && untrusting.saysOneLine, "\(untrusting)")
                #expect(untrusting.errors.contains("certificate is not trusted (for a private CA: --cacert"), "\(untrusting)")
                let mine = try await gateway.call(.GET, "/v1/vms/mine", token: alice)
                #expect((mine.json?["data"] as? [Any])?.count == 3, "three checkouts, none more: \(mine.text)")

                let plain = try await Self.run(["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "http://127.0.0.1:\(port)/healthz"])
                #expect(plain.output != "200", "no plain HTTP on the HTTPS port: \(plain)")
            }
        }
    }

    /// TLS to Redis that no retry mends stops the gateway's start, with the reason on its last line.
    @Test(arguments: [
        ("untrusted", true, [String](), "is not signed by the CA in"),
        ("expired", true, [], "expired on"),
        ("elsewhere", true, [], "is not for 127.0.0.1"),
        ("server", false, [], "requires a client certificate"),
    ])
    func aRedisTLSFailureStopsTheStartWithItsReason(server: String, withClientCertificate: Bool, extra: [String], reason: String) async throws {
        try await withTestProcesses { processes in
            let directory = try processes.temporaryDirectory("https")
            let certificates = try await TestCertificates.make(in: directory)
            let redis = try await processes.redis(tls: certificates.redisServer(server))
            let flags = withClientCertificate ? certificates.gatewayRedisFlags : ["--redis-tls-ca", certificates.caFile]
            let log = directory.appending(path: "gateway.log")
            let process = try processes.start(
                [GatewayProcess.executable, "serve", "--port", "0", "--redis-url", redis.url.description, "--admin-token", adminToken]
                    + flags + extra, output: .file(log))
            #expect(await process.waitForExit() != 0)
            let lines = try String(contentsOf: log, encoding: .utf8).split(separator: "\n")
            #expect(lines.last?.hasPrefix("Error: ") == true && lines.last?.contains(reason) == true, "\(lines.suffix(3))")
        }
    }

    /// The certificate and key replaced on disk are what a new connection gets, with no restart.
    @Test func aReplacedCertificateIsServedToNewConnections() async throws {
        try await withTestProcesses { processes in
            let directory = try processes.temporaryDirectory("https")
            let certificates = try await TestCertificates.make(in: directory)
            let live = (certificate: directory.appending(path: "live.crt"), key: directory.appending(path: "live.key"))
            func install(_ name: String) throws {
                // each file replaced whole (a rename), the key first
                for (kind, target) in [("key", live.key), ("crt", live.certificate)] {
                    let staged = directory.appending(path: "staged.\(kind)")
                    try? FileManager.default.removeItem(at: staged)
                    try FileManager.default.copyItem(atPath: certificates.file(name, kind), toPath: staged.path)
                    guard rename(staged.path, target.path) == 0 else { throw TestSupportError("cannot install \(name).\(kind)") }
                }
            }
            try install("server")
            let port = try freeLoopbackPort(), log = directory.appending(path: "gateway.log")
            func servedSubject() async throws -> String {
                let curl = try await Self.run(["curl", "-sS", "--cacert", certificates.caFile, "-o", "/dev/null", "-w", "%{certs}",
                                               "https://localhost:\(port)/healthz"])
                return curl.output.split(separator: "\n").first { $0.hasPrefix("Subject:") }.map(String.init) ?? curl.output
            }
            try await Self.withHTTPSClient(certificates) { https in
                _ = try await GatewayProcess.start(
                    ["--admin-token", adminToken, "--redis-url", try await SharedRedis.url().description, "--pool", "rotation-\(UUID().uuidString.prefix(8))",
                     "--tls-cert", live.certificate.path, "--tls-key", live.key.path],
                    port: port, log: log, processes: processes, https: https)
                #expect(try await servedSubject() == "Subject:CN = server")
                try await certificates.issueServerCertificate("rotated")
                try install("rotated")
                try await waitUntil("the gateway reads the new certificate") {
                    ((try? String(contentsOf: log, encoding: .utf8)) ?? "").contains("read the HTTPS certificate again")
                }
                #expect(try await servedSubject() == "Subject:CN = rotated")
            }
        }
    }

    /// Files that cannot be used stop the start with one line naming the file.
    @Test(arguments: [
        (["--tls-cert", "/nonexistent/cert.pem", "--tls-key", "KEY"], "/nonexistent/cert.pem is not a readable PEM file of a certificate"),
        (["--tls-cert", "CERT", "--tls-key", "/nonexistent/key.pem"], "/nonexistent/key.pem is not a readable PEM file of a private key"),
        (["--tls-cert", "CERT", "--tls-key", "CLIENT_KEY"], "is not the key of the certificate in"),
        (["--tls-cert", "CERT"], "--tls-cert needs --tls-key"),
        (["--redis-tls-ca", "/nonexistent/ca.pem"], "need a rediss:// --redis-url"),
        (["--redis-url", "rediss://127.0.0.1:1", "--redis-tls-ca", "/nonexistent/ca.pem"], "/nonexistent/ca.pem is not a readable PEM file of the CA"),
    ])
    func anUnusableFileStopsTheStartNamingIt(arguments: [String], message: String) async throws {
        try await withTestProcesses { processes in
            let directory = try processes.temporaryDirectory("https")
            let certificates = try await TestCertificates.make(in: directory)
            let substituted = arguments.map {
                ["CERT": certificates.file("server", "crt"), "KEY": certificates.file("server", "key"),
                 "CLIENT_KEY": certificates.file("client", "key")][$0] ?? $0
            }
            let log = directory.appending(path: "serve.log")
            let process = try processes.start([GatewayProcess.executable, "serve", "--port", "0"] + substituted, output: .file(log))
            #expect(await process.waitForExit() == 64)
            let text = try String(contentsOf: log, encoding: .utf8)
            #expect(text.hasPrefix("Error: ") && text.contains(message), "\(text)")
        }
    }

    /// A token never goes over plain http to another machine unless the user says so: the client
    /// refuses (exit 64) before connecting. (0.0.0.0 is not a loopback name, but reaches this
    /// machine's gateway, so the permitted call is answered.)
    @Test func aTokenIsNotSentOverPlainHTTPToAnotherMachineUnlessAllowed() async throws {
        try await withTestProcesses { processes in
            try await withGateway { gateway async throws in
                let alice = try await gateway.createUser("alice", quota: 1)
                let client = try CommandLineClientTests.Client(server: "http://0.0.0.0:\(gateway.port)", processes: processes)
                let refused = try await client.run(["ls"], token: alice)
                #expect(refused.code == 64 && refused.saysOneLine && refused.errors.contains("--allow-insecure-http"), "\(refused)")
                let allowed = try await client.run(["ls", "--allow-insecure-http"], token: alice)
                #expect(allowed.code == 0, "\(allowed)")
                for loopback in ["http://127.0.0.1:\(gateway.port)", "http://localhost:\(gateway.port)"] {
                    let local = try await client.run(["ls"], token: alice, server: loopback)
                    #expect(local.code == 0, "\(loopback): \(local)")
                }
                let anonymous = try await client.run(["ls"], token: nil)
                #expect(anonymous.code == 3, "no token, nothing to protect: the server answers 401 \(anonymous)")
            }
        }
    }

    /// With `--http2`, HTTPS speaks HTTP/2 to a client that asks for it by ALPN (and HTTP/1.1 to
    /// one that does not; without it, HTTP/1.1 to both); a waiting checkout over HTTP/2 whose
    /// client goes leaves the queue, and is handed no VM.
    @Test func http2ByALPNAndAWaitingCheckoutWhoseClientGoes() async throws {
        try await withTestProcesses { processes in
            let directory = try processes.temporaryDirectory("https")
            let certificates = try await TestCertificates.make(in: directory)
            let redis = try await SharedRedis.url(), pool = "http2-\(UUID().uuidString.prefix(8))", port = try freeLoopbackPort()
            try await Self.withHTTPSClient(certificates) { https in
                _ = try await GatewayProcess.start(
                    ["--redis-url", redis.description, "--pool", pool, "--admin-token", adminToken, "--http2"]
                        + Self.httpsFlags(certificates),
                    port: port, log: directory.appending(path: "gateway.log"), processes: processes, https: https)
                let gateway = Gateway(port: port, https: https)
                let alice = try await gateway.createUser("alice", quota: 1)
                let url = "https://localhost:\(port)"
                // (the other tests' gateways, without --http2, answer a client that asks for HTTP/2 in HTTP/1.1)
                let plainPort = try freeLoopbackPort()
                _ = try await GatewayProcess.start(
                    ["--redis-url", redis.description, "--pool", pool, "--admin-token", adminToken] + Self.httpsFlags(certificates),
                    port: plainPort, log: directory.appending(path: "gateway-http1.log"), processes: processes, https: https)
                let asked = try await Self.run(["curl", "-sS", "--http2", "--cacert", certificates.caFile, "-o", "/dev/null",
                                                "-w", "%{http_version} %{http_code}", "https://localhost:\(plainPort)/healthz"])
                #expect(asked.output == "1.1 200", "no HTTP/2 without --http2: \(asked)")
                for (flag, version) in [("--http2", "2"), ("--http1.1", "1.1")] {
                    let curl = try await Self.run(["curl", "-sS", flag, "--cacert", certificates.caFile, "-o", "/dev/null",
                                                   "-w", "%{http_version} %{http_code}", url + "/healthz"])
                    #expect(curl.output == "\(version) 200", "\(flag): \(curl)")
                }
                let waiting = try processes.start(
                    ["curl", "-sS", "--http2", "--cacert", certificates.caFile, "-X", "POST", "-H", "Authorization: Bearer \(alice)",
                     url + "/v1/checkouts?wait=600"], output: .file(directory.appending(path: "waiting.out")))
                let waiters = "vmreserve:{\(pool)}:waiters"
                try await waitUntil("the checkout over HTTP/2 waits") { (try? await sendToRedis(redis, ["ZCARD", waiters]))?.first?.int == 1 }
                await waiting.terminate(with: SIGKILL)
                try await waitUntil("its client gone, it leaves the queue") {
                    (try? await sendToRedis(redis, ["ZCARD", waiters]))?.first?.int == 0
                }
                let created = try await gateway.createVMs(1)
                #expect(created.count == 1)
                let stats = try await gateway.call(.GET, "/v1/admin/pool")
                #expect((stats.data?["counts"] as? [String: Int])?["available"] == 1, "no VM handed to the client that went: \(stats.text)")
            }
        }
    }
}
