import NIOCore
import NIOTLS

/// Completes `done` when the TLS handshake in front of it ends: with success, or with the
/// handshake's error (or the connection's end before it finished); always exactly once. It stays
/// in the pipeline and passes everything on.
final class TLSHandshake: ChannelInboundHandler {
    typealias InboundIn = NIOAny

    let done: EventLoopPromise<Void>
    private var finished = false

    init(done: EventLoopPromise<Void>) {
        self.done = done
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case .handshakeCompleted = event as? TLSUserEvent { finish(.success(())) }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        finish(.failure(error))
        context.fireErrorCaught(error)
    }

    func channelInactive(context: ChannelHandlerContext) {
        finish(.failure(RedisError.connectionClosed))
        context.fireChannelInactive()
    }

    /// (A connection that never became active, e.g. refused, only removes its handlers.)
    func handlerRemoved(context: ChannelHandlerContext) {
        finish(.failure(RedisError.connectionClosed))
    }

    private func finish(_ result: Result<Void, any Error>) {
        guard !finished else { return }
        finished = true
        done.completeWith(result)
    }
}
