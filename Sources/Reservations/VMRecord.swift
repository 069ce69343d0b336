import Foundation
import RedisClient

/// A VM as the scripts store and answer it (lua/_prelude.lua, "VMs"): its id and its record, the
/// values of `fieldNames` in that order joined by "|", empty for a field that is not set. Only
/// `error`, the last field, may hold "|"; `machine_id` has "%" and "|" escaped as %25 and %7C.
public enum VMRecord {
    /// The record's fields, in their order; keep in step with VM_FIELDS in lua/_prelude.lua.
    public static let fieldNames = [
        "status", "ip", "created_at", "size", "cpu", "memory_mb", "user", "checked_out_at", "lease_expires_at",
        "lease_seconds", "claim_ticket", "available_since", "job", "job_claim", "job_worker", "failures", "machine_id",
        "error",
    ]

    /// The fields that are set, `vm_id` included; nil for text that is not a record.
    public static func fields(id: String, text: String) -> [String: String]? {
        let values = text.split(separator: "|", maxSplits: fieldNames.count - 1, omittingEmptySubsequences: false)
        guard values.count == fieldNames.count else { return nil }
        var fields = ["vm_id": id]
        for (name, value) in zip(fieldNames, values) where !value.isEmpty {
            fields[name] = String(value)
        }
        if let machine = fields["machine_id"], machine.contains("%") {
            fields["machine_id"] = machine.replacingOccurrences(of: "%7C", with: "|").replacingOccurrences(of: "%25", with: "%")
        }
        return fields
    }

    /// A script's answer for one VM, `[vm_id, record]`, as its fields; nil when it is not one.
    public static func fields(_ reply: RESPValue) -> [String: String]? {
        guard let pair = reply.array, pair.count == 2, let id = pair[0].string, let text = pair[1].string else { return nil }
        return fields(id: id, text: text)
    }
}
