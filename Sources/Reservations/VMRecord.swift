import Foundation
import RedisClient

/// A VM as the scripts store and answer it (lua/_prelude.lua, "VMs"): its id and its record, the
/// values of `Field`'s cases in that order joined by "|", empty for a field that is not set. Only
/// `error`, the last field, may hold "|"; `machine_id` has "%" and "|" escaped as %25 and %7C.
public struct VMRecord: Sendable {
    /// The record's fields, in their order (the raw value is the position); keep in step with
    /// decode_vm in lua/_prelude.lua.
    public enum Field: Int, CaseIterable, Sendable {
        case status, ip, createdAt, size, cpu, memoryMB, user, checkedOutAt, leaseExpiresAt, leaseSeconds, claimTicket,
             availableSince, job, jobClaim, jobWorker, failures, machineID, error

        /// The field's name in the scripts and in `fields`.
        public var name: String {
            switch self {
            case .status: "status"
            case .ip: "ip"
            case .createdAt: "created_at"
            case .size: "size"
            case .cpu: "cpu"
            case .memoryMB: "memory_mb"
            case .user: "user"
            case .checkedOutAt: "checked_out_at"
            case .leaseExpiresAt: "lease_expires_at"
            case .leaseSeconds: "lease_seconds"
            case .claimTicket: "claim_ticket"
            case .availableSince: "available_since"
            case .job: "job"
            case .jobClaim: "job_claim"
            case .jobWorker: "job_worker"
            case .failures: "failures"
            case .machineID: "machine_id"
            case .error: "error"
            }
        }
    }

    public let id: String
    private let text: String
    /// The UTF-8 offset at which each field ends (its "|", or the text's end); a field starts
    /// after the one before it. Offsets, not substrings: substrings would each hold the text.
    private let ends: [Int]

    /// nil for text that is not a record.
    public init?(id: String, text: String) {
        var text = text
        text.makeContiguousUTF8()  // a no-op for the text of a reply: read as one run of bytes below
        let count = Field.allCases.count
        var ends: [Int] = []
        ends.reserveCapacity(count)
        text.withUTF8 { bytes in
            // split on the bytes: a Character-wise split costs several times as much
            for (offset, byte) in bytes.enumerated() where byte == UInt8(ascii: "|") && ends.count < count - 1 {
                ends.append(offset)
            }
            ends.append(bytes.count)
        }
        guard ends.count == count else { return nil }
        self.id = id
        self.text = text
        self.ends = ends
    }

    /// A script's answer for one VM, `[vm_id, record]`; nil when it is not one.
    public init?(_ reply: RESPValue) {
        guard let pair = reply.array, pair.count == 2, let id = pair[0].string, let text = pair[1].string else { return nil }
        self.init(id: id, text: text)
    }

    /// The value of a field, nil when it is not set.
    public subscript(_ field: Field) -> String? {
        let start = field.rawValue == 0 ? 0 : ends[field.rawValue - 1] + 1, end = ends[field.rawValue]
        guard end > start else { return nil }
        let utf8 = text.utf8
        let value = Substring(utf8[utf8.index(utf8.startIndex, offsetBy: start)..<utf8.index(utf8.startIndex, offsetBy: end)])
        if field == .machineID, value.contains("%") {
            return value.replacingOccurrences(of: "%7C", with: "|").replacingOccurrences(of: "%25", with: "%")
        }
        return String(value)
    }

    /// Every field that is set, by its name in the record, and `vm_id`.
    public var fields: [String: String] {
        var fields = ["vm_id": id]
        for field in Field.allCases {
            if let value = self[field] { fields[field.name] = value }
        }
        return fields
    }
}
