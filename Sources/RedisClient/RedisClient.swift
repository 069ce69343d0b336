import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import Synchronization
import Tracing

/// A Redis client for many concurrent callers: a few long-lived connections, each pipelining the
/// commands of every caller that picks it. Nothing here blocks a thread: replies arrive on
/// SwiftNIO event loops and resume the waiting tasks.
///
/// `run()` owns the connections: it connects, loads the function library, and reconnects with
/// backoff whenever a connection drops. While no connection is up, commands fail at once with
/// `RedisError.unavailable`, so callers can answer "try later" instead of waiting.
///
/// With `Configuration.cluster`, it talks to a Redis Cluster: it reads the slot map (`CLUSTER
/// SLOTS`) from the nodes given, keeps `connectionCount` connections to every master, sends each
/// command to the master of its key's slot (`ClusterSlot`), and follows `MOVED` (updating the map,
/// and reading it again) and `ASK` (once, with `ASKING`) redirections.
public final class RedisClient: Service, Sendable {
    /// Limits and timeouts, in one place.
    public struct Configuration: Sendable {
        public var url: RedisURL
        /// How many connections to keep; each one pipelines.
        public var connectionCount: Int
        /// The longest a command (including a library reload and retry) waits for its reply.
        public var commandTimeout: Duration
        public var connectTimeout: Duration
        /// Reconnection backoff: starts at the first value, doubles up to the second.
        public var reconnectBackoff: (first: Duration, limit: Duration)
        /// When set, `url`'s host and port are ignored: the sentinels name the primary.
        public var sentinel: SentinelConfiguration?
        /// When set, Redis is a cluster and these are some of its nodes (`url` gives the password).
        public var cluster: [RedisURL]?
        /// When set, every connection to Redis (the one, the primary the sentinels name, or each
        /// cluster node) is TLS with these settings; the gateway sets it for a `rediss://` URL.
        public var tls: RedisTLS?
        /// Every command and script call is a span of the tracer bootstrapped (swift-distributed-
        /// tracing), a child of the task's current one. Off, the client never asks for one.
        public var traced = false
        /// Sent as `CLIENT SETNAME` on every connection, so that `CLIENT LIST` tells whose each
        /// connection is (the gateway gives `vmreserve:HOST:PID`). Redis names have no spaces.
        public var clientName: String?
        /// Error codes of a setup command's answer that end `run()` with that error rather than
        /// being tried again: what no retry can mend (the gateway gives `INVALID_STATE`, a pool
        /// whose layout this version cannot read), so that the process stops and says why.
        public var fatalSetupCodes: Set<String> = []

        public init(
            url: RedisURL,
            connectionCount: Int = 2,
            commandTimeout: Duration = .seconds(2),
            connectTimeout: Duration = .seconds(1),
            reconnectBackoff: (first: Duration, limit: Duration) = (.milliseconds(50), .seconds(1)),
            sentinel: SentinelConfiguration? = nil
        ) {
            self.url = url
            self.connectionCount = max(1, connectionCount)
            self.commandTimeout = commandTimeout
            self.connectTimeout = connectTimeout
            self.reconnectBackoff = reconnectBackoff
            self.sentinel = sentinel
        }
    }

    public let configuration: Configuration
    private let library: RedisFunctionLibrary?
    private let setupCommands: [RedisCommand]
    private let eventLoopGroup: any EventLoopGroup
    private let logger: Logger
    /// Each node's connections, by `host:port` ("" for the one node of a client without a cluster).
    private let connections: Mutex<[String: [RedisConnection?]]>
    /// Cluster: the master of each slot (empty until the map is read).
    private let slotMasters = Mutex<[String]>([])
    private let connectionCount: Int
    private let nextConnection = Atomic<Int>(0)
    /// Cluster: nodes whose connections `run()` must start maintaining, and a wish to read the map again.
    private let newNodes: AsyncStream<String>.Continuation
    private let newNodeStream: AsyncStream<String>
    private let mapIsStale = Atomic<Bool>(false)
    /// Set once any connection has been made: TLS failing before that ends `run()` (a
    /// configuration no retry mends); after it, it is logged and tried again (a server's
    /// certificate being replaced).
    private let everConnected = Atomic<Bool>(false)

