import NIOCore
import NIOPosix
import Synchronization

/// A loopback TCP proxy in front of Redis whose network the test can cut and restore: while cut,
/// no byte moves either way on any connection, old or new (reads stop, so TCP's own flow
/// control holds the bytes, as on a link that drops every packet), and when restored everything
/// flows again. Connections stay open meanwhile, as they do across a real partition.
final class CuttableProxy: Sendable {
    let port: Int
    private let serverChannel: any Channel
    private let state: State

    final class State: Sendable {
        let cut = Atomic(false)
        let channels = Mutex<[any Channel]>([])

        func add(_ channel: any Channel) {
            channels.withLock { $0.append(channel) }
            if cut.load(ordering: .relaxed) { _ = channel.setOption(.autoRead, value: false) }
        }

        /// Returns once every connection has stopped (or resumed) reading.
        func setCut(_ on: Bool) async {
            cut.store(on, ordering: .relaxed)
            let channels = self.channels.withLock { channels in
                channels.removeAll { !$0.isActive }
                return channels
            }
            for channel in channels {
                try? await channel.setOption(.autoRead, value: !on).get()
                if !on { channel.read() }
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
            .childChannelInitializer { inbound in
                ClientBootstrap(group: inbound.eventLoop)
                    .connect(host: "127.0.0.1", port: targetPort)
                    .flatMap { outbound in
                        state.add(inbound)
                        state.add(outbound)
                        return inbound.eventLoop.makeCompletedFuture {
                            try inbound.pipeline.syncOperations.addHandler(Forwarder(to: outbound))
                            try outbound.pipeline.syncOperations.addHandler(Forwarder(to: inbound))
                        }
                    }
            }
            .bind(host: "127.0.0.1", port: 0)
            .get()
        return CuttableProxy(port: server.localAddress?.port ?? 0, serverChannel: server, state: state)
    }

    /// Cuts (true) or restores (false) the network between clients and Redis.
    func setCut(_ on: Bool) async { await state.setCut(on) }

    func stop() async {
        try? await serverChannel.close()
        for channel in state.channels.withLock({ $0 }) { try? await channel.close() }
    }

    /// Writes what one side reads to the other; closing either closes both.
    private final class Forwarder: ChannelInboundHandler, Sendable {
        typealias InboundIn = ByteBuffer
        let peer: any Channel

        init(to peer: any Channel) { self.peer = peer }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            peer.writeAndFlush(unwrapInboundIn(data), promise: nil)
        }

        func channelInactive(context: ChannelHandlerContext) {
            peer.close(promise: nil)
            context.fireChannelInactive()
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            context.close(promise: nil)
        }
    }
}
