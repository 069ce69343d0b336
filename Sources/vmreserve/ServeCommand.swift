import ArgumentParser
import Foundation
import Hummingbird
import Logging
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
            VMRESERVE_DEFAULT_LEASE, VMRESERVE_MAX_LEASE, VMRESERVE_MAX_WAIT, VMRESERVE_IP_POOL, VMRESERVE_IDLE_DELETE_AFTER, VMRESERVE_MIN_READY, VMRESERVE_SIZES, VMRESERVE_DATA_DIR, VMRESERVE_POOL, VMRESERVE_REDIS_CONNECTIONS, \
            VMRESERVE_LOG_LEVEL. A flag wins over its variable.
            """
    )

    @Option(help: "Address to listen on. (default: 127.0.0.1)") var host: String?
    @Option(help: "Port to listen on. (default: 5000)") var port: Int?
    @Option(name: .customLong("redis-url"), help: "redis://[[user]:password@]host[:port][/db] (default: redis://127.0.0.1:6379/0)")
    var redisURL: String?
    @Option(name: .customLong("admin-token"), help: "Bearer token of the built-in admin. No default: without it, only users created by an admin (or dev mode) can act.")
    var adminToken: String?
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
    @Flag(help: "Development mode: loopback only; requests without a token act as the 'anonymous' admin; starts a local redis-server if none answers.")
    var dev = false
    @Option(name: .customLong("data-dir"), help: "Where dev mode's redis-server keeps its files. (default: .vmreserve-data)")
    var dataDir: String?
    @Option(help: "Pool name; the hash tag of every Redis key of the pool. (default: default)") var pool: String?
    @Option(name: .customLong("redis-connections"), help: "Redis connections to keep, each pipelined. (default: 2)")
    var redisConnections: Int?
    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical. (default: info)")
    var logLevel: String?

    func run() async throws {
        let settings = Settings(environment: ProcessInfo.processInfo.environment)
        let devMode = try settings.flag(dev, "VMRESERVE_DEV")
        var configuration = GatewayConfiguration(
            host: try settings.value(host, "VMRESERVE_HOST", default: "127.0.0.1"),
            port: try settings.value(port, "VMRESERVE_PORT", default: 5000, in: 0...65535),
            adminToken: try settings.value(adminToken, "VMRESERVE_ADMIN_TOKEN"),
            maxVMCount: try settings.value(maxVMCount, "VMRESERVE_MAX_VM_COUNT", default: 100, in: 0...1_000_000),
            defaultQuota: try settings.value(defaultQuota, "VMRESERVE_DEFAULT_QUOTA", default: 5, in: 0...1_000_000),
            devMode: devMode,
            pool: try settings.value(pool, "VMRESERVE_POOL", default: "default"),
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
            connectionCount: try settings.value(redisConnections, "VMRESERVE_REDIS_CONNECTIONS", default: 2, in: 1...64)
        )
        guard !configuration.pool.contains("{"), !configuration.pool.contains("}"), !configuration.pool.isEmpty else {
            throw ValidationError("--pool: a pool name cannot be empty or contain braces")
        }
        if let token = configuration.adminToken, token.count < 16 {
            throw ValidationError("--admin-token: use at least 16 characters (vmreserve tokens are 64 hex digits)")
        }
        if devMode, !["127.0.0.1", "localhost", "::1"].contains(configuration.host) {
            throw ValidationError("--dev serves tokenless requests as an admin, so it only binds a loopback address")
        }

        let logOutput = LogOutput()
        LoggingSystem.bootstrap { label in BufferedLogHandler(label: label, output: logOutput) }
        let localRedis = devMode ? try await startLocalRedisIfNeeded(url: url, settings: settings) : nil
        let app = buildApplication(configuration)
        // Services stop in reverse order: the server drains, then its Redis client closes, then
        // the last log lines are written.
        var group = ServiceGroupConfiguration(
            services: [logOutput, app],
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: app.logger
        )
        // in-flight requests finish, but a client that never does cannot hold the exit forever
        group.maximumGracefulShutdownDuration = .seconds(30)
        let services = ServiceGroup(configuration: group)
        do {
            try await services.run()
        } catch {
            await localRedis?.stop()
            throw error
        }
        await localRedis?.stop()
    }

    /// Dev mode: a redis-server child with append-only persistence when nothing answers at a
    /// loopback `--redis-url`.
    private func startLocalRedisIfNeeded(url: RedisURL, settings: Settings) async throws -> RedisServerProcess? {
        guard ["127.0.0.1", "localhost"].contains(url.host), !acceptsConnections(port: url.port) else { return nil }
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