    /// - Parameters:
    ///   - library: loaded on every new connection (a no-op when Redis has it), so FCALL rarely
    ///     finds its function missing.
    ///   - setupCommands: sent on every new connection once the library is loaded, before the
    ///     connection takes requests (e.g. seeding defaults into a Redis that lost its data).
    ///     A command that answers the status `AGAIN` (work done in parts, so that Redis serves
    ///     others between them) is sent again until it answers something else. A connection whose
    ///     setup fails is dropped and tried again.
    public init(
        configuration: Configuration,
        library: RedisFunctionLibrary? = nil,
        setupCommands: [RedisCommand] = [],
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        logger: Logger = Logger(label: "redis")
    ) {
        self.configuration = configuration
        self.library = library
        self.setupCommands = setupCommands
        self.eventLoopGroup = eventLoopGroup
        self.logger = logger
        self.connectionCount = configuration.connectionCount
        self.connections = Mutex(configuration.cluster == nil ? ["": Array(repeating: nil, count: configuration.connectionCount)] : [:])
        (newNodeStream, newNodes) = AsyncStream.makeStream()
    }

    /// Keeps every connection up until the task is cancelled or a graceful shutdown begins.
    /// - Throws: the `RedisError` a setup command answered, when its code is one of
    ///   `fatalSetupCodes`; a `.tls` error when TLS fails before any connection was made.
    public func run() async throws {
        try await cancelWhenGracefulShutdown {
            try await withThrowingDiscardingTaskGroup { group in
                guard self.configuration.cluster != nil else {
                    for index in 0..<self.connectionCount {
                        group.addTask { try await self.maintainConnection(to: "", index: index) }
                    }
                    return
                }
                group.addTask { try await self.maintainClusterMap() }
                for await node in self.newNodeStream {
                    for index in 0..<self.connectionCount {
                        group.addTask { try await self.maintainConnection(to: node, index: index) }
                    }
                }
            }
        }
    }

    /// True when at least one connection is up.
    public var isConnected: Bool {
        connections.withLock { nodes in nodes.values.contains { $0.contains { $0 != nil } } }
    }

    /// Sends one command on the next connected connection.
    /// - Throws: `RedisError`: `.unavailable` at once when no connection is up, `.timeout` after
    ///   `commandTimeout`, `.server` for an error reply.
    public func send(_ command: RedisCommand) async throws -> RESPValue {
        guard configuration.traced else { return try await send(command, deadline: newDeadline()) }
        return try await withSpan(command.wireArguments[0], ofKind: .client) { span in
            span.attributes["db.system"] = "redis"
            return try await send(command, deadline: newDeadline())
        }
    }

    /// Calls a function of the client's library with FCALL; if Redis does not have it (a Redis
    /// that lost its data, or FUNCTION FLUSH), it loads the library and calls again, once.
    /// - Parameter acknowledgements: when given, the call is followed on the same connection by
    ///   `WAIT replicas timeout`, and fewer replicas acknowledging every write before it in time is
    ///   an error (NOREPLICAS): the change may be lost if the primary fails now.
    public func call(
        function: String, keys: [String], arguments: [String], acknowledgements: (replicas: Int, timeout: Duration)? = nil
    ) async throws -> RESPValue {
        guard configuration.traced else {
            return try await untracedCall(function: function, keys: keys, arguments: arguments, acknowledgements: acknowledgements)
        }
        return try await withSpan("FCALL " + function, ofKind: .client) { span in
            span.attributes["db.system"] = "redis"
            span.attributes["db.operation"] = "FCALL"
            return try await untracedCall(function: function, keys: keys, arguments: arguments, acknowledgements: acknowledgements)
        }
    }

