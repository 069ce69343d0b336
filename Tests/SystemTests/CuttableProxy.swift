import GatewayTestSupport
import NIOCore
import NIOPosix
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A loopback TCP proxy in front of Redis whose network the test can cut and restore: while cut,
/// no byte and no end of a connection gets through either way, on any connection, old or new
/// (the proxy holds them, as a link that drops every packet holds them in its senders), and when
/// restored everything held is delivered in order. Connections stay open meanwhile, as they do
/// across a real partition.
///
/// It also knows which connections their client (a gateway) has given up on while Redis still has
/// them open: Redis will yet run what such a connection sent. `abandonedConnections()` counts
/// them, so a test can wait until no late command can still run.
final class CuttableProxy: Sendable {
    let port: Int
    private let serverChannel: any Channel
    private let state: State

    final class State: Sendable {
        /// Guarded with the list, so that a connection made while the cut changes either is in
        /// the list `setCut` works through or starts with the new setting.
        private let links = Mutex<(cut: Bool, all: [Link])>((false, []))

        func add(_ link: Link) {
            let cut = links.withLock { links in
                links.all.append(link)
                return links.cut
            }
            link.setHolding(cut)  // (on its event loop: a new connection is added there)
        }

        /// Returns once every connection holds (or has delivered what it held).
        func setCut(_ on: Bool) async {
            let all = links.withLock { links in
                links.cut = on
                links.all.removeAll { $0.isFinished }
                return links.all
            }
            for link in all { try? await link.eventLoop.submit { link.setHolding(on) }.get() }
        }

        func abandonedConnections() async -> Int {
            var count = 0
            for link in all where await link.isAbandoned() { count += 1 }
            return count
        }

        var all: [Link] { links.withLock { $0.all } }
    }

    /// One client connection and its connection to Redis. Both run on one event loop, where all
    /// of its state but the two flags is touched.
    final class Link: @unchecked Sendable {
        let client: any Channel, redis: any Channel
        var eventLoop: any EventLoop { client.eventLoop }
        private let clientGone = Atomic(false), redisGone = Atomic(false)
        private var holding = false
        private var held: [(toRedis: Bool, bytes: ByteBuffer?)] = []  // nil: the sender's end

        init(client: any Channel, redis: any Channel) {
            self.client = client
            self.redis = redis
        }

        /// The client has gone (its end may still be in the kernel, not read yet) while Redis still
        /// has the connection open.
        func isAbandoned() async -> Bool {
            guard !redisGone.load(ordering: .relaxed) else { return false }
            if clientGone.load(ordering: .relaxed) { return true }
            guard let socket = client as? any SocketOptionProvider, let info = try? await socket.getTCPInfo().get() else {
                return true  // closed already
            }
            return [UInt8(TCP_CLOSE), UInt8(TCP_CLOSE_WAIT)].contains(info.tcpi_state)
        }
        var isFinished: Bool { clientGone.load(ordering: .relaxed) && redisGone.load(ordering: .relaxed) }

        func received(_ bytes: ByteBuffer, fromClient: Bool) {
            pass((toRedis: fromClient, bytes: bytes))
        }

        func ended(fromClient: Bool) {
            if fromClient { clientGone.store(true, ordering: .relaxed) } else { redisGone.store(true, ordering: .relaxed) }
            pass((toRedis: fromClient, bytes: nil))
        }

        func setHolding(_ on: Bool) {
            holding = on
            guard !on else { return }
            let delivered = held
            held = []
            for item in delivered { deliver(item) }
        }

        private func pass(_ item: (toRedis: Bool, bytes: ByteBuffer?)) {
            if holding { held.append(item) } else { deliver(item) }
        }

        /// An end from the client half-closes the Redis side (after what was written before it), so
        /// that Redis reads everything sent, runs it, and then closes; an end from Redis closes the
        /// client side.
        private func deliver(_ item: (toRedis: Bool, bytes: ByteBuffer?)) {
            let peer = item.toRedis ? redis : client
            if let bytes = item.bytes {
                peer.writeAndFlush(bytes, promise: nil)
            } else {
                peer.close(mode: item.toRedis ? .output : .all, promise: nil)
            }
        }
    }

    private init(port: Int, serverChannel: any Channel, state: State) {
        self.port = port
        self.serverChannel = serverChannel
        self.state = state
    }

    /// Listens on a free loopback port and forwards every connection to `targetPort`.
    static func start(to targetPort: Int) async throws -> CuttableProxy {
        let state = State()
        let group = MultiThreadedEventLoopGroup.singleton
        let server = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.autoRead, value: true)
            .childChannelInitializer { client in
                ClientBootstrap(group: client.eventLoop)
                    .connect(host: "127.0.0.1", port: targetPort)
                    .flatMap { redis in
                        let link = Link(client: client, redis: redis)
                        state.add(link)
                        return client.eventLoop.makeCompletedFuture {
                            try client.pipeline.syncOperations.addHandler(Forwarder(link, fromClient: true))
                            try redis.pipeline.syncOperations.addHandler(Forwarder(link, fromClient: false))
                        }
                    }
            }
            .bind(host: "127.0.0.1", port: 0)
            .get()
        return CuttableProxy(port: server.localAddress?.port ?? 0, serverChannel: server, state: state)
    }

    /// Cuts (true) or restores (false) the network between clients and Redis.
    func setCut(_ on: Bool) async { await state.setCut(on) }

    /// How many connections a client has given up on that Redis has not closed yet.
    func abandonedConnections() async -> Int { await state.abandonedConnections() }

    func stop() async {
        try? await serverChannel.close()
        for link in state.all {
            try? await link.client.close()
            try? await link.redis.close()
        }
    }

    /// Hands what one side of a link reads, and its end, to the link.
    private final class Forwarder: ChannelInboundHandler, Sendable {
        typealias InboundIn = ByteBuffer
        let link: Link
        let fromClient: Bool

        init(_ link: Link, fromClient: Bool) {
            self.link = link
            self.fromClient = fromClient
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            link.received(unwrapInboundIn(data), fromClient: fromClient)
        }

        func channelInactive(context: ChannelHandlerContext) {
            link.ended(fromClient: fromClient)
            context.fireChannelInactive()
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            context.close(promise: nil)
        }
    }
}
