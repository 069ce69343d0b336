import DequeModule
import NIOCore

/// A command on its way to Redis, with the task waiting for its reply and the moment it gives up.
struct RedisRequest {
    let command: RedisCommand
    let continuation: UnsafeContinuation<RESPValue, any Error>
    let deadline: NIODeadline
    /// Sent right after `ASKING` (Redis Cluster's one-command permission for a slot being
    /// imported), with nothing between the two.
    var asking = false
}

/// Pipelines commands over one connection. `RedisConnection` hands it each command directly, on
/// the channel's event loop (no trip through the pipeline's outbound side, no future per
/// command); commands sent during one event-loop pass are flushed together in one write, and
/// replies resume their waiting tasks in order. If the oldest command passes its deadline, every
/// waiting command fails with `.timeout` and the connection is closed: a RESP request cannot be
/// taken back, so the connection's state is unknown.
final class RedisChannelHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private struct Waiting {
        /// Nil for an `ASKING` sent before its command, whose reply no one reads.
        let continuation: UnsafeContinuation<RESPValue, any Error>?
        let deadline: NIODeadline
    }

    private let reader = RESPReader()
    private var waiting: Deque<Waiting> = []
    private var outbound = ByteBuffer()
    private var flushScheduled = false
    private var timer: Scheduled<Void>?
    private var context: ChannelHandlerContext?
    /// Set once the connection is unusable; later commands fail with it at once.
    private var failure: RedisError?

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        failAll(with: failure ?? .connectionClosed)
        self.context = nil
    }

    /// Queues `request` for the next write; on the channel's event loop only. Its task is resumed
    /// exactly once: by its reply, or by the connection's failure.
    func send(_ request: RedisRequest) {
        guard let context, failure == nil else {
            request.continuation.resume(throwing: failure ?? .connectionClosed)
            return
        }
        if request.asking {
            RedisCommand("ASKING").encode(into: &outbound)
            waiting.append(Waiting(continuation: nil, deadline: request.deadline))
        }
        request.command.encode(into: &outbound)
        waiting.append(Waiting(continuation: request.continuation, deadline: request.deadline))
        armTimer(context: context)
        scheduleFlush(context: context)
    }

    /// Writes at the end of the current event-loop pass, so that commands sent together leave
    /// in one `write` system call.
    private func scheduleFlush(context: ChannelHandlerContext) {
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
                next.continuation?.resume(returning: reply)
            }
        } catch {
            fail(context: context, with: error as? RedisError ?? .protocolError("\(error)"))
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        failAll(with: failure ?? .connectionClosed)
        context.fireChannelInactive()
    }

    /// The error is kept in the message: a TLS alert (a certificate refused) arrives this way.
    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        fail(context: context, with: RedisError(kind: .connectionClosed, message: "connection to Redis closed: \(error)"))
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
            next.continuation?.resume(throwing: error)
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
