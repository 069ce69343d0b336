import Foundation
import VMReserveClient

extension Duration {
    /// Seconds as people read them: `45s`, `3m05s`, `2h04m`, `3d02h`.
    static func text(seconds: Int) -> String {
        let seconds = max(0, seconds)
        switch seconds {
        case ..<60: return "\(seconds)s"
        case ..<3600: return String(format: "%dm%02ds", seconds / 60, seconds % 60)
        case ..<86_400: return String(format: "%dh%02dm", seconds / 3600, seconds % 3600 / 60)
        default: return String(format: "%dd%02dh", seconds / 86_400, seconds % 86_400 / 3600)
        }
    }

    /// Seconds from `90`, `90s`, `15m`, `2h` or `7d`; nil for anything else.
    static func seconds(parsing text: String) -> Int? {
        let units: [Character: Int] = ["s": 1, "m": 60, "h": 3600, "d": 86_400]
        var digits = Substring(text), unit = 1
        if let last = text.last, let multiplier = units[last] {
            digits = text.dropLast()
            unit = multiplier
        }
        guard !digits.isEmpty, digits.allSatisfy(\.isASCII), let value = Int(digits), value >= 0 else { return nil }
        let (seconds, overflow) = value.multipliedReportingOverflow(by: unit)
        return overflow ? nil : seconds
    }
}

/// Rows as an aligned plain-text table, the first row the header.
func alignedTable(_ rows: [[String]]) -> String {
    let widths = rows.reduce(into: [Int]()) { widths, row in
        for (index, cell) in row.enumerated() {
            if index == widths.count { widths.append(0) }
            widths[index] = max(widths[index], cell.count)
        }
    }
    return rows.map { row in
        row.enumerated().map { index, cell in
            index == row.count - 1 ? cell : cell.padding(toLength: widths[index], withPad: " ", startingAt: 0)
        }.joined(separator: "  ")
    }.joined(separator: "\n")
}

/// The time left until `end` (a lease's), as `Duration.text` writes it; `-` for none.
func timeLeft(until end: Date?, now: Date = Date()) -> String {
    guard let end else { return "-" }
    return Duration.text(seconds: Int(end.timeIntervalSince(now).rounded(.up)))
}

/// A time as the API writes it: RFC 3339, UTC.
func rfc3339(_ date: Date) -> String {
    ISO8601DateFormatter().string(from: date)
}

/// Each of `ids` by its first characters, as many as make it unique among them and at least 8
/// (one length for all, so that a column of them lines up): the short form `ls` shows and
/// `checkin` and `renew` take.
func shortForms(of ids: Set<String>) -> [String: String] {
    var length = 8
    while Set(ids.map { $0.prefix(length) }).count < ids.count { length += 1 }
    return Dictionary(uniqueKeysWithValues: ids.map { ($0, String($0.prefix(length))) })
}
