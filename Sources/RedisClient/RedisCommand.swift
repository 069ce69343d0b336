import CHiredis
import NIOCore

/// One Redis command: its name and arguments, binary-safe.
public struct RedisCommand: Sendable {
    /// The arguments as sent, the command name first.
    public let wireArguments: [String]

    public init(_ name: String, _ arguments: [String] = []) {
        self.wireArguments = [name] + arguments
    }

    /// `FCALL function numkeys key... arg...`
    public static func fcall(_ function: String, keys: [String], arguments: [String]) -> RedisCommand {
        RedisCommand("FCALL", [function, String(keys.count)] + keys + arguments)
    }

    /// Writes the command in RESP with hiredis' formatter.
    func encode(into buffer: inout ByteBuffer) {
        var storage: [UInt8] = []
        var lengths: [Int] = []
        for part in wireArguments {
            storage.append(contentsOf: part.utf8)
            lengths.append(part.utf8.count)
        }
        storage.append(0)  // a non-empty array always has a base address
        storage.withUnsafeBufferPointer { bytes in
            let base = UnsafeRawPointer(bytes.baseAddress!).assumingMemoryBound(to: CChar.self)
            var offset = 0
            var pointers: [UnsafePointer<CChar>?] = lengths.map { length in
                defer { offset += length }
                return base + offset
            }
            var target: UnsafeMutablePointer<CChar>?
            let length = redisFormatCommandArgv(&target, Int32(pointers.count), &pointers, lengths)
            guard length >= 0, let target else { fatalError("hiredis could not format a command") }
            defer { redisFreeCommand(target) }
            buffer.writeBytes(UnsafeRawBufferPointer(start: target, count: Int(length)))
        }
    }
}
