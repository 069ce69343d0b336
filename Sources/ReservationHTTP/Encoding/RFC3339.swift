import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Unix milliseconds as RFC 3339 UTC, to the millisecond: `2026-11-24T22:40:02.137Z`, and back.
enum RFC3339 {
    /// An RFC 3339 time with or without fractional seconds, in any offset, as Unix milliseconds.
    static func parse(_ text: String) -> Int? {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if let date = formatter.date(from: text) { return Int((date.timeIntervalSince1970 * 1000).rounded()) }
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.date(from: text).map { Int($0.timeIntervalSince1970 * 1000) }
    }

    /// A time in an answer: Unix milliseconds, written as `2026-11-24T22:40:02.123Z` straight into
    /// the answer's buffer (this runs for every time in every answer).
    struct Time: JSONValue {
        let milliseconds: Int

        init(_ milliseconds: Int) { self.milliseconds = milliseconds }

        func write(to json: inout JSONWriter) {
            json.quoted(length: 24) { text in RFC3339.write(milliseconds, into: text) }
        }
    }

    /// Writes `milliseconds` since the Unix epoch into the 24 bytes of `text`.
    private static func write(_ milliseconds: Int, into text: UnsafeMutableRawBufferPointer) {
        let (seconds, fraction) = milliseconds.quotientAndRemainder(dividingBy: 1000)
        var time = time_t(fraction < 0 ? seconds - 1 : seconds)
        var parts = tm()
        gmtime_r(&time, &parts)
        func put(_ value: Int32, at index: Int, digits: Int, then separator: Unicode.Scalar) {
            var value = value
            for position in stride(from: index + digits - 1, through: index, by: -1) {
                text[position] = UInt8(ascii: "0") + UInt8(value % 10)
                value /= 10
            }
            text[index + digits] = UInt8(ascii: separator)
        }
        put(parts.tm_year + 1900, at: 0, digits: 4, then: "-")
        put(parts.tm_mon + 1, at: 5, digits: 2, then: "-")
        put(parts.tm_mday, at: 8, digits: 2, then: "T")
        put(parts.tm_hour, at: 11, digits: 2, then: ":")
        put(parts.tm_min, at: 14, digits: 2, then: ":")
        put(parts.tm_sec, at: 17, digits: 2, then: ".")
        put(Int32(fraction < 0 ? fraction + 1000 : fraction), at: 20, digits: 3, then: "Z")
    }
}
