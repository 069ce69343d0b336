import CHiredis
import NIOCore

/// One Redis command: its name and arguments, binary-safe.
public struct RedisCommand: Sendable {
    /// The arguments as sent, the command name first.
    public let wireArguments: [String]

    public init(_ name: String, _ arguments: [String] = []) {
        var wire = [name]
        wire.append(contentsOf: arguments)
        self.wireArguments = wire
    }

    private init(wireArguments: [String]) {
        self.wireArguments = wireArguments
    }

    /// `FCALL function numkeys key... arg...`, built in one array (a call's only allocation here).
    public static func fcall(_ function: String, keys: [String], arguments: [String]) -> RedisCommand {
        var wire: [String] = []
        wire.reserveCapacity(3 + keys.count + arguments.count)
        wire.append("FCALL")
        wire.append(function)
        wire.append(String(keys.count))
        wire.append(contentsOf: keys)
        wire.append(contentsOf: arguments)
        return RedisCommand(wireArguments: wire)
    }

    /// Writes the command in RESP with hiredis' formatter. The arguments' bytes, lengths and
    /// pointers are laid out in temporary space (on the stack when small), not in arrays: this runs
    /// once per command, and growing three arrays cost a dozen allocations.
    func encode(into buffer: inout ByteBuffer) {
        let count = wireArguments.count
        var total = 1  // a trailing byte, so that no argument list leaves the storage empty
        for part in wireArguments { total += part.utf8.count }
        withUnsafeTemporaryAllocation(of: Int.self, capacity: count) { lengths in
            withUnsafeTemporaryAllocation(of: UnsafePointer<CChar>?.self, capacity: count) { pointers in
                withUnsafeTemporaryAllocation(of: UInt8.self, capacity: total) { storage in
                    var offset = 0
                    for (index, part) in wireArguments.enumerated() {
                        let copied = UnsafeMutableBufferPointer(rebasing: storage[offset...]).initialize(fromContentsOf: part.utf8)
                        lengths[index] = copied
                        pointers[index] = UnsafeRawPointer(storage.baseAddress! + offset).assumingMemoryBound(to: CChar.self)
                        offset += copied
                    }
                    var target: UnsafeMutablePointer<CChar>?
                    let length = redisFormatCommandArgv(&target, Int32(count), pointers.baseAddress, lengths.baseAddress)
                    guard length >= 0, let target else { fatalError("hiredis could not format a command") }
                    defer { redisFreeCommand(target) }
                    buffer.writeBytes(UnsafeRawBufferPointer(start: target, count: Int(length)))
                }
            }
        }
    }
}
