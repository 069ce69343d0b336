import Reservations

/// The bounds the API documents for numbers and names it accepts.
enum Limits {
    /// Any lease, default or maximum: a year at most; the caller's maximum is the scripts' to apply.
    static let leaseSeconds = 1...LeasePolicy.limit
    static let createCount = 1...1000
    static let quota = 0...1_000_000
    static let maxVMCount = 0...1_000_000
    static let pageSize = 1...1000
    static let defaultPageSize = 100

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
