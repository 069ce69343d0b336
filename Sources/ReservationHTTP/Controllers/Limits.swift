import Reservations

/// The bounds the API documents for numbers and names it accepts.
enum Limits {
    /// Any lease, default or maximum: a year at most; the caller's maximum is the scripts' to apply.
    static let leaseSeconds = 1...LeasePolicy.limit
    static let createCount = 1...1000
    /// The most VMs one reservation holds (lua/lib/plans.lua's MOST).
    static let reservationVMs = 100
    static let quota = 0...1_000_000
    static let maxVMCount = 0...1_000_000
    static let pageSize = 1...1000
    static let defaultPageSize = 100

    /// An IPv4 CIDR block for the IP pool (see `IPv4Address.isNetworkBlock`).
    static func checkIPBlock(_ text: String) throws(APIError) -> String {
        guard IPv4Address.isNetworkBlock(text) else {
            throw .badRequest("ip_pool must be an IPv4 network address with a prefix from /12 to /32, e.g. 203.0.113.0/26")
        }
        return text
    }

    /// A size's name as a request gives it (whether the catalog has it is the scripts' to say).
    static func checkSize(_ name: String) throws(APIError) -> String {
        guard VMSize.isValidName(name) else { throw .badRequest("size must be 1 to 32 letters, digits, '-' or '_'") }
        return name
    }

    /// 1 to 64 characters of `[A-Za-z0-9._-]`.
    static func checkUserName(_ name: String) throws(APIError) -> String {
        let allowed = name.utf8.allSatisfy { byte in
            (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
                || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || byte == UInt8(ascii: ".")
                || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "-")
        }
        guard (1...64).contains(name.utf8.count), allowed else {
            throw .badRequest("User names are 1 to 64 characters of A-Z, a-z, 0-9, '.', '_' and '-'")
        }
        return name
    }
}