    private func untracedCall(
        function: String, keys: [String], arguments: [String], acknowledgements: (replicas: Int, timeout: Duration)?
    ) async throws -> RESPValue {
        let deadline = newDeadline()
        let call = RedisCommand.fcall(function, keys: keys, arguments: arguments)
        let (reply, connection): (RESPValue, RedisConnection)
        do {
            (reply, connection) = try await send(call, to: node(for: keys.first), deadline: deadline)
        } catch let error as RedisError where error.isFunctionNotFound {
            guard let library else { throw error }
            logger.notice("Redis lost the function library; loading it again", metadata: ["library": "\(library.name)"])
            // behind the deadline already: fail this call alone, not the connection's timer
            guard NIODeadline.now() < deadline else { throw RedisError.timeout }
            guard let loadOn = pickConnection(node(for: keys.first)) else { throw RedisError.unavailable }
            try await load(library, on: loadOn, deadline: deadline)
            (reply, connection) = try await send(call, to: node(for: keys.first), deadline: deadline)
        }
        if let acknowledgements {
            let milliseconds = acknowledgements.timeout.components.seconds * 1000
                + acknowledgements.timeout.components.attoseconds / 1_000_000_000_000_000
            let wait = RedisCommand("WAIT", [String(acknowledgements.replicas), String(max(1, milliseconds))])
            let acknowledged = try await send(wait, on: connection, deadline: deadline).int ?? 0
            guard acknowledged >= acknowledgements.replicas else {
                throw RedisError.server(
                    "NOREPLICAS \(acknowledged) of \(acknowledgements.replicas) replicas acknowledged the write in time")
            }
        }
        return reply
    }

    /// True when Redis answers and holds the client's function library (in a cluster: every
    /// master of the slot map, not nodes that were masters once).
    public func libraryLoaded() async -> Bool {
        let nodes = configuration.cluster == nil ? [""] : Array(Set(masters))
        guard !nodes.isEmpty else { return false }
        for node in nodes {
            guard let connection = pickConnection(node) else { return false }
            let command = library.map { RedisCommand("FUNCTION", ["LIST", "LIBRARYNAME", $0.name]) } ?? RedisCommand("PING")
            guard let reply = try? await send(command, on: connection, deadline: newDeadline()) else { return false }
            if library != nil, reply.array?.isEmpty != false { return false }
        }
        return true
    }

    /// Sends `command` to every master (in a cluster: each of the slot map; else the one Redis)
    /// and answers each one's reply or error, by `host:port` ("" for the one Redis).
    public func sendToEveryMaster(_ command: RedisCommand) async -> [(node: String, reply: Result<RESPValue, any Error>)] {
        var replies: [(node: String, reply: Result<RESPValue, any Error>)] = []
        for node in configuration.cluster == nil ? [""] : Set(masters).filter({ !$0.isEmpty }).sorted() {
            guard let connection = pickConnection(node) else {
                replies.append((node, .failure(RedisError.unavailable)))
                continue
            }
            do {
                replies.append((node, .success(try await send(command, on: connection, deadline: newDeadline()))))
            } catch {
                replies.append((node, .failure(error)))
            }
        }
        return replies
    }

    private func newDeadline() -> NIODeadline {
        .now() + TimeAmount(configuration.commandTimeout)
    }

    private func send(_ command: RedisCommand, deadline: NIODeadline) async throws -> RESPValue {
        try await send(command, to: node(for: command.routingKey), deadline: deadline).reply
    }

    /// Sends to `node`, following a cluster's redirections (at most a few); answers the reply and
    /// the connection that gave it.
    private func send(
        _ command: RedisCommand, to node: String, deadline: NIODeadline
    ) async throws -> (reply: RESPValue, connection: RedisConnection) {
        var node = node, asking = false, redirections = 0
        while redirections < 5 {
            guard let connection = await connection(to: node, deadline: deadline) else { throw RedisError.unavailable }
            do {
                return (try await send(command, on: connection, deadline: deadline, asking: asking), connection)
            } catch let error as RedisError where configuration.cluster != nil && ["MOVED", "ASK", "TRYAGAIN"].contains(error.prefix) {
                // TRYAGAIN: a command of several keys while their slot moves: again shortly, while
                // the deadline allows
                if error.prefix == "TRYAGAIN" {
                    guard NIODeadline.now() + .milliseconds(20) < deadline else { throw error }
                    try await Task.sleep(for: .milliseconds(20))
                    continue
                }
                // MOVED <slot> <host:port>: the slot has a new master; ASK: this one command goes there
                redirections += 1
                let parts = error.message.split(separator: " ")
                guard parts.count == 2, let slot = Int(parts[0]), (0..<ClusterSlot.count).contains(slot) else { throw error }
                node = String(parts[1])
                if node.hasPrefix(":") { node = (configuration.cluster?.first?.host ?? configuration.url.host) + node } // (an unknown endpoint)
                addNode(node)
                asking = error.prefix == "ASK"
                if !asking {
                    slotMasters.withLock { masters in if masters.count == ClusterSlot.count { masters[slot] = node } }
                    mapIsStale.store(true, ordering: .relaxed)
                }
            }
        }
        throw RedisError(kind: .unavailable, message: "too many cluster redirections for \(command.wireArguments[0])")
    }

