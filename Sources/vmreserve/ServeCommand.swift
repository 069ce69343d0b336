import ArgumentParser
import Foundation
import Hummingbird
import Logging
import NIOCore
import OTel
import RedisClient
import RedisServerProcess
import ReservationHTTP
import Reservations
import ServiceLifecycle

/// `vmreserve serve`: runs the HTTP gateway. Every flag falls back to an environment variable,
/// then to its default.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the HTTP gateway.",
        discussion: """
            Every option also reads an environment variable: VMRESERVE_HOST, VMRESERVE_PORT, VMRESERVE_REDIS_URL, \
            VMRESERVE_ADMIN_TOKEN, VMRESERVE_MAX_VM_COUNT, VMRESERVE_DEFAULT_QUOTA, VMRESERVE_DEV (1 or true), \
            VMRESERVE_DEFAULT_LEASE, VMRESERVE_MAX_LEASE, VMRESERVE_MAX_WAIT, VMRESERVE_IP_POOL, VMRESERVE_IDLE_DELETE_AFTER, VMRESERVE_MIN_READY, VMRESERVE_SIZES, VMRESERVE_PROVIDER, VMRESERVE_BOOT_DELAY, \
            VMRESERVE_FAILURE_RATE, VMRESERVE_PROVISION_CMD, VMRESERVE_DEPROVISION_CMD, VMRESERVE_RESET_CMD, \
            VMRESERVE_PROVIDER_TIMEOUT, VMRESERVE_ON_RETURN, VMRESERVE_JOB_CLAIM, VMRESERVE_IDEMPOTENCY_WINDOW, VMRESERVE_REDIS_SENTINEL, VMRESERVE_SENTINEL_MASTER, VMRESERVE_REDIS_CLUSTER, VMRESERVE_OTLP_ENDPOINT, \
            VMRESERVE_MIN_REPLICAS_ACK, VMRESERVE_REPLICA_ACK_TIMEOUT, VMRESERVE_ADMIN_TOKEN_FILE, VMRESERVE_AUTH_FAILURE_LIMIT, \
            VMRESERVE_TRUST_FORWARDED_FOR (1 or true), VMRESERVE_OIDC_ISSUER, VMRESERVE_OIDC_AUDIENCE, \
            VMRESERVE_OIDC_USER_CLAIM, VMRESERVE_DATA_DIR, VMRESERVE_POOL, VMRESERVE_REDIS_CONNECTIONS, \
            VMRESERVE_LOG_LEVEL. A flag wins over its variable.
            """
    )

    @Option(help: "Address to listen on. (default: 127.0.0.1)") var host: String?
    @Option(help: "Port to listen on. (default: 5000)") var port: Int?
    @Option(name: .customLong("redis-url"), help: "redis://[[user]:password@]host[:port][/db], or unix://[[user]:password@]/path/to/redis.sock[?db=N] for a Redis on this machine (default: redis://127.0.0.1:6379/0)")
    var redisURL: String?
    @Option(name: .customLong("admin-token"), help: "Bearer token of the built-in admin; give it twice (old and new) while rotating it. No default: without it, only users created by an admin (or dev mode) can act.")
    var adminToken: [String] = []
    @Option(name: .customLong("admin-token-file"), help: "A file of admin tokens, one per line (# comments), read again whenever it changes: rotate the admin token by adding the new one, then removing the old one, with no restart.")
    var adminTokenFile: String?
    @Option(name: .customLong("auth-failure-limit"), help: "Failed authentications one client address may make in a minute; after that its requests with a token are answered 429 until the minute ends. 0: no limit. (default: 10)")
    var authFailureLimit: Int?
    @Option(name: .customLong("oidc-issuer"), help: "Single sign-on: accept JWTs from this OpenID Connect issuer (https://…; its /.well-known/openid-configuration names its keys). Needs --oidc-audience.")
    var oidcIssuer: String?
    @Option(name: .customLong("oidc-audience"), help: "The audience (client id) an identity token must be for.")
    var oidcAudience: String?
    @Option(name: .customLong("oidc-user-claim"), help: "The claim holding the vmreserve user's name. (default: sub)")
    var oidcUserClaim: String?
    @Flag(name: .customLong("trust-forwarded-for"), help: "Take the client's address from the last X-Forwarded-For entry: only behind a proxy that sets it (docker-compose.yml's HAProxy does).")
    var trustForwardedFor = false
    @Option(name: .customLong("max-vm-count"), help: "Cap on VMs, used only when Redis has none yet. (default: 100)")
    var maxVMCount: Int?
    @Option(name: .customLong("default-quota"), help: "Quota of users created without one. (default: 5)")
    var defaultQuota: Int?
    @Option(name: .customLong("default-lease"), help: "Lease in seconds of a checkout that asks for none. (default: none, such a VM is held until checked in)")
    var defaultLease: Int?
    @Option(name: .customLong("max-lease"), help: "Longest lease in seconds a checkout or renewal may ask for, unless an admin gives a user a maximum of their own. (default: 604800, 7 days)")
    var maxLease: Int?
    @Option(name: .customLong("max-wait"), help: "Longest a checkout may wait for a VM with ?wait=, in seconds. (default: 30)")
    var maxWait: Int?
    @Option(name: .customLong("ip-pool"), help: "A CIDR block (e.g. 203.0.113.0/26) new VMs take their addresses from, used only when Redis has none yet; admins change it with PUT /v1/admin/pool. (default: random public addresses)")
    var ipPool: String?
    @Option(name: .customLong("idle-delete-after"), help: "Delete available VMs nobody has checked out for this many seconds, never below --min-ready. (default: never)")
    var idleDeleteAfter: Int?
    @Option(name: .customLong("min-ready"), help: "Keep this many VMs available: create them, within the cap, when fewer are. (default: 0)")
    var minReady: Int?
    @Option(help: "The sizes VMs come in, name=cpu:memory_mb,... (the first is the default size), used only when Redis has none yet. (default: small=1:2048,medium=2:4096,large=4:8192)")
    var sizes: String?
    @Option(help: "Where VMs' machines come from: simulator, or exec (an operator's commands). (default: simulator)")
    var provider: String?
    @Option(name: .customLong("boot-delay"), help: "Simulator: seconds a provision, reset or deprovision takes; while it runs the VM is provisioning (or deprovisioning). (default: 0)")
    var bootDelay: Double?
    @Option(name: .customLong("failure-rate"), help: "Simulator: the probability, 0 to 1, that a provision or reset fails and leaves the VM in error. (default: 0)")
    var failureRate: Double?
    @Option(name: .customLong("provision-cmd"), help: "Exec provider: the command that makes a machine (JSON on stdin and stdout, see README).")
    var provisionCommand: String?
    @Option(name: .customLong("deprovision-cmd"), help: "Exec provider: the command that destroys a machine.")
    var deprovisionCommand: String?
    @Option(name: .customLong("reset-cmd"), help: "Exec provider: the command that resets a returned machine (needed for --on-return reset).")
    var resetCommand: String?
    @Option(name: .customLong("provider-timeout"), help: "Exec provider: seconds a command may run before it is killed and the call fails. (default: 600)")
    var providerTimeout: Int?
    @Option(name: .customLong("on-return"), help: "What happens to a VM that comes back: reuse (available again), reset (the provider resets it first) or replace (deprovisioned, a fresh one created in its place). (default: reuse)")
    var onReturn: String?
    @Option(name: .customLong("job-claim"), help: "Seconds a gateway's claim on provider work lasts unless renewed: how soon another gateway takes over the work of one that died. (default: 30)")
    var jobClaim: Int?
    @Option(name: .customLong("redis-sentinel"), help: "Sentinels that name the Redis primary, host:port,... (port 26379 when left out); with them --redis-url gives only the password and database. Needs --sentinel-master.")
    var redisSentinel: String?
    @Option(name: .customLong("sentinel-master"), help: "The name the sentinels monitor the primary under.")
    var sentinelMaster: String?
    @Option(name: .customLong("redis-cluster"), help: "Some nodes of a Redis Cluster, host:port,... (port 6379 when left out): the gateway reads the slot map from them and sends the pool's calls to the master of its slot, following MOVED and ASK; --redis-url then gives only the password.")
    var redisCluster: String?
    @Option(name: .customLong("otlp-endpoint"), help: "Send traces (a span per request and per Redis call) over OTLP/HTTP to this collector, e.g. http://127.0.0.1:4318; spans go to its /v1/traces. OTEL_* variables tune the exporter (e.g. OTEL_EXPORTER_OTLP_PROTOCOL=http/json). Off by default.")
    var otlpEndpoint: String?
    @Option(name: .customLong("min-replicas-ack"), help: "Answer a change only once this many replicas have it (WAIT); otherwise 503. (default: 0, answers do not wait)")
    var minReplicasAck: Int?
    @Option(name: .customLong("replica-ack-timeout"), help: "Milliseconds a change waits for --min-replicas-ack replicas. (default: 1000)")
    var replicaAckTimeout: Int?
    @Option(name: .customLong("idempotency-window"), help: "Seconds the answer to a checkout or create with an Idempotency-Key is kept for retries. (default: 86400)")
    var idempotencyWindow: Int?
    @Flag(help: "Development mode: loopback only; requests without a token act as the 'anonymous' admin; starts a local redis-server if none answers.")
    var dev = false
    @Option(name: .customLong("data-dir"), help: "Where dev mode's redis-server keeps its files. (default: .vmreserve-data)")
    var dataDir: String?
    @Option(help: "A pool to serve, by name (the hash tag of every Redis key of the pool); repeat it (or give VMRESERVE_POOL=a,b) to serve several: the first at the routes as docs/API.md writes them, each also under /pools/NAME. (default: default)")
    var pool: [String] = []
    @Option(name: .customLong("redis-connections"),
            help: "Redis connections to keep, each pipelined. (default: one per event loop, that is per core, at least 2)")
    var redisConnections: Int?
    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical. (default: info)")
    var logLevel: String?

    /// A connection on every event loop, so that each loop's requests send their scripts without a
    /// thread switch (see `EventLoopGlobalExecutor`); two at least, so that one serves while the
    /// other reconnects.
    static var defaultRedisConnections: Int { min(64, max(2, NIOSingletons.groupLoopCountSuggestion)) }

    func run() async throws {
        let settings = Settings(environment: ProcessInfo.processInfo.environment)
        let devMode = try settings.flag(dev, "VMRESERVE_DEV")
        var configuration = GatewayConfiguration(
            host: try settings.value(host, "VMRESERVE_HOST", default: "127.0.0.1"),
            port: try settings.value(port, "VMRESERVE_PORT", default: 5000, in: 0...65535),
            adminToken: nil,
            maxVMCount: try settings.value(maxVMCount, "VMRESERVE_MAX_VM_COUNT", default: 100, in: 0...1_000_000),
            defaultQuota: try settings.value(defaultQuota, "VMRESERVE_DEFAULT_QUOTA", default: 5, in: 0...1_000_000),
            devMode: devMode,
            logLevel: try settings.logLevel(logLevel, "VMRESERVE_LOG_LEVEL", default: "info")
        )
        let maxLeaseSeconds = try settings.value(maxLease, "VMRESERVE_MAX_LEASE", default: 604_800, in: 1...LeasePolicy.limit)
        let defaultLeaseSeconds: Int? = try settings.value(defaultLease, "VMRESERVE_DEFAULT_LEASE")
        if let defaultLeaseSeconds, !(1...maxLeaseSeconds).contains(defaultLeaseSeconds) {
            throw ValidationError("--default-lease: must be from 1 to the maximum lease, \(maxLeaseSeconds)")
        }
        configuration.leases = LeasePolicy(defaultSeconds: defaultLeaseSeconds, maxSeconds: maxLeaseSeconds)
        configuration.maxWait = .seconds(try settings.value(maxWait, "VMRESERVE_MAX_WAIT", default: 30, in: 0...3600))
        configuration.ipPool = try settings.value(ipPool, "VMRESERVE_IP_POOL")
        configuration.minReady = try settings.value(minReady, "VMRESERVE_MIN_READY", default: 0, in: 0...1_000_000)
        if let text: String = try settings.value(sizes, "VMRESERVE_SIZES") {
            guard let catalog = VMSize.parseCatalog(text) else {
                throw ValidationError("--sizes: name=cpu:memory_mb,... e.g. small=1:2048,large=4:8192")
            }
            configuration.sizes = catalog
        }
        if let idle: Int = try settings.value(idleDeleteAfter, "VMRESERVE_IDLE_DELETE_AFTER") {
            guard (1...LeasePolicy.limit).contains(idle) else { throw ValidationError("--idle-delete-after: from 1 to \(LeasePolicy.limit) seconds") }
            configuration.idleDeleteAfter = idle
        }
        configuration.provisioning = try provisioningPolicy(settings)
        configuration.idempotencyWindow = .seconds(
            try settings.value(idempotencyWindow, "VMRESERVE_IDEMPOTENCY_WINDOW", default: 86_400, in: 1...604_800))
        if let block = configuration.ipPool, !GatewayConfiguration.isValidIPPool(block) {
            throw ValidationError("--ip-pool: an IPv4 network address with a prefix from /12 to /32, e.g. 203.0.113.0/26")
        }
        let url: RedisURL
        do {
            url = try RedisURL(try settings.value(redisURL, "VMRESERVE_REDIS_URL", default: "redis://127.0.0.1:6379/0"))
        } catch let error as RedisError {
            throw ValidationError("--redis-url: \(error.message)")
        }
        configuration.redis = .init(
            url: url,
            connectionCount: try settings.value(redisConnections, "VMRESERVE_REDIS_CONNECTIONS", default: Self.defaultRedisConnections,
                                               in: 1...64)
        )
        configuration.redis.clientName = Self.redisClientName()
        let sentinelMaster: String? = try settings.value(self.sentinelMaster, "VMRESERVE_SENTINEL_MASTER")
        if let text: String = try settings.value(redisSentinel, "VMRESERVE_REDIS_SENTINEL") {
            guard let sentinelMaster, !sentinelMaster.isEmpty else { throw ValidationError("--redis-sentinel needs --sentinel-master") }
            guard url.socketPath == nil else { throw ValidationError("--redis-sentinel names the primary by host and port: give --redis-url as redis://") }
            let addresses: [RedisURL]
            do {
                addresses = try SentinelConfiguration.parseAddresses(text)
            } catch {
                throw ValidationError("--redis-sentinel: \(error.message)")
            }
            configuration.redis.sentinel = SentinelConfiguration(sentinels: addresses, masterName: sentinelMaster)
        } else if sentinelMaster != nil {
            throw ValidationError("--sentinel-master needs --redis-sentinel")
        }
        if let text: String = try settings.value(redisCluster, "VMRESERVE_REDIS_CLUSTER") {
            guard configuration.redis.sentinel == nil else { throw ValidationError("--redis-cluster and --redis-sentinel exclude each other") }
            guard url.socketPath == nil else { throw ValidationError("--redis-cluster's nodes are reached by host and port: give --redis-url as redis://") }
            do {
                configuration.redis.cluster = try RedisURL.addresses(text, defaultPort: 6379, of: "cluster node")
            } catch {
                throw ValidationError("--redis-cluster: \(error.message)")
            }
        }
        configuration.minReplicasAck = try settings.value(minReplicasAck, "VMRESERVE_MIN_REPLICAS_ACK", default: 0, in: 0...16)
        configuration.replicaAckTimeout = .milliseconds(
            try settings.value(replicaAckTimeout, "VMRESERVE_REPLICA_ACK_TIMEOUT", default: 1000, in: 1...60_000))
        configuration.pools = try pools(settings)
        configuration.adminTokens = adminToken.isEmpty ? [try settings.value(nil as String?, "VMRESERVE_ADMIN_TOKEN")].compactMap { $0 } : adminToken
        if configuration.adminTokens.contains(where: { $0.count < 16 || $0.contains(" ") }) {
            throw ValidationError("--admin-token: use at least 16 characters and no spaces (vmreserve tokens are 64 hex digits)")
        }
        configuration.adminTokenFile = try settings.value(adminTokenFile, "VMRESERVE_ADMIN_TOKEN_FILE")
        if let path = configuration.adminTokenFile {
            do {
                _ = try AdminTokens.parseFile(try String(contentsOfFile: path, encoding: .utf8))
            } catch let error as AdminTokens.TokenFileError {
                throw ValidationError("--admin-token-file: \(error)")
            } catch {
                throw ValidationError("--admin-token-file: cannot read \(path)")
            }
        }
        configuration.authenticationFailureLimit = try settings.value(authFailureLimit, "VMRESERVE_AUTH_FAILURE_LIMIT", default: 10,
                                                                      in: 0...1_000_000)
        configuration.trustForwardedFor = try settings.flag(trustForwardedFor, "VMRESERVE_TRUST_FORWARDED_FOR")
        let issuer: String? = try settings.value(oidcIssuer, "VMRESERVE_OIDC_ISSUER")
        let audience: String? = try settings.value(oidcAudience, "VMRESERVE_OIDC_AUDIENCE")
        if let issuer {
            guard let audience, !audience.isEmpty else { throw ValidationError("--oidc-issuer needs --oidc-audience") }
            guard issuer.hasPrefix("https://") || issuer.hasPrefix("http://127.0.0.1") || issuer.hasPrefix("http://localhost") else {
                throw ValidationError("--oidc-issuer: an https:// URL (http only on loopback)")
            }
            configuration.oidc = OIDCConfiguration(issuer: issuer, audience: audience,
                                                   userClaim: try settings.value(oidcUserClaim, "VMRESERVE_OIDC_USER_CLAIM", default: "sub"))
        } else if audience != nil {
            throw ValidationError("--oidc-audience needs --oidc-issuer")
        }
        if devMode, !["127.0.0.1", "localhost", "::1"].contains(configuration.host) {
            throw ValidationError("--dev serves tokenless requests as an admin, so it only binds a loopback address")
        }

        let otlpEndpoint: String? = try settings.value(self.otlpEndpoint, "VMRESERVE_OTLP_ENDPOINT")
        if let otlpEndpoint, URL(string: otlpEndpoint)?.scheme.map({ ["http", "https"].contains($0) }) != true {
            throw ValidationError("--otlp-endpoint must be an http or https URL, e.g. http://127.0.0.1:4318")
        }
        configuration.tracing = otlpEndpoint != nil

        let logOutput = LogOutput()
        LoggingSystem.bootstrap { label in BufferedLogHandler(label: label, output: logOutput) }
        let tracer = try otlpEndpoint.map { try Self.bootstrapTracing(endpoint: $0) }
        // every task runs on the event loop that woke it (a request and its Redis round trip on one thread)
        let tasksOnEventLoops = EventLoopGlobalExecutor.install()
        let localRedis = devMode ? try await startLocalRedisIfNeeded(url: url, settings: settings) : nil
        let app = buildApplication(configuration)
        if !tasksOnEventLoops {
            app.logger.notice("tasks run on Swift's global thread pool: this Swift runtime lets no other executor take its place")
        }
        // Services stop in reverse order: the notice is logged, the server drains, then its Redis
        // client closes, then the last spans leave, then the last log lines are written.
        // (In-flight requests finish, but a client that never does cannot hold the exit forever.)
        let drainLimit = Duration.seconds(30)
        let notice = ServiceGroupConfiguration.ServiceConfiguration(
            service: ShutdownNotice(logger: app.logger, drainLimit: drainLimit), successTerminationBehavior: .ignore)
        var group = ServiceGroupConfiguration(
            services: ([logOutput] + (tracer.map { [$0] } ?? []) + [app]).map { .init(service: $0) } + [notice],
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: app.logger
        )
        group.maximumGracefulShutdownDuration = drainLimit
        let services = ServiceGroup(configuration: group)
        do {
            try await services.run()
        } catch {
            await localRedis?.stop()
            throw error
        }
        await localRedis?.stop()
    }

    /// `vmreserve:HOST:PID`: whose each connection is, in Redis' `CLIENT LIST` (a host name's
    /// characters outside letters, digits, `.`, `-` and `_` become `_`).
    private static func redisClientName() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        let name = gethostname(&buffer, buffer.count - 1) == 0 ? String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) : ""
        let host = name.map { $0.isASCII && ($0.isLetter || $0.isNumber || ".-_".contains($0)) ? $0 : "_" }
        return "vmreserve:\(String(host)):\(getpid())"
    }

    /// OpenTelemetry traces only (our logs and metrics have their own outputs), exported over
    /// OTLP/HTTP to `endpoint` + /v1/traces; the returned service exports them while it runs.
    private static func bootstrapTracing(endpoint: String) throws -> any Service {
        var otel = OTel.Configuration.default
        otel.serviceName = "vmreserve"
        otel.logs.enabled = false
        otel.metrics.enabled = false
        otel.traces.otlpExporter.endpoint = endpoint.hasSuffix("/") ? endpoint + "v1/traces" : endpoint + "/v1/traces"
        otel.traces.otlpExporter.protocol = .httpProtobuf
        return try OTel.bootstrap(configuration: otel)
    }

    /// The provider and what becomes of returned VMs, from the provider flags.
    /// `--pool`, repeated, or else `VMRESERVE_POOL` (names split at commas, spaces around them
    /// dropped), or else `default`.
    private func pools(_ settings: Settings) throws -> [String] {
        let names = pool.isEmpty
            ? (try settings.value(nil as String?, "VMRESERVE_POOL")).map {
                $0.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            } ?? ["default"]
            : pool
        for name in names where name.isEmpty || name.contains("{") || name.contains("}") || name.contains("/") || name.contains(",") {
            throw ValidationError("--pool: a pool name cannot be empty or contain braces, slashes or commas: '\(name)'")
        }
        guard Set(names).count == names.count else { throw ValidationError("--pool: each pool once") }
        return names
    }

    private func provisioningPolicy(_ settings: Settings) throws -> ProvisioningPolicy {
        let kind: String = try settings.value(provider, "VMRESERVE_PROVIDER", default: "simulator")
        let provisionCommand: String? = try settings.value(provisionCommand, "VMRESERVE_PROVISION_CMD")
        let deprovisionCommand: String? = try settings.value(deprovisionCommand, "VMRESERVE_DEPROVISION_CMD")
        let resetCommand: String? = try settings.value(resetCommand, "VMRESERVE_RESET_CMD")
        let onReturnText: String = try settings.value(onReturn, "VMRESERVE_ON_RETURN", default: "reuse")
        guard let onReturn = ReturnPolicy(rawValue: onReturnText) else { throw ValidationError("--on-return: reuse, reset or replace") }
        let provider: any Provider
        switch kind {
        case "simulator":
            guard provisionCommand == nil, deprovisionCommand == nil, resetCommand == nil else {
                throw ValidationError("--provision-cmd, --deprovision-cmd and --reset-cmd need --provider exec")
            }
            let delay: Double = try settings.value(bootDelay, "VMRESERVE_BOOT_DELAY", default: 0)
            let rate: Double = try settings.value(failureRate, "VMRESERVE_FAILURE_RATE", default: 0)
            guard (0...86_400).contains(delay) else { throw ValidationError("--boot-delay: from 0 to 86400 seconds") }
            guard (0...1).contains(rate) else { throw ValidationError("--failure-rate: a probability from 0 to 1") }
            provider = SimulatedProvider(bootDelay: .milliseconds(Int(delay * 1000)), failureRate: rate)
        case "exec":
            guard bootDelay == nil, failureRate == nil else { throw ValidationError("--boot-delay and --failure-rate are the simulator's") }
            guard let provisionCommand, let deprovisionCommand else {
                throw ValidationError("--provider exec needs --provision-cmd and --deprovision-cmd")
            }
            if onReturn == .reset, resetCommand == nil { throw ValidationError("--on-return reset with --provider exec needs --reset-cmd") }
            for (flag, path) in [("--provision-cmd", provisionCommand), ("--deprovision-cmd", deprovisionCommand), ("--reset-cmd", resetCommand)] {
                if let path, !FileManager.default.isExecutableFile(atPath: path) {
                    throw ValidationError("\(flag): \(path) is not an executable file")
                }
            }
            let timeout = try settings.value(providerTimeout, "VMRESERVE_PROVIDER_TIMEOUT", default: 600, in: 1...86_400)
            provider = ExecProvider(provisionCommand: provisionCommand, deprovisionCommand: deprovisionCommand,
                                    resetCommand: resetCommand, timeout: .seconds(timeout))
        default:
            throw ValidationError("--provider: simulator or exec")
        }
        let claim = try settings.value(jobClaim, "VMRESERVE_JOB_CLAIM", default: 30, in: 3...3600)
        return ProvisioningPolicy(provider: provider, onReturn: onReturn, claim: .seconds(claim))
    }

    /// Dev mode: a redis-server child with append-only persistence when nothing answers at a
    /// loopback `--redis-url`.
    private func startLocalRedisIfNeeded(url: RedisURL, settings: Settings) async throws -> RedisServerProcess? {
        guard url.socketPath == nil, ["127.0.0.1", "localhost"].contains(url.host), !acceptsConnections(port: url.port) else { return nil }
        let directory = URL(fileURLWithPath: try settings.value(dataDir, "VMRESERVE_DATA_DIR", default: ".vmreserve-data"))
        let server = try await RedisServerProcess.start(
            port: url.port, dataDirectory: directory, persistent: true, password: url.password, ownProcessGroup: true
        )
        FileHandle.standardError.write(Data("vmreserve: started redis-server on 127.0.0.1:\(url.port) with its data in \(directory.path)\n".utf8))
        return server
    }
}

