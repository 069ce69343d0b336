import Foundation
import RedisClient

/// A VM as the scripts store and answer it (lua/_prelude.lua, "VMs"): its id and its record, the
/// values of `fieldNames` in that order joined by "|", empty for a field that is not set. Only
/// `error`, the last field, may hold "|"; `machine_id` has "%" and "|" escaped as %25 and %7C.
public struct VMRecord: Sendable {
    /// The record's fields, in their order; keep in step with VM_FIELDS in lua/_prelude.lua.
    public static let fieldNames = [
        "status", "ip", "created_at", "size", "cpu", "memory_mb", "user", "checked_out_at", "lease_expires_at",
        "lease_seconds", "claim_ticket", "available_since", "job", "job_claim", "job_worker", "failures", "machine_id",
        "error",
    ]
    private static let position = Dictionary(uniqueKeysWithValues: fieldNames.enumerated().map { ($1, $0) })

    public let id: String
    private let values: [Substring]

    /// nil for text that is not a record.
    public init?(id: String, text: String) {
        // split on the UTF-8 bytes: a Character-wise split costs several times as much
        var values: [Substring] = []
        values.reserveCapacity(Self.fieldNames.count)
        let bytes = text.utf8
        var start = bytes.startIndex
        var index = start
        while index < bytes.endIndex, values.count < Self.fieldNames.count - 1 {
            if bytes[index] == UInt8(ascii: "|") {
                values.append(Substring(bytes[start..<index]))
                start = bytes.index(after: index)
            }
            index = bytes.index(after: index)
        }
        values.append(Substring(bytes[start...]))
        guard values.count == Self.fieldNames.count else { return nil }
        self.id = id
        self.values = values
    }

    /// A script's answer for one VM, `[vm_id, record]`; nil when it is not one.
    public init?(_ reply: RESPValue) {
        guard let pair = reply.array, pair.count == 2, let id = pair[0].string, let text = pair[1].string else { return nil }
        self.init(id: id, text: text)
    }

    /// The value of a field of `fieldNames` (or `vm_id`), nil when it is not set.
    public subscript(_ name: String) -> String? {
        if name == "vm_id" { return id }
        guard let position = Self.position[name], !values[position].isEmpty else { return nil }
        let value = String(values[position])
        if name == "machine_id", value.contains("%") {
            return value.replacingOccurrences(of: "%7C", with: "|").replacingOccurrences(of: "%25", with: "%")
        }
        return value
    }

    /// Every field that is set, `vm_id` included.
    public var fields: [String: String] {
        var fields = ["vm_id": id]
        for name in Self.fieldNames {
            if let value = self[name] { fields[name] = value }
        }
        return fields
    }
}
