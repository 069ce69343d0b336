import NIOCore
import Testing
import TestSupport

@testable import RedisClient

/// Property tests of the RESP reply decoder (hiredis' reader behind `RESPReader`): any reply
/// Redis can send decodes to what was sent, however the bytes are split across reads; and no
/// byte sequence at all makes it crash or hang.
@Suite struct RESPReaderPropertyTests {
    /// A random reply, nested at most `depth` deep (hiredis 0.14 reads up to 7 levels).
    private func reply(_ random: inout SeededGenerator, depth: Int) -> RESPValue {
        switch Int.random(in: 0..<(depth > 0 ? 6 : 5), using: &random) {
        case 0: return .simpleString(text(&random, allowingLineBreaks: false))
        case 1: return .error("ERR " + text(&random, allowingLineBreaks: false))
        case 2: return .integer(Int64.random(in: .min ... .max, using: &random))
        case 3: return .bulkString((0..<Int.random(in: 0..<64, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) })
        case 4: return .null
        default: return .array((0..<Int.random(in: 0..<5, using: &random)).map { _ in reply(&random, depth: depth - 1) })
        }
    }

    private func text(_ random: inout SeededGenerator, allowingLineBreaks: Bool) -> String {
        let letters = Array("abcXYZ 09_-:é€😀" + (allowingLineBreaks ? "\r\n" : ""))
        return String((0..<Int.random(in: 0..<20, using: &random)).map { _ in letters.randomElement(using: &random)! })
    }

    /// The bytes Redis would send for `value`.
    private func encode(_ value: RESPValue) -> [UInt8] {
        switch value {
        case .simpleString(let text): Array("+\(text)\r\n".utf8)
        case .error(let text): Array("-\(text)\r\n".utf8)
        case .integer(let number): Array(":\(number)\r\n".utf8)
        case .bulkString(let bytes): Array("$\(bytes.count)\r\n".utf8) + bytes + Array("\r\n".utf8)
        case .null: Array("$-1\r\n".utf8)
        case .array(let elements): Array("*\(elements.count)\r\n".utf8) + elements.flatMap(encode)
        }
    }

    /// Feeds `bytes` in chunks cut at random places; answers the replies read, and the error if any.
    private func read(_ bytes: [UInt8], _ random: inout SeededGenerator) -> ([RESPValue], RedisError?) {
        let reader = RESPReader()
        var values: [RESPValue] = []
        var offset = 0
        do throws(RedisError) {
            while offset < bytes.count {
                let end = min(bytes.count, offset + Int.random(in: 1...40, using: &random))
                try reader.feed(ByteBuffer(bytes: bytes[offset..<end]))
                offset = end
                while let value = try reader.next() { values.append(value) }
            }
            return (values, nil)
        } catch {
            return (values, error)
        }
    }

    @Test func everyReplyDecodesToWhatWasSentHoweverTheBytesAreSplit() {
        let seed = SeededGenerator.seed()
        var random = SeededGenerator(seed: seed)
        for _ in 0..<3000 {
            let replies = (0..<Int.random(in: 1...4, using: &random)).map { _ in reply(&random, depth: 6) }
            let (values, error) = read(replies.flatMap(encode), &random)
            #expect(error == nil && values == replies, "seed \(seed): \(replies) read as \(values), \(String(describing: error))")
            if error != nil || values != replies { return }
        }
    }

    @Test func noByteSequenceCrashesItOrFailsOtherwiseThanAsAProtocolError() {
        let seed = SeededGenerator.seed()
        var random = SeededGenerator(seed: seed)
        for _ in 0..<5000 {
            var bytes = encode(reply(&random, depth: 9))  // deeper than hiredis reads, at times
            switch Int.random(in: 0..<4, using: &random) {
            case 0:  // bytes changed
                for _ in 0..<Int.random(in: 1...4, using: &random) where !bytes.isEmpty {
                    bytes[Int.random(in: 0..<bytes.count, using: &random)] = UInt8.random(in: 0...255, using: &random)
                }
            case 1:  // cut short
                bytes = Array(bytes.prefix(Int.random(in: 0...bytes.count, using: &random)))
            case 2:  // noise
                bytes = (0..<Int.random(in: 0..<200, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) }
            default:  // a wrong type byte in front
                bytes.insert(Array("?!#%&@".utf8).randomElement(using: &random)!, at: 0)
            }
            // It ends (every read is bounded), and fails only as a protocol error. (What it reads
            // from corrupt bytes is not checked: hiredis does not check the CRLF after a bulk
            // string, and status lines that are not UTF-8 become text with replacement characters.)
            let (_, error) = read(bytes, &random)
            if let error { #expect(error.kind == .protocolError, "seed \(seed): \(error)") }
        }
    }
}