/// Resolves a setting: the flag if given, else the environment variable, else the default.
struct Settings {
    let environment: [String: String]

    func value<T: LosslessStringConvertible>(_ flag: T?, _ variable: String, default fallback: T) throws -> T {
        try value(flag, variable) ?? fallback
    }

    func value<T: LosslessStringConvertible>(_ flag: T?, _ variable: String) throws -> T? {
        if let flag { return flag }
        guard let text = environment[variable], !text.isEmpty else { return nil }
        guard let parsed = T(text) else { throw ValidationError("\(variable): cannot read '\(text)'") }
        return parsed
    }

    func value(_ flag: Int?, _ variable: String, default fallback: Int, in range: ClosedRange<Int>) throws -> Int {
        let chosen = try value(flag, variable, default: fallback)
        guard range.contains(chosen) else {
            throw ValidationError("\(variable.lowercased()): must be from \(range.lowerBound) to \(range.upperBound)")
        }
        return chosen
    }

    /// A flag is on when given, or when its variable says so.
    func flag(_ given: Bool, _ variable: String) throws -> Bool {
        guard !given, let text = environment[variable]?.lowercased(), !text.isEmpty else { return given }
        switch text {
        case "1", "true", "yes": return true
        case "0", "false", "no": return false
        default: throw ValidationError("\(variable): use 1 or 0")
        }
    }

    func logLevel(_ flag: String?, _ variable: String, default fallback: String) throws -> Logger.Level {
        let text: String = try value(flag, variable, default: fallback)
        guard let level = Logger.Level(rawValue: text) else { throw ValidationError("\(variable.lowercased()): unknown log level '\(text)'") }
        return level
    }
}
