import NIOCore
import NIOEmbedded
import Testing

@testable import RedisClient

/// How the pipelining handler batches its writes, step by step on an embedded channel (what
/// leaves and when; that Redis answers every command right is the integration tests' part).
@Suite struct RedisChannelHandlerTests {
    private static func send(_ channel: EmbeddedChannel, _ text: String) -> EventLoopFuture<RESPValue> {
        let promise = channel.eventLoop.makePromise(of: RESPValue.self)
        let request = RedisRequest(command: RedisCommand("ECHO", [text]), promise: promise, deadline: .now() + .seconds(60))
        channel.writeAndFlush(request, promise: nil)
        return promise.futureResult
    }

    /// The bytes written since the last look, one string per write.
    private static func writes(_ channel: EmbeddedChannel) throws -> [String] {
        var writes: [String] = []
        while let buffer = try channel.readOutbound(as: ByteBuffer.self) {
            writes.append(String(buffer: buffer))
        }
        return writes
    }

    private static func echo(_ text: String) -> String {
        "*2\r\n$4\r\nECHO\r\n$\(text.utf8.count)\r\n\(text)\r\n"
    }

    @Test func commandsWaitForAnOutstandingReplyAndThenLeaveInOneWrite() throws {
        let channel = EmbeddedChannel(handler: RedisChannelHandler())
        let first = Self.send(channel, "a")
        channel.embeddedEventLoop.run()
        #expect(try Self.writes(channel) == [Self.echo("a")], "nothing outstanding: it leaves at the end of the pass")

        let second = Self.send(channel, "b")
        let third = Self.send(channel, "c")
        channel.embeddedEventLoop.run()
        #expect(try Self.writes(channel).isEmpty, "held while the first reply is outstanding")

        try channel.writeInbound(ByteBuffer(string: "$1\r\na\r\n"))
        #expect(try first.wait().string == "a")
        #expect(try Self.writes(channel) == [Self.echo("b") + Self.echo("c")], "both leave together when the reply arrives")

        try channel.writeInbound(ByteBuffer(string: "$1\r\nb\r\n$1\r\nc\r\n"))
        #expect(try second.wait().string == "b" && third.wait().string == "c")
        _ = try channel.finish()
    }

    @Test func heldCommandsLeaveOnceTheyFillTheLimitEvenWithRepliesOutstanding() throws {
        let channel = EmbeddedChannel(handler: RedisChannelHandler())
        _ = Self.send(channel, "a")
        channel.embeddedEventLoop.run()
        _ = try Self.writes(channel)
        let big = String(repeating: "x", count: RedisChannelHandler.heldBytesLimit / 4)
        for _ in 0..<3 { _ = Self.send(channel, big) }
        channel.embeddedEventLoop.run()
        #expect(try Self.writes(channel).isEmpty, "under the limit: held")
        _ = Self.send(channel, big)
        channel.embeddedEventLoop.run()
        #expect(try Self.writes(channel) == [String(repeating: Self.echo(big), count: 4)], "at the limit: written")
        _ = try? channel.finish()
    }
}
