import DequeModule
import NIOCore

/// A command on its way to Redis, with the promise of its reply and the moment it gives up.
struct RedisRequest: Sendable {
    let command: RedisCommand
    let promise: EventLoopPromise<RESPValue>
    let deadline: NIODeadline
    /// Sent right after `ASKING` (Redis Cluster's one-command permission for a slot being
    /// imported), with nothing between the two.
    var asking = false
}

/// Pipelines commands over one connection. Commands written during one event-loop pass are
/// flushed together in one write; replies complete their promises in order. If the oldest
/// command passes its deadline, every waiting command fails with `.timeout` and the connection is
/// closed: a RESP request cannot be taken back, so the connection's state is unknown.
final class RedisChannelHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = RedisRequest
    typealias OutboundOut = ByteBuffer

    private struct Waiting {
        let promise: EventLoopPromise<RESPValue>
        let deadline: NIODeadline
    }

    private let reader = RESPReader()
    private var waiting: Deque<Waiting> = []
    private var outbound = ByteBuffer()
    private var flushScheduled = false
    private var timer: Scheduled<Void>?
    /// Set once the connection is unusable; later commands fail with it at once.
    private var failure: RedisError?

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let request = unwrapOutboundIn(data)
        promise?.succeed()
        if let failure {
            request.promise.fail(failure)
            return
        }
        if request.asking {
            RedisCommand("ASKING").encode(into: &outbound)
            waiting.append(Waiting(promise: context.eventLoop.makePromise(), deadline: request.deadline))
        }
        request.command.encode(into: &outbound)
        waiting.append(Waiting(promise: request.promise, deadline: request.deadline))
        armTimer(context: context)
    }

    /// Defers the flush to the end of the current event-loop pass, so that commands arriving
    /// together leave in one `write` system call.
    func flush(context: ChannelHandlerContext) {
        guard !flushScheduled else { return }
        flushScheduled = true
        context.eventLoop.assumeIsolated().execute {
            self.flushScheduled = false
            guard self.outbound.readableBytes > 0, self.failure == nil else { return }
            let bytes = self.outbound
            self.outbound = context.channel.allocator.buffer(capacity: bytes.readableBytes)
            context.writeAndFlush(self.wrapOutboundOut(bytes), promise: nil)
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        do {
            try reader.feed(unwrapInboundIn(data))
            while let reply = try reader.next() {
                guard let next = waiting.popFirst() else {
                    throw RedisError.protocolError("a reply arrived for no command")
                }
                next.promise.succeed(reply)
            }
        } catch {
            fail(context: context, with: error as? RedisError ?? .protocolError("\(error)"))
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        failAll(with: failure ?? .connectionClosed)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        fail(context: context, with: .connectionClosed)
    }

    private func fail(context: ChannelHandlerContext, with error: RedisError) {
        failAll(with: error)
        context.close(promise: nil)
    }

    private func failAll(with error: RedisError) {
        if failure == nil { failure = error }
        timer?.cancel()
        timer = nil
        while let next = waiting.popFirst() {
            next.promise.fail(error)
        }
    }

    /// Keeps one timer running, set to the oldest waiting command's deadline.
    private func armTimer(context: ChannelHandlerContext) {
        guard timer == nil, let oldest = waiting.first else { return }
        timer = context.eventLoop.assumeIsolated().scheduleTask(deadline: oldest.deadline) {
            self.timer = nil
            guard let oldest = self.waiting.first else { return }
            if oldest.deadline <= .now() {
                self.fail(context: context, with: .timeout)
            } else {
                self.armTimer(context: context)
            }
        }
    }
}