    /// The node that serves `key`: "" without a cluster; in one, the master of its slot (any
    /// known node while the map is not read yet, or for a command without a key).
    private func node(for key: String?) -> String {
        guard configuration.cluster != nil else { return "" }
        return slotMasters.withLock { masters in
            if let key, masters.count == ClusterSlot.count { return masters[ClusterSlot.of(key)] }
            return masters.first ?? ""
        }
    }

    /// A connection to `node`, waiting (until the deadline) for one of a node just learned of.
    private func connection(to node: String, deadline: NIODeadline) async -> RedisConnection? {
        while true {
            if let connection = pickConnection(node) { return connection }
            let known = connections.withLock { $0[node] != nil }
            guard configuration.cluster != nil, known, NIODeadline.now() + .milliseconds(10) < deadline else { return nil }
            try? await Task.sleep(for: .milliseconds(10))
        }
    }

    /// A server that answers READONLY is a replica now (a failover demoted it): with sentinels,
    /// the connection is dropped, so that its maintainer asks them for the new primary.
    private func send(
        _ command: RedisCommand, on connection: RedisConnection, deadline: NIODeadline, asking: Bool = false
    ) async throws -> RESPValue {
        do {
            return try await connection.send(command, deadline: deadline, asking: asking)
        } catch let error as RedisError where error.kind == .server && error.prefix == "READONLY" && configuration.sentinel != nil {
            logger.warning("Redis is a replica now; asking the sentinels for the primary")
            connection.close()
            throw error
        }
    }

    /// The next live connection to `node`, one on the calling thread's event loop when there is
    /// one: a caller running on an event loop (see `EventLoopGlobalExecutor`) then writes the
    /// command, and is resumed with the reply, without a thread switch.
    private func pickConnection(_ node: String) -> RedisConnection? {
        let start = Int(UInt(bitPattern: nextConnection.wrappingAdd(1, ordering: .relaxed).oldValue) % UInt(connectionCount))
        return connections.withLock { nodes in
            guard let connections = nodes[node] else { return nil }
            var elsewhere: RedisConnection?
            for offset in 0..<connectionCount {
                // a connection that just died stays in its place until its maintainer notices: skip it
                guard let connection = connections[(start + offset) % connectionCount], connection.isActive else { continue }
                if connection.eventLoop.inEventLoop { return connection }
                elsewhere = elsewhere ?? connection
            }
            return elsewhere
        }
    }

    /// Cluster: starts keeping connections to `node` ("host:port") if this client has none yet.
    private func addNode(_ node: String) {
        let added = connections.withLock { nodes in
            guard nodes[node] == nil else { return false }
            nodes[node] = Array(repeating: nil, count: connectionCount)
            return true
        }
        if added { newNodes.yield(node) }
    }

    /// Cluster: reads the slot map from any node that answers (those given first), at start, then
    /// every few seconds and soon after a MOVED, and starts connections to masters it did not know.
    private func maintainClusterMap() async throws {
        var lastRead = ContinuousClock.now - .seconds(60)
        while !Task.isCancelled {
            let due = ContinuousClock.now - lastRead > .seconds(5) || mapIsStale.exchange(false, ordering: .relaxed)
            if due, let masters = try await readClusterMap() {
                slotMasters.withLock { $0 = masters }
                for node in Set(masters) { addNode(node) }
                lastRead = .now
            }
            try? await Task.sleep(for: masters.isEmpty ? .milliseconds(200) : .milliseconds(100))
        }
    }

