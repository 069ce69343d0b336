import NIOCore
import NIOPosix

/// One connection to Redis (TCP or a Unix socket), shared by any number of concurrent callers through pipelining.
final class RedisConnection: Sendable {
    private let channel: any Channel
    /// The channel's handler, which its event loop alone may touch.
    private let handler: NIOLoopBound<RedisChannelHandler>

    private init(channel: any Channel, handler: NIOLoopBound<RedisChannelHandler>) {
        self.channel = channel
        self.handler = handler
    }

    /// Connects (over TLS with `tls`: the handshake first), then authenticates, names the
    /// connection (`Configuration.clientName`) and selects the database the URL names.
    /// - Throws: `RedisError`: `.unavailable` when it cannot connect; `.tls` (saying why) when TLS
    ///   fails, the server's certificate or ours refused; a setup command's error.
    static func connect(
        to url: RedisURL,
        tls: RedisTLS?,
        configuration: RedisClient.Configuration,
        eventLoopGroup: any EventLoopGroup
    ) async throws -> RedisConnection {
        let channel: any Channel, handler: NIOLoopBound<RedisChannelHandler>
        do {
            let bootstrap = ClientBootstrap(group: eventLoopGroup)
                .connectTimeout(TimeAmount(configuration.connectTimeout))
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        if let tls {
                            try channel.pipeline.syncOperations.addHandlers(
                                tls.handler(for: url.host), TLSHandshake(done: channel.eventLoop.makePromise()))
                        }
                        try channel.pipeline.syncOperations.addHandler(RedisChannelHandler())
                    }
                }
            let connected = if let path = url.socketPath {
                bootstrap.connect(unixDomainSocketPath: path)
            } else {
                bootstrap.channelOption(.socketOption(.tcp_nodelay), value: 1).connect(host: url.host, port: url.port)
            }
            (channel, handler) = try await connected
                .flatMap { channel in  // the handler the initializer added
                    channel.pipeline.handler(type: RedisChannelHandler.self).map { (channel, NIOLoopBound($0, eventLoop: channel.eventLoop)) }
                }
                .get()
        } catch {
            throw RedisError(kind: .unavailable, message: "cannot connect to \(url.endpoint): \(error)")
        }
        let connection = RedisConnection(channel: channel, handler: handler)
        do {
            let deadline = NIODeadline.now() + TimeAmount(configuration.commandTimeout)
            var setup: [RedisCommand] = []
            if let password = url.password {
                setup.append(RedisCommand("AUTH", url.username.map { [$0, password] } ?? [password]))
            }
            if let name = configuration.clientName {
                setup.append(RedisCommand("CLIENT", ["SETNAME", name]))
            }
            if url.database != 0 {
                setup.append(RedisCommand("SELECT", [String(url.database)]))
            }
            if tls != nil {
                try await channel.pipeline.handler(type: TLSHandshake.self).flatMap(\.done.futureResult).get()
                // under TLS 1.3 a server refuses our certificate only after the handshake: ask once at least
                if setup.isEmpty { setup.append(RedisCommand("PING")) }
            }
            for command in setup {
                _ = try await connection.send(command, deadline: deadline)
            }
        } catch {
            connection.close()
            guard let tls else { throw error }
            throw await tls.explain(error, host: url.host, port: url.port, eventLoopGroup: eventLoopGroup)
        }
        return connection
    }

    /// Sends a command and waits for its reply; an error reply is thrown as `RedisError.server`.
    /// From a task on the channel's event loop the command is queued at once; from elsewhere, by a
    /// job on that loop.
    /// - Parameter asking: send `ASKING` first, directly before it (see `RedisRequest`).
    func send(_ command: RedisCommand, deadline: NIODeadline, asking: Bool = false) async throws -> RESPValue {
        let reply = try await withUnsafeThrowingContinuation { continuation in
            let request = RedisRequest(command: command, continuation: continuation, deadline: deadline, asking: asking)
            if handler.eventLoop.inEventLoop {
                handler.value.send(request)
            } else {
                let handler = self.handler
                handler.eventLoop.execute { handler.value.send(request) }
            }
        }
        if case .error(let message) = reply { throw RedisError.server(message) }
        return reply
    }

    /// The event loop its channel runs on.
    var eventLoop: any EventLoop { channel.eventLoop }

    /// False once the channel has closed (its slot may not have been cleared yet).
    var isActive: Bool { channel.isActive }

    /// Completes when the connection has closed, for whatever reason.
    func waitUntilClosed() async {
        try? await channel.closeFuture.get()
    }

    func close() {
        channel.close(promise: nil)
    }
}
