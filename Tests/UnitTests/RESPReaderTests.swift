import NIOCore
import Testing

@testable import RedisClient

@Suite struct RESPReaderTests {
    private func decode(_ text: String) throws -> [RESPValue] {
        let reader = RESPReader()
        try reader.feed(ByteBuffer(string: text))
        var values: [RESPValue] = []
        while let value = try reader.next() { values.append(value) }
        return values
    }

    @Test func decodesEveryReplyType() throws {
        let values = try decode("+OK\r\n-ERR bad thing\r\n:42\r\n$5\r\nhello\r\n$-1\r\n*2\r\n:1\r\n*1\r\n$0\r\n\r\n")
        #expect(values == [
            .simpleString("OK"), .error("ERR bad thing"), .integer(42), .bulkString(Array("hello".utf8)), .null,
            .array([.integer(1), .array([.bulkString([])])]),
        ])
    }

    @Test func waitsForTheRestOfASplitReply() throws {
        let reader = RESPReader()
        try reader.feed(ByteBuffer(string: "$11\r\nhello "))
        #expect(try reader.next() == nil)
        try reader.feed(ByteBuffer(string: "world\r\n"))
        #expect(try reader.next()?.string == "hello world")
    }

    @Test func bulkStringsAreBinarySafe() throws {
        let values = try decode("$3\r\n\u{0}\r\n\r\n")
        #expect(values == [.bulkString([0, 13, 10])])
    }

    @Test func rejectsBytesThatAreNotRESP() {
        #expect(throws: RedisError.self) { try decode("?what\r\n") }
    }

    @Test func accessorsConvertBetweenStringsAndIntegers() {
        #expect(RESPValue.bulkString(Array("17".utf8)).int == 17)
        #expect(RESPValue.integer(5).string == "5")
        #expect(RESPValue.null.string == nil)
        #expect(RESPValue.array([.null]).array == [.null])
    }

    @Test func encodesCommandsAsRESPArrays() {
        var buffer = ByteBuffer()
        RedisCommand("SET", ["key", "va\r\nl", ""]).encode(into: &buffer)
        #expect(String(buffer: buffer) == "*4\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nva\r\nl\r\n$0\r\n\r\n")
    }

    @Test func encodesCommandsOfAnySizeByteForByte() {
        var buffer = ByteBuffer()
        RedisCommand("PING").encode(into: &buffer)
        #expect(String(buffer: buffer) == "*1\r\n$4\r\nPING\r\n")

        // multi-byte text counts in bytes; an argument far larger than any stack space is laid out whole
        let large = String(repeating: "é|", count: 40_000)
        buffer.clear()
        RedisCommand.fcall("lib_checkout", keys: ["{p}:pool", "{p}:records:"], arguments: ["", large, "ü"]).encode(into: &buffer)
        let expected = "*8\r\n$5\r\nFCALL\r\n$12\r\nlib_checkout\r\n$1\r\n2\r\n$8\r\n{p}:pool\r\n$12\r\n{p}:records:\r\n"
            + "$0\r\n\r\n$120000\r\n\(large)\r\n$2\r\nü\r\n"
        #expect(String(buffer: buffer) == expected)
    }

    @Test func splitsServerErrorsIntoPrefixAndMessage() {
        let error = RedisError.server("NOSCRIPT No matching script.")
        #expect(error.kind == .server)
        #expect(error.prefix == "NOSCRIPT")
        #expect(error.message == "No matching script.")
    }
}