    private var masters: [String] { slotMasters.withLock { $0 } }

    /// The master of every slot, from `CLUSTER SLOTS`; nil when no node answered with a full map.
    /// It asks on a connection the client keeps, and connects to the nodes given only when none
    /// answers (at start, or when every known node is down).
    /// - Throws: a `.tls` error of a node given, before any connection was made.
    private func readClusterMap() async throws -> [String]? {
        guard let seeds = configuration.cluster else { return nil }
        let slots = RedisCommand("CLUSTER", ["SLOTS"])
        for node in connections.withLock({ Array($0.keys) }) {
            guard let connection = pickConnection(node),
                  let reply = try? await send(slots, on: connection, deadline: newDeadline()),
                  let masters = Self.slotMasters(reply, defaultHost: configuration.url.host)
            else { continue }
            return masters
        }
        for seed in seeds {
            let url = configuration.url.clusterNode(host: seed.host, port: seed.port)
            let connection: RedisConnection
            do {
                connection = try await RedisConnection.connect(to: url, tls: configuration.tls, configuration: configuration,
                                                               eventLoopGroup: eventLoopGroup)
            } catch let error as RedisError where error.kind == .tls {
                try failForGoodBeforeAnyConnection(error)
                continue
            } catch {
                continue
            }
            defer { connection.close() }
            if let reply = try? await connection.send(slots, deadline: newDeadline()),
               let masters = Self.slotMasters(reply, defaultHost: seed.host) {
                return masters
            }
        }
        return nil
    }

    /// `CLUSTER SLOTS`' answer as the `host:port` of each slot's master; nil unless it covers every slot.
    private static func slotMasters(_ reply: RESPValue, defaultHost: String) -> [String]? {
        var masters = Array(repeating: "", count: ClusterSlot.count)
        for range in reply.array ?? [] {
            guard let parts = range.array, parts.count >= 3, let first = parts[0].int, let last = parts[1].int,
                  let master = parts[2].array, master.count >= 2, let port = master[1].int,
                  (0...last).contains(first), last < ClusterSlot.count
            else { continue }
            let host = master[0].string.flatMap { $0.isEmpty || $0 == "?" ? nil : $0 } ?? defaultHost
            for slot in first...last { masters[slot] = "\(host):\(port)" }
        }
        return masters.contains("") ? nil : masters
    }

