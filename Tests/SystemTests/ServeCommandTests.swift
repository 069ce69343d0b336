import Foundation
import GatewayTestSupport
import NIOCore
import RedisClient
import RedisServerProcess
import Testing
import TestSupport

#if canImport(Glibc)
import Glibc
#endif

/// `vmreserve serve` as users run it: the built executable, its flags and environment variables,
/// dev mode's own redis-server, and shutdown on SIGTERM.
@Suite(.timeLimit(.minutes(10))) struct ServeCommandTests {
    /// A pool of a layout this version cannot read (here one from before the bucketed layout) is
    /// left as it is: the gateway does not start, and says why.
    @Test func aGatewayRefusesToStartOnAPoolOfALayoutItCannotReadAndSaysWhy() async throws {
        try await withTestProcesses { processes in
            let server = try await processes.redis()
            _ = try await sendToRedis(server.url, ["HSET", "vmreserve:{default}:pool", "max_vm_count", "5", "vm_count", "0"])
            let port = try freeLoopbackPort(), log = try processes.temporaryDirectory("old-layout").appending(path: "log")
            let process = try processes.start([GatewayProcess.executable, "serve", "--port", String(port), "--redis-url",
                                               "redis://127.0.0.1:\(server.port)/0", "--admin-token", adminToken], output: .file(log))
            try await waitUntil("the gateway stops") { !process.isRunning }
            #expect(process.exitCode != 0)
            let output = try String(contentsOf: log, encoding: .utf8)
            #expect(output.contains("this pool was written by a vmreserve from before bucketed records"), "\(output)")
            let pool = try await sendToRedis(server.url, ["HGETALL", "vmreserve:{default}:pool"]).first?.array?.compactMap(\.string)
            #expect(pool.map { Set($0) } == ["max_vm_count", "5", "vm_count", "0"], "left as it was")
        }
    }

    /// The gateway reads, at start, whether Redis writes every change to disk before it answers,
    /// and warns when it does not.
    @Test func aRedisThatDoesNotSyncEveryChangeToDiskIsNamedInAWarning() async throws {
        try await withTestProcesses { processes in
            for persistent in [false, true] {
                let server = try await processes.redis(persistent: persistent)  // appendfsync always, or no AOF at all
                let port = try freeLoopbackPort(), log = try processes.temporaryDirectory("durability").appending(path: "log")
                _ = try await GatewayProcess.start(["--redis-url", "redis://127.0.0.1:\(server.port)/0", "--admin-token", adminToken],
                                                   port: port, log: log, processes: processes)
                var text = ""
                try await waitUntil("the gateway has read Redis' persistence settings") {
                    text = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
                    return text.contains("Redis does not write every change") || text.contains("Redis writes every change")
                }
                #expect(text.contains("Redis does not write every change") == !persistent, "\(text)")
                if !persistent { #expect(text.contains("appendonly no"), "\(text)") }
            }
        }
    }

    @Test func everyOptionReadsItsEnvironmentVariableAndSIGTERMStopsCleanly() async throws {
        try await withTestProcesses { processes in
            let server = try await processes.redis()  // its own: the test counts its clients
            let port = try freeLoopbackPort(), directory = try processes.temporaryDirectory("cli")
            let process = try await GatewayProcess.start([], environment: [
                "VMRESERVE_PORT": String(port),
                "VMRESERVE_REDIS_CONNECTIONS": "3",
                "VMRESERVE_REDIS_URL": "redis://127.0.0.1:\(server.port)/2",
                "VMRESERVE_ADMIN_TOKEN": adminToken,
                "VMRESERVE_MAX_VM_COUNT": "7",
                "VMRESERVE_DEFAULT_QUOTA": "3",
                "VMRESERVE_DEFAULT_LEASE": "120",
                "VMRESERVE_MAX_LEASE": "600",
                "VMRESERVE_IP_POOL": "192.0.2.0/28",
                "VMRESERVE_SIZES": "tiny=1:512,huge=64:262144",
                "VMRESERVE_POOL": "from-env",
                "VMRESERVE_LOG_LEVEL": "info",
            ], port: port, log: directory.appending(path: "log"), processes: processes)
            let gateway = Gateway(port: port)
            #expect(try await gateway.call(.GET, "/v1/admin/pool").data?["max_vm_count"] as? Int == 7)
            #expect(try await gateway.call(.GET, "/v1/admin/pool").data?["ip_pool"] as? String == "192.0.2.0/28", "VMRESERVE_IP_POOL")
            #expect(try await gateway.call(.POST, "/v1/admin/users", body: #"{"name": "u"}"#).data?["quota"] as? Int == 3)
            #expect(try await gateway.call(.GET, "/v1/admin/pool", token: nil).status == 401)
            let sized = try await gateway.createVMs(2)
            #expect(sized.allSatisfy { $0["size"] as? String == "tiny" && $0["memory_mb"] as? Int == 512 }, "VMRESERVE_SIZES")
            #expect(try await gateway.call(.POST, "/v1/checkouts").leaseLength() == 120, "VMRESERVE_DEFAULT_LEASE")
            let tooLong = try await gateway.call(.POST, "/v1/checkouts", body: #"{"lease_seconds": 601}"#)
            #expect(tooLong.status == 400, "VMRESERVE_MAX_LEASE: \(tooLong.text)")
            let (keys, clients) = try await withRedisClient(.test(.init(host: "127.0.0.1", port: server.port, database: 2), connectionCount: 1)) { client in
                let keys = try await client.send(.init("KEYS", ["*"])).array?.compactMap(\.string) ?? []
                let list = try await client.send(.init("CLIENT", ["LIST"])).string ?? ""
                // each gateway connection named vmreserve:HOST:PID, this test's own without a name
                return (keys, list.split(separator: "\n").map { $0.split(separator: " ").first { $0.hasPrefix("name=") } ?? "" })
            }
            #expect(keys.contains("vmreserve:{from-env}:pool"))
            let gatewayClients = clients.filter { $0 != "name=" }
            #expect(gatewayClients.count == 3 + 1 && clients.count == gatewayClients.count + 1,
                    "VMRESERVE_REDIS_CONNECTIONS, and the one the handoff listener blocks on: \(clients)")
            #expect(gatewayClients.allSatisfy { $0.hasPrefix("name=vmreserve:") && $0.hasSuffix(":\(process.pid)") }, "\(clients)")
            #expect(await process.terminate(with: SIGTERM) == 0)
            let log = try String(contentsOf: directory.appending(path: "log"), encoding: .utf8)
            let lines = log.split(separator: "\n").filter { $0.contains("route=/v1/admin/pool") }
            #expect(lines.count == 3, "one line per request")
            #expect(lines.contains { $0.contains("status=200") && $0.contains("method=GET") && $0.contains("duration_ms=") })
            #expect(lines.contains { $0.contains("status=401") })
            #expect(!log.contains(adminToken))
            #expect(!log.contains("tasks run on Swift's global thread pool"), "the event loops run the gateway's tasks (EventLoopGlobalExecutor)")
        }
    }

    @Test func aStalledStandardOutputStallsNeitherRequestsNorShutdown() async throws {
        try await withTestProcesses { processes in
            let redis = try await SharedRedis.url(), pool = "cli-\(UUID().uuidString)"  // a pool of its own there
            let port = try freeLoopbackPort(), directory = try processes.temporaryDirectory("cli")
            let pipe = directory.appending(path: "stdout")
            #expect(mkfifo(pipe.path, 0o600) == 0)
            let reader = open(pipe.path, O_RDONLY | O_NONBLOCK)  // keeps the pipe open and never reads it
            defer { close(reader) }
            let process = try await GatewayProcess.start(["--redis-url", redis.description, "--pool", pool, "--admin-token", adminToken],
                                                         port: port, log: pipe, processes: processes)
            let gateway = Gateway(port: port)
            // a log line of ~150 bytes per request: 2,000 of them are several times what a pipe holds
            try await withThrowingTaskGroup { group in
                for _ in 0..<8 {
                    group.addTask {
                        for _ in 0..<250 { _ = try await gateway.call(.GET, "/v1/admin/pool") }
                    }
                }
                try await group.waitForAll()
            }
            let started = ContinuousClock.now
            #expect(try await gateway.call(.GET, "/v1/admin/nothing").status == 404)
            #expect(await process.terminate(with: SIGTERM) == 0)
            // a shutdown stalled by its output would wait out the 30 s drain limit, or forever
            #expect(ContinuousClock.now - started < .seconds(20))
        }
    }

    @Test func byDefaultEveryEventLoopHasARedisConnectionOfItsOwn() async throws {
        try await withTestProcesses { processes in
            let server = try await processes.redis()  // its own: the test counts its clients
            let port = try freeLoopbackPort(), directory = try processes.temporaryDirectory("connections")
            let process = try await GatewayProcess.start(["--redis-url", "redis://127.0.0.1:\(server.port)/0"],
                                                         port: port, log: directory.appending(path: "log"), processes: processes)
            let expected = min(64, max(2, System.coreCount)) + 1  // and the one the handoff listener blocks on
            var clients = 0
            try await waitUntil("the gateway has connected \(expected) clients") {
                clients = (try? await withRedisClient(.test(.init(host: "127.0.0.1", port: server.port), connectionCount: 1)) { client in
                    (try await client.send(.init("CLIENT", ["LIST"])).string ?? "").split(separator: "\n").count - 1
                }) ?? 0
                return clients >= expected
            }
            #expect(clients == expected)
            #expect(await process.terminate(with: SIGTERM) == 0)
        }
    }

    @Test func aRedisOnAUnixSocketServesCheckoutsAndCheckins() async throws {
        try await withTestProcesses { processes in
            let socket = try processes.temporaryDirectory("socket").appending(path: "redis.sock").path
            let server = try await processes.redis(extraArguments: ["--unixsocket", socket, "--unixsocketperm", "700"])
            let port = try freeLoopbackPort(), directory = try processes.temporaryDirectory("cli")
            let process = try await GatewayProcess.start(["--redis-url", "unix://\(socket)", "--admin-token", adminToken],
                                                         port: port, log: directory.appending(path: "log"), processes: processes)
            let gateway = Gateway(port: port)
            try await gateway.createVMs(2)
            let checkout = try await gateway.call(.POST, "/v1/checkouts")
            #expect(checkout.status == 201)
            let ip = try #require(checkout.data?["ip"] as? String)
            #expect(try await gateway.call(.POST, "/v1/checkins", body: #"{"ip": "\#(ip)"}"#).status == 200)
            // every connection of the gateway (one per event loop, and the handoff listener's, which
            // blocks in BLPOP: its flags are `bU`) is a Unix socket client: U among its flags
            let expected = min(64, max(2, System.coreCount)) + 1
            var gatewayClients: [[String: String]] = []
            try await waitUntil("the gateway has connected \(expected) clients") {
                gatewayClients = ((try? await Self.clients(of: server.url)) ?? []).filter { $0["name"]?.hasPrefix("vmreserve:") == true }
                return gatewayClients.count >= expected
            }
            #expect(gatewayClients.count == expected)
            #expect(gatewayClients.allSatisfy { $0["flags"]?.contains("U") == true }, "every gateway connection on the socket: \(gatewayClients)")
            #expect(await process.terminate(with: SIGTERM) == 0)
        }
    }

    /// Redis' CLIENT LIST, each client as its fields (`name`, `flags`...).
    static func clients(of url: RedisURL) async throws -> [[String: String]] {
        let list = try await withRedisClient(.test(url, connectionCount: 1)) { client in
            try await client.send(.init("CLIENT", ["LIST"])).string ?? ""
        }
        return list.split(separator: "\n").map { line in
            var fields: [String: String] = [:]
            for pair in line.split(separator: " ") {
                let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                if parts.count == 2 { fields[String(parts[0])] = String(parts[1]) }
            }
            return fields
        }
    }

    @Test func withoutAnAdminTokenNoTokenIsAnAdmin() async throws {
        try await withTestProcesses { processes in
            let redis = try await SharedRedis.url(), pool = "cli-\(UUID().uuidString)"  // a pool of its own there
            let port = try freeLoopbackPort(), directory = try processes.temporaryDirectory("cli")
            let process = try await GatewayProcess.start(["--redis-url", redis.description, "--pool", pool],
                                                         port: port, log: directory.appending(path: "log"), processes: processes)
            let gateway = Gateway(port: port)
            for token in [nil, adminToken, "admin", "", String(repeating: "0", count: 64)] as [String?] {
                let response = try await gateway.call(.GET, "/v1/admin/pool", token: token)
                #expect(response.status == 401, "\(token ?? "no token")")
                #expect(response.code == "unauthorized")
            }
            #expect(await process.terminate(with: SIGTERM) == 0)
        }
    }

    @Test func sigtermLetsInFlightRequestsFinish() async throws {
        try await withTestProcesses { processes in
            let redis = try await SharedRedis.url(), pool = "cli-\(UUID().uuidString)"  // a pool of its own there
            let port = try freeLoopbackPort(), directory = try processes.temporaryDirectory("cli")
            let process = try await GatewayProcess.start(["--redis-url", redis.description, "--pool", pool, "--admin-token", adminToken],
                                                         port: port, log: directory.appending(path: "log"), processes: processes)
            try await Gateway(port: port).createVMs(1)
            // a checkout whose body is still arriving: in flight, for as long as the test likes
            let body = #"{"lease_seconds": 60}"#
            let connection = try RawHTTPConnection(port: port)
            try connection.send("POST /v1/checkouts HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer \(adminToken)\r\n"
                                + "Content-Length: \(body.utf8.count)\r\n\r\n" + body.prefix(10))
            try await waitUntil("the gateway has the checkout in flight (and the scrape that asks)") {
                (try? await Gateway(port: port).call(.GET, "/metrics", token: nil).gauge("vmreserve_http_requests_in_flight")) == 2
            }
            process.signal(SIGTERM)
            try await waitUntil("the gateway has begun to shut down") {
                ((try? String(contentsOf: directory.appending(path: "log"), encoding: .utf8)) ?? "").contains("shutting down")
            }
            #expect(process.isRunning, "the gateway waits for the request in flight")
            try connection.send(String(body.dropFirst(10)))
            let answer = await connection.readAnswer()
            #expect(answer.hasPrefix("HTTP/1.1 201"), "\(answer)")
            #expect(await process.waitForExit() == 0)
        }
    }

    /// `--log-format json`: every line one JSON object with its time, level and message; a
    /// request's line with its method, route, status and duration; no token in any line.
    @Test func aJSONLogIsOneObjectALineWithTheRequestsFields() async throws {
        try await withTestProcesses { processes in
            let redis = try await SharedRedis.url(), directory = try processes.temporaryDirectory("json-log")
            let port = try freeLoopbackPort(), log = directory.appending(path: "gateway.log")
            let process = try await GatewayProcess.start(
                ["--redis-url", redis.description, "--pool", "json-log-\(UUID().uuidString)", "--admin-token", adminToken,
                 "--log-format", "json"],
                port: port, log: log, processes: processes)
            let gateway = Gateway(port: port)
            let token = try await gateway.createUser("jason", quota: 1)
            for _ in 0..<2 { #expect(try await gateway.call(.GET, "/v1/vms/mine", token: token).status == 200) }
            #expect(try await gateway.call(.GET, "/v1/vms/mine/history", token: "an-unknown-token-0123456789").status == 401)
            #expect(await process.terminate(with: SIGTERM) == 0)
            let lines = try String(contentsOf: log, encoding: .utf8).split(separator: "\n").filter { $0.hasPrefix("{") }
            let objects = lines.compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: String] }
            #expect(objects.count == lines.count && objects.count >= 3, "\(lines.prefix(3))")
            #expect(objects.allSatisfy { $0["time"] != nil && $0["level"] != nil && $0["message"] != nil })
            let request = objects.first { $0["message"] == "request" && $0["route"] == "/v1/vms/mine" }
            #expect(request?["method"] == "GET" && request?["status"] == "200" && request?["duration_ms"].flatMap(Double.init) != nil,
                    "\(String(describing: request))")
            // the caller by name: a token's user (each time, looked up once), the admin token's
            let mine = objects.filter { $0["route"] == "/v1/vms/mine" }
            #expect(mine.count == 2 && mine.allSatisfy { $0["caller"] == "jason" }, "\(mine)")
            #expect(objects.first { $0["route"] == "/v1/admin/users" }?["caller"] == "admin")
            let refused = objects.first { $0["route"] == "/v1/vms/mine/history" }
            #expect(refused?["status"] == "401" && refused?["caller"] == nil, "no name for a refused token: \(String(describing: refused))")
            #expect(!lines.contains { $0.contains(token) || $0.contains(adminToken) }, "no token in the log")
        }
    }

    @Test func aFlagWinsOverItsVariable() async throws {
        try await withTestProcesses { processes in
            let redis = try await SharedRedis.url(), pool = "cli-\(UUID().uuidString)"  // a pool of its own there
            let port = try freeLoopbackPort(), directory = try processes.temporaryDirectory("cli")
            let process = try await GatewayProcess.start(
                ["--max-vm-count", "9", "--redis-url", redis.description, "--pool", pool, "--default-quota", "6"],
                environment: ["VMRESERVE_MAX_VM_COUNT": "7", "VMRESERVE_ADMIN_TOKEN": adminToken,
                              "VMRESERVE_REDIS_URL": "redis://127.0.0.1:1/0", "VMRESERVE_DEFAULT_QUOTA": "2"],
                port: port, log: directory.appending(path: "log"), processes: processes)
            let gateway = Gateway(port: port)
            #expect(try await gateway.call(.GET, "/v1/admin/pool").data?["max_vm_count"] as? Int == 9)
            #expect(try await gateway.call(.POST, "/v1/admin/users", body: #"{"name": "u"}"#).data?["quota"] as? Int == 6)
            #expect(await process.terminate(with: SIGINT) == 0)
        }
    }

    @Test(arguments: [
        (["--port", "http"], [:]),
        ([], ["VMRESERVE_PORT": "x"]),
        (["--redis-url", "http://127.0.0.1:6379"], [:]),
        (["--redis-url", "unix://redis.sock"], [:]),
        (["--redis-password-file", "/no/such/file"], [:]),
        (["--redis-url", "redis://:secret@127.0.0.1:6379/0", "--redis-password-file", "/etc/hostname"], [:]),
        (["--redis-url", "unix:///tmp/redis.sock", "--redis-cluster", "127.0.0.1:7000"], [:]),
        (["--redis-url", "unix:///tmp/redis.sock", "--redis-sentinel", "127.0.0.1:26379", "--sentinel-master", "vmr"], [:]),
        (["--dev", "--host", "0.0.0.0"], [:]),
        ([], ["VMRESERVE_DEV": "1", "VMRESERVE_HOST": "0.0.0.0"]),
        (["--admin-token", "short"], [:]),
        (["--pool", "a{b}"], [:]),
        (["--pool", "a", "--pool", "a"], [:]),
        (["--pool", "a/b"], [:]),
        ([], ["VMRESERVE_POOL": "a,,b"]),
        (["--max-vm-count", "-1"], [:]),
        (["--log-level", "loud"], [:]),
        (["--log-format", "yaml"], [:]),
        (["--default-lease", "0"], [:]),
        (["--max-lease", "0"], [:]),
        (["--ip-pool", "10.0.0.1/24"], [:]),
        ([], ["VMRESERVE_IP_POOL": "10.0.0.0/8"]),
        (["--max-wait", "-1"], [:]),
        (["--idle-delete-after", "0"], [:]),
        (["--min-ready", "-1"], [:]),
        (["--sizes", "small=1"], [:]),
        (["--sizes", "a=1:2,a=2:4"], [:]),
        ([], ["VMRESERVE_SIZES": "big one=1:2"]),
        (["--default-lease", "700", "--max-lease", "600"], [:]),
        ([], ["VMRESERVE_MAX_LEASE": "31536001"]),
        (["--provider", "cloud"], [:]),
        (["--provider", "exec"], [:]),
        (["--provider", "exec", "--provision-cmd", "/bin/true"], [:]),
        (["--provider", "exec", "--provision-cmd", "/no/such/command", "--deprovision-cmd", "/bin/true"], [:]),
        (["--provider", "exec", "--provision-cmd", "/bin/true", "--deprovision-cmd", "/bin/true", "--on-return", "reset"], [:]),
        (["--provider", "exec", "--provision-cmd", "/bin/true", "--deprovision-cmd", "/bin/true", "--boot-delay", "1"], [:]),
        (["--provision-cmd", "/bin/true"], [:]),
        (["--failure-rate", "1.5"], [:]),
        ([], ["VMRESERVE_BOOT_DELAY": "-1"]),
        (["--on-return", "recycle"], [:]),
        (["--job-claim", "1"], [:]),
        (["--idempotency-window", "0"], [:]),
        (["--redis-sentinel", "127.0.0.1:26379"], [:]),
        (["--sentinel-master", "vmr"], [:]),
        (["--redis-sentinel", "127.0.0.1:0", "--sentinel-master", "vmr"], [:]),
        (["--min-replicas-ack", "17"], [:]),
        (["--http2"], [:]),
        (["--sentinel-tls"], [:]),
        (["--sentinel-password-file", "/etc/hostname"], [:]),
        (["--redis-url", "unix:///tmp/redis.sock", "--redis-tls-ca", "/etc/hostname"], [:]),
        (["--oidc-issuer", "https://login.example.com"], [:]),
        (["--oidc-audience", "vmreserve"], [:]),
        (["--oidc-issuer", "http://login.example.com", "--oidc-audience", "vmreserve"], [:]),
        ([], ["VMRESERVE_REPLICA_ACK_TIMEOUT": "0"]),
        ([], ["VMRESERVE_IDEMPOTENCY_WINDOW": "604801"]),
        ([], ["VMRESERVE_PROVIDER": "exec", "VMRESERVE_PROVISION_CMD": "/bin/true", "VMRESERVE_DEPROVISION_CMD": "/bin/true",
              "VMRESERVE_PROVIDER_TIMEOUT": "0"]),
    ] as [([String], [String: String])])
    func badSettingsStopTheServerAtStart(_ arguments: [String], _ environment: [String: String]) async throws {
        try await withTestProcesses { processes in
            let log = try processes.temporaryDirectory("cli").appending(path: "log")
            let process = try processes.start([GatewayProcess.executable, "serve"] + arguments, environment: environment, output: .file(log))
            let code = await process.waitForExit()
            #expect(code != 0)
            let output = try String(contentsOf: log, encoding: .utf8)
            #expect(output.contains("Error"), "\(output)")
        }
    }

    @Test func devModeUsesARedisThatAnswersAndStartsNoChild() async throws {
        try await withTestProcesses { processes in
            let server = try await processes.redis()  // its own: the test looks at every key
            let port = try freeLoopbackPort(), directory = try processes.temporaryDirectory("cli")
            let data = directory.appending(path: "data")
            let process = try await GatewayProcess.start(["--dev", "--redis-url", server.url.description, "--data-dir", data.path],
                                                         port: port, log: directory.appending(path: "log"), processes: processes)
            #expect(try await Gateway(port: port).call(.GET, "/createVM/", token: nil).status == 201)
            #expect(await process.terminate(with: SIGINT) == 0)
            #expect(!FileManager.default.fileExists(atPath: data.path), "no redis-server child, no data folder")
            #expect(server.isRunning)
            let keys = try await withRedisClient(.test(server.url, connectionCount: 1)) { client in
                try await client.send(.init("KEYS", ["*"])).array?.count ?? 0
            }
            #expect(keys > 0, "the VM went to the Redis that answered")
        }
    }

    @Test func devModesRedisSeesNeitherThePasswordOnItsCommandLineNorTheGatewaysVariables() async throws {
        try await withTestProcesses { processes in
            let port = try freeLoopbackPort(), redisPort = try freeLoopbackPort(), directory = try processes.temporaryDirectory("cli")
            let data = directory.appending(path: "data")
            let process = try await GatewayProcess.start(
                ["--dev", "--redis-url", "redis://:pa ss\"word@127.0.0.1:\(redisPort)/0", "--data-dir", data.path],
                environment: ["VMRESERVE_ADMIN_TOKEN": adminToken], port: port, log: directory.appending(path: "log"), processes: processes)
            #expect(try await Gateway(port: port).call(.GET, "/createVM/", token: nil).status == 201, "the gateway authenticates")
            let redis = try #require(ProcessEntry.all().first { $0.name == "redis-server" && $0.commandLine.contains("\(redisPort)") })
            #expect(!redis.commandLine.contains("pa ss"))
            #expect(!redis.environment.contains(adminToken))
            #expect(redis.processGroup == redis.pid, "a Ctrl-C for the gateway does not reach Redis")
            let attributes = try FileManager.default.attributesOfItem(atPath: data.appending(path: "vmreserve-password.conf").path)
            #expect((attributes[.posixPermissions] as? Int) == 0o600)
            #expect(await process.terminate(with: SIGINT) == 0)
            #expect(!acceptsConnections(port: redisPort), "the gateway stopped its Redis on the way out")
        }
    }

    @Test func devModeStartsItsOwnPersistentRedisAndStopsItOnExit() async throws {
        try await withTestProcesses { processes in
            let port = try freeLoopbackPort(), redisPort = try freeLoopbackPort(), directory = try processes.temporaryDirectory("cli")
            let arguments = ["--dev", "--redis-url", "redis://127.0.0.1:\(redisPort)/0"]
            let data = directory.appending(path: "data").path
            let gateway = Gateway(port: port)

            let first = try await GatewayProcess.start(arguments + ["--data-dir", data], port: port, log: directory.appending(path: "log"),
                                                       processes: processes)
            #expect(acceptsConnections(port: redisPort))
            #expect(try await gateway.call(.GET, "/createVM/", token: nil).status == 201)
            let held = try await gateway.call(.GET, "/checkoutVM/", token: nil)
            #expect(held.status == 201)
            #expect(held["user"] == "anonymous")
            #expect(await first.terminate(with: SIGTERM) == 0)
            #expect(!acceptsConnections(port: redisPort), "the child redis-server stops with the gateway")
            #expect(FileManager.default.fileExists(atPath: directory.appending(path: "data/appendonlydir").path))

            // the same folder through the environment: the reservation made before is still there
            let second = try await GatewayProcess.start(arguments, environment: ["VMRESERVE_DATA_DIR": data], port: port,
                                                        log: directory.appending(path: "log"), processes: processes)
            let mine = try await gateway.call(.GET, "/v1/vms/mine", token: nil)
            #expect(mine.items?.compactMap { $0["vm_id"] as? String } == [held["vm_id"]!])
            #expect(await second.terminate(with: SIGTERM) == 0)
        }
    }
}
