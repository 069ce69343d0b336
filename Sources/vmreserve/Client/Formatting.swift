import Foundation

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

/// The time left until an RFC 3339 time (`lease_expires_at`), as `Duration.text` writes it; `-`
/// for none.
func timeLeft(until text: Any?, now: Date = Date()) -> String {
    guard let text = text as? String, let end = parseRFC3339(text) else { return "-" }
    return Duration.text(seconds: Int(end.timeIntervalSince(now).rounded(.up)))
}

/// The length of a VM's lease in seconds (from its check-out or last renewal to its end), nil
/// for a VM without one.
func leaseSeconds(of vm: [String: Any]) -> Int? {
    guard let end = (vm["lease_expires_at"] as? String).flatMap(parseRFC3339),
          let start = (vm["checked_out_at"] as? String).flatMap(parseRFC3339) else { return nil }
    return Int(end.timeIntervalSince(start).rounded())
}

private func parseRFC3339(_ text: String) -> Date? {
    let formatter = ISO8601DateFormatter()
    formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
    return formatter.date(from: text) ?? ISO8601DateFormatter().date(from: text)
}