    /// Keeps one slot connected. The wait between attempts doubles up to the limit, with jitter
    /// so that gateways do not reconnect in lockstep, and starts over only after a connection
    /// has stayed up for a few seconds (a connection dropped at once does not reset it).
    /// - Throws: a setup answer whose code is one of `fatalSetupCodes`.
    private func maintainConnection(to node: String, index slot: Int) async throws {
        var backoff = configuration.reconnectBackoff.first
        var lastFailure = ""
        while !Task.isCancelled {
            do {
                var url = configuration.url
                if let sentinel = configuration.sentinel {
                    url = try await sentinel.primary(for: url, configuration: configuration, eventLoopGroup: eventLoopGroup)
                }
                if !node.isEmpty, let colon = node.lastIndex(of: ":"), let port = Int(node[node.index(after: colon)...]) {
                    url = url.clusterNode(host: String(node[..<colon]), port: port)
                }
                let connection = try await RedisConnection.connect(to: url, tls: configuration.tls, configuration: configuration,
                                                                  eventLoopGroup: eventLoop(for: slot))
                do {
                    if configuration.sentinel != nil { try await requirePrimary(connection) }
                    try await prepare(connection, node: node)
                } catch {
                    connection.close()
                    throw error
                }
                connections.withLock { $0[node]?[slot] = connection }
                everConnected.store(true, ordering: .relaxed)
                logger.info("connected to Redis", metadata: ["url": "\(url)", "connection": "\(slot)"])
                lastFailure = ""
                let connectedAt = ContinuousClock.now
                await withTaskCancellationHandler {
                    await connection.waitUntilClosed()
                } onCancel: {
                    connection.close()
                }
                connections.withLock { $0[node]?[slot] = nil }
                if !Task.isCancelled {
                    logger.warning("lost the connection to Redis; reconnecting", metadata: ["connection": "\(slot)"])
                }
                if ContinuousClock.now - connectedAt > .seconds(5) {
                    backoff = configuration.reconnectBackoff.first
                }
            } catch {
                // Unreachable is expected while Redis restarts; an answer that refuses us (a wrong
                // password or database, a failing script) is a configuration problem: say so, once.
                let description = "\(error)"
                if let error = error as? RedisError, error.kind == .server, configuration.fatalSetupCodes.contains(error.prefix) {
                    logger.critical("Redis refused the connection's setup for good", metadata: ["error": "\(description)"])
                    throw error
                }
                if let error = error as? RedisError, error.kind == .tls {
                    try failForGoodBeforeAnyConnection(error)
                }
                if let error = error as? RedisError, [.server, .tls].contains(error.kind), description != lastFailure {
                    logger.error("Redis refused the connection's setup", metadata: ["error": "\(description)", "connection": "\(slot)"])
                } else {
                    logger.debug("cannot reach Redis", metadata: ["error": "\(description)", "connection": "\(slot)"])
                }
                lastFailure = description
            }
            try? await Task.sleep(for: backoff * Double.random(in: 0.5...1.0))
            backoff = min(backoff * 2, configuration.reconnectBackoff.limit)
        }
    }

    /// Before any connection was made, TLS failing is a configuration problem (a CA, a certificate
    /// or a name): it ends `run()`, so that the process stops and says why.
    private func failForGoodBeforeAnyConnection(_ error: RedisError) throws {
        guard !everConnected.load(ordering: .relaxed) else { return }
        logger.critical("TLS with Redis failed", metadata: ["error": "\(error.message)"])
        throw error
    }

    /// The event loop of connection `slot`: the group's loops in turn, so that every loop has
    /// connections of its own when there are at least as many connections as loops.
    private func eventLoop(for slot: Int) -> any EventLoop {
        let loops = Array(eventLoopGroup.makeIterator())
        return loops[slot % loops.count]
    }

    /// A sentinel's answer may be stale for a moment during a failover: only a primary will do.
    private func requirePrimary(_ connection: RedisConnection) async throws {
        let role = try await connection.send(RedisCommand("ROLE"), deadline: newDeadline()).array?.first?.string
        guard role == "master" else {
            throw RedisError(kind: .unavailable, message: "the server the sentinels named is a \(role ?? "?"), not a primary (yet)")
        }
    }

    /// Loads the library, then sends the setup commands (in a cluster, those whose key this
    /// node's slots hold).
    private func prepare(_ connection: RedisConnection, node: String) async throws {
        if let library { try await load(library, on: connection, deadline: newDeadline()) }
        for command in setupCommands where configuration.cluster == nil || self.node(for: command.routingKey) == node {
            var partsDone = false
            do {
                while try await connection.send(command, deadline: newDeadline()) == .again { partsDone = true }
            } catch let error as RedisError
                        where configuration.cluster != nil && !partsDone && ["MOVED", "ASK", "TRYAGAIN"].contains(error.prefix) {
                // the slot moved, or is moving: its new master's connections run it (but a step
                // left half done fails the setup, so that this connection never serves meanwhile)
                logger.debug("setup command not for this node now", metadata: ["error": "\(error)"])
            }
        }
    }

    /// FUNCTION LOAD; a library of that name already there is the same code (its name carries
    /// the code's digest, see `RedisFunctionLibrary`), so that answer counts as done.
    private func load(_ library: RedisFunctionLibrary, on connection: RedisConnection, deadline: NIODeadline) async throws {
        do {
            _ = try await connection.send(RedisCommand("FUNCTION", ["LOAD", library.source]), deadline: deadline)
        } catch let error as RedisError where error.kind == .server && error.message.hasSuffix("already exists") {
            return
        }
    }
}
