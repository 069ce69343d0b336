import Foundation
import GatewayTestSupport
import RedisClient
import Processes
import RedisServerProcess
import Synchronization
import TestSupport

#if canImport(Glibc)
import Glibc
#endif

/// Three `vmreserve serve` processes on one Redis, with VMs, users and their clients' shared
/// bookkeeping: the setting of the tests that break things under load (CrashTests, ChaosTests).
final class GatewayFleet: Sendable {
    let ports: [Int]
    let gateways: [Gateway]
    /// One user's token per client, users `<prefix>0`, `<prefix>1`…
    let tokens: [String]
    let holders = CrashTests.Holders()
    let cluster: CrashTests.Cluster
    private let running: Mutex<[ChildProcess]>
    private let arguments: [String]
    private let directory: URL
    private let processes: TestProcesses

    private init(ports: [Int], tokens: [String], running: [ChildProcess], redis: RedisURL, proxy: CuttableProxy?, arguments: [String],
                 directory: URL, processes: TestProcesses) {
        self.ports = ports
        gateways = ports.map { Gateway(port: $0) }
        self.tokens = tokens
        cluster = CrashTests.Cluster(gateways, redis: redis, proxy: proxy)
        self.running = Mutex(running)
        self.arguments = arguments
        self.directory = directory
        self.processes = processes
    }

    /// Starts the gateways on `redisURL` (reached through `proxy` when given; more `arguments`
    /// given to each), creates `vmCount` VMs and `clients` users of quota `quota`.
    static func start(
        redisURL: String, proxy: CuttableProxy? = nil, vmCount: Int, clients: Int, quota: Int, userPrefix: String,
        arguments extra: [String] = [], directory: URL, processes: TestProcesses
    ) async throws -> GatewayFleet {
        let ports = try (0..<3).map { _ in try freeLoopbackPort() }
        let arguments = ["--redis-url", redisURL, "--admin-token", adminToken, "--max-vm-count", String(vmCount),
                         "--log-level", "warning"] + extra
        var running: [ChildProcess] = []
        for index in 0..<3 {
            running.append(try await startGateway(arguments, port: ports[index], directory: directory, index: index, processes: processes))
        }
        let gateway = Gateway(port: ports[0])
        try await gateway.createVMs(vmCount)
        var tokens: [String] = []
        for index in 0..<clients {
            tokens.append(try await Gateway(port: ports[index % 3]).createUser("\(userPrefix)\(index)", quota: quota))
        }
        return GatewayFleet(ports: ports, tokens: tokens, running: running, redis: try RedisURL(redisURL), proxy: proxy, arguments: arguments,
                            directory: directory, processes: processes)
    }

    private static func startGateway(_ arguments: [String], port: Int, directory: URL, index: Int, processes: TestProcesses)
        async throws -> ChildProcess
    {
        try await GatewayProcess.start(arguments, port: port, log: directory.appending(path: "gateway\(index).log"), processes: processes)
    }

    /// Kills gateway `index` (SIGKILL) with requests inside it: it is first frozen (SIGSTOP) until
    /// a client has written a request to it whole, which it can then neither answer nor have
    /// answered; then killed, and taken out of the clients' choice.
    func kill(_ index: Int) async throws {
        let port = ports[index], process = running.withLock { $0 }[index]
        process.signal(SIGSTOP)
        let stoppedAt = ContinuousClock.now
        try await waitUntil("a request is written to the frozen gateway \(index)") {
            cluster.lastSent.withLock { $0[port] }.map { $0 > stoppedAt } ?? false
        }
        cluster.killed.withLock { _ = $0.insert(process.pid) }
        cluster.killTimes.withLock { $0[port] = .now }
        process.signal(SIGKILL)  // (not `terminate`: its SIGCONT would let the gateway run first)
        _ = await process.waitForExit()
        cluster.gateways.withLock { $0.removeAll { $0.port == port } }
    }

    /// Starts gateway `index` again and gives it back to the clients.
    func restart(_ index: Int) async throws {
        let process = try await Self.startGateway(arguments, port: ports[index], directory: directory, index: index, processes: processes)
        running.withLock { $0[index] = process }
        cluster.gateways.withLock { $0.append(gateways[index]) }
    }

    /// Waits until the clients have made `count` more checkouts: each step of a test starts once
    /// the service has shown progress, however slow the machine.
    func progress(_ count: Int, _ what: String) async throws {
        let target = cluster.counts.withLock { $0.checkouts } + count
        try await waitUntil("\(count) checkouts \(what)") { cluster.counts.withLock { $0.checkouts } >= target }
    }

    /// Stops every gateway with SIGTERM; answers their exit codes.
    func stop() async -> [Int32] {
        var codes: [Int32] = []
        for process in running.withLock({ $0 }) { codes.append(await process.terminate(with: SIGTERM)) }
        return codes
    }
}
