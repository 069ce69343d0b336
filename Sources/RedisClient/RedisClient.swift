import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import Synchronization

/// A Redis client for many concurrent callers: a few long-lived connections, each pipelining the
/// commands of every caller that picks it. Nothing here blocks a thread: replies arrive on
/// SwiftNIO event loops and resume the waiting tasks.
///
/// `run()` owns the connections: it connects, loads the function library, and reconnects with
/// backoff whenever a connection drops. While no connection is up, commands fail at once with
/// `RedisError.unavailable`, so callers can answer "try later" instead of waiting.
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
    private let slots: Mutex<[RedisConnection?]>
    private let slotCount: Int
    private let nextSlot = Atomic<Int>(0)

    /// - Parameters:
    ///   - library: loaded on every new connection (a no-op when Redis has it), so FCALL rarely
    ///     finds its function missing.
    ///   - setupCommands: sent on every new connection once the library is loaded, before the
    ///     connection takes requests (e.g. seeding defaults into a Redis that lost its data).
    ///     A connection whose setup fails is dropped and tried again.
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
        self.slotCount = configuration.connectionCount
        self.slots = Mutex(Array(repeating: nil, count: configuration.connectionCount))
    }

    /// Keeps every connection up until the task is cancelled or a graceful shutdown begins.
    public func run() async throws {
        await cancelWhenGracefulShutdown {
            await withDiscardingTaskGroup { group in
                for slot in 0..<self.slotCount {
                    group.addTask { await self.maintainConnection(in: slot) }
                }
            }
        }
    }

    /// True when at least one connection is up.
    public var isConnected: Bool {
        slots.withLock { connections in connections.contains { $0 != nil } }
    }

    /// Sends one command on the next connected connection.
    /// - Throws: `RedisError`: `.unavailable` at once when no connection is up, `.timeout` after
    ///   `commandTimeout`, `.server` for an error reply.
    public func send(_ command: RedisCommand) async throws -> RESPValue {
        try await send(command, deadline: newDeadline())
    }

    /// Calls a function of the client's library with FCALL; if Redis does not have it (a Redis
    /// that lost its data, or FUNCTION FLUSH), it loads the library and calls again, once.
    /// - Parameter acknowledgements: when given, the call is followed on the same connection by
    ///   `WAIT replicas timeout`, and fewer replicas acknowledging every write before it in time is
    ///   an error (NOREPLICAS): the change may be lost if the primary fails now.
    public func call(
        function: String, keys: [String], arguments: [String], acknowledgements: (replicas: Int, timeout: Duration)? = nil
    ) async throws -> RESPValue {
        let deadline = newDeadline()
        guard let connection = pickConnection() else { throw RedisError.unavailable }
        let call = RedisCommand.fcall(function, keys: keys, arguments: arguments)
        let reply: RESPValue
        do {
            reply = try await send(call, on: connection, deadline: deadline)
        } catch let error as RedisError where error.isFunctionNotFound {
            guard let library else { throw error }
            logger.notice("Redis lost the function library; loading it again", metadata: ["library": "\(library.name)"])
            // behind the deadline already: fail this call alone, not the connection's timer
            guard NIODeadline.now() < deadline else { throw RedisError.timeout }
            try await load(library, on: connection, deadline: deadline)
            reply = try await send(call, on: connection, deadline: deadline)
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

    /// True when Redis answers and holds the client's function library.
    public func libraryLoaded() async -> Bool {
        guard let library else { return (try? await send(RedisCommand("PING"))) != nil }
        guard let reply = try? await send(RedisCommand("FUNCTION", ["LIST", "LIBRARYNAME", library.name])),
              let libraries = reply.array
        else { return false }
        return !libraries.isEmpty
    }

    private func newDeadline() -> NIODeadline {
        .now() + TimeAmount(configuration.commandTimeout)
    }

    private func send(_ command: RedisCommand, deadline: NIODeadline) async throws -> RESPValue {
        guard let connection = pickConnection() else { throw RedisError.unavailable }
        return try await send(command, on: connection, deadline: deadline)
    }

    /// A server that answers READONLY is a replica now (a failover demoted it): with sentinels,
    /// the connection is dropped, so that its maintainer asks them for the new primary.
    private func send(_ command: RedisCommand, on connection: RedisConnection, deadline: NIODeadline) async throws -> RESPValue {
        do {
            return try await connection.send(command, deadline: deadline)
        } catch let error as RedisError where error.kind == .server && error.prefix == "READONLY" && configuration.sentinel != nil {
            logger.warning("Redis is a replica now; asking the sentinels for the primary")
            connection.close()
            throw error
        }
    }

    private func pickConnection() -> RedisConnection? {
        let start = Int(UInt(bitPattern: nextSlot.wrappingAdd(1, ordering: .relaxed).oldValue) % UInt(slotCount))
        return slots.withLock { connections in
            for offset in 0..<slotCount {
                // a connection that just died stays in its slot until its maintainer notices: skip it
                if let connection = connections[(start + offset) % slotCount], connection.isActive { return connection }
            }
            return nil
        }
    }

    /// Keeps one slot connected. The wait between attempts doubles up to the limit, with jitter
    /// so that gateways do not reconnect in lockstep, and starts over only after a connection
    /// has stayed up for a few seconds (a connection dropped at once does not reset it).
    private func maintainConnection(in slot: Int) async {
        var backoff = configuration.reconnectBackoff.first
        var lastFailure = ""
        while !Task.isCancelled {
            do {
                var url = configuration.url
                if let sentinel = configuration.sentinel {
                    url = try await sentinel.primary(for: url, configuration: configuration, eventLoopGroup: eventLoopGroup)
                }
                let connection = try await RedisConnection.connect(to: url, configuration: configuration, eventLoopGroup: eventLoopGroup)
                do {
                    if configuration.sentinel != nil { try await requirePrimary(connection) }
                    try await prepare(connection)
                } catch {
                    connection.close()
                    throw error
                }
                slots.withLock { $0[slot] = connection }
                logger.info("connected to Redis", metadata: ["url": "\(url)", "connection": "\(slot)"])
                lastFailure = ""
                let connectedAt = ContinuousClock.now
                await withTaskCancellationHandler {
                    await connection.waitUntilClosed()
                } onCancel: {
                    connection.close()
                }
                slots.withLock { $0[slot] = nil }
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
                if let error = error as? RedisError, error.kind == .server, description != lastFailure {
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

    /// A sentinel's answer may be stale for a moment during a failover: only a primary will do.
    private func requirePrimary(_ connection: RedisConnection) async throws {
        let role = try await connection.send(RedisCommand("ROLE"), deadline: newDeadline()).array?.first?.string
        guard role == "master" else {
            throw RedisError(kind: .unavailable, message: "the server the sentinels named is a \(role ?? "?"), not a primary (yet)")
        }
    }

    /// Loads the library, then sends the setup commands.
    private func prepare(_ connection: RedisConnection) async throws {
        let deadline = newDeadline()
        if let library { try await load(library, on: connection, deadline: deadline) }
        for command in setupCommands {
            _ = try await connection.send(command, deadline: deadline)
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
