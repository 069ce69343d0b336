/// Redis Cluster's key slots: CRC16 (XMODEM) of a key's hash tag, modulo 16384. A key with a
/// non-empty `{…}` hashes only what the first braces hold, so a pool's keys, which all carry
/// `{pool}`, share one slot.
public enum ClusterSlot {
    public static let count = 16384

    public static func of(_ key: String) -> Int {
        var bytes = Array(key.utf8)
        if let open = bytes.firstIndex(of: UInt8(ascii: "{")),
           let close = bytes[(open + 1)...].firstIndex(of: UInt8(ascii: "}")), close > open + 1 {
            bytes = Array(bytes[(open + 1)..<close])
        }
        var crc: UInt16 = 0
        for byte in bytes {
            crc ^= UInt16(byte) << 8
            for _ in 0..<8 {
                crc = crc & 0x8000 != 0 ? (crc << 1) ^ 0x1021 : crc << 1
            }
        }
        return Int(crc) % count
    }
}

extension RedisCommand {
    /// The key that decides which cluster node a command goes to: the first key of FCALL and
    /// EVAL-like commands, the first argument of other commands, none for commands about the
    /// server itself (any node may answer them).
    var routingKey: String? {
        let name = wireArguments[0].uppercased()
        switch name {
        case "FCALL", "FCALL_RO", "EVAL", "EVALSHA":
            guard wireArguments.count > 3, let keyCount = Int(wireArguments[2]), keyCount > 0 else { return nil }
            return wireArguments[3]
        case "PING", "INFO", "CONFIG", "FUNCTION", "SCRIPT", "CLUSTER", "ROLE", "CLIENT", "WAIT", "TIME", "DBSIZE",
             "ASKING", "AUTH", "SELECT", "KEYS", "FLUSHALL", "FLUSHDB":
            return nil
        default:
            return wireArguments.count > 1 ? wireArguments[1] : nil
        }
    }
}
