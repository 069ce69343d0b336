import NIOCore

/// Tells a waiting request (`?wait=`) that its HTTP/1.1 client has gone. Hummingbird accepts
/// connections with remote half-closure allowed, so a client that closes its connection shows
/// up only as `ChannelEvent.inputClosed`: the channel stays open until the answer is written,
/// and its `closeFuture` would not fire while the request waits. This handler, one per
/// connection, fires `departed` on that event or when the channel goes inactive, whichever
/// comes first. A client that only shuts its sending side while it waits counts as gone too, as
/// proxies count it. HTTP/2 streams are left out: a stream's input closes with every request
/// (END_STREAM), and a stream whose client goes is closed (its `closeFuture`).
final class ClientDepartureHandler: ChannelInboundHandler, RemovableChannelHandler {
    /// (Every part is passed on untouched.)
    typealias InboundIn = Never

    /// Kept once fulfilled: a request that begins to wait after its client went hears at once.
    private var departed: EventLoopPromise<Void>?
    private var hasDeparted = false
    private var isHTTP2Stream = false

    /// Runs `gone` on `channel`'s event loop once its client has gone (see above); for a channel
    /// without this handler (an HTTP/2 stream), once the channel closes.
    static func whenGone(of channel: any Channel, _ gone: @escaping @Sendable () -> Void) {
        channel.closeFuture.whenComplete { _ in gone() }
        channel.eventLoop.execute {
            guard let handler = try? channel.pipeline.syncOperations.handler(type: ClientDepartureHandler.self) else { return }
            handler.departed?.futureResult.whenComplete { _ in gone() }
        }
    }

    func handlerAdded(context: ChannelHandlerContext) {
        departed = context.eventLoop.makePromise()
        // an HTTP/2 stream's channel is a child of the connection's, itself a child of the server's
        isHTTP2Stream = context.channel.parent?.parent != nil
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        depart()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case ChannelEvent.inputClosed = event, !isHTTP2Stream { depart() }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        depart()
        context.fireChannelInactive()
    }

    private func depart() {
        guard !hasDeparted else { return }
        hasDeparted = true
        departed?.succeed()
    }
}
