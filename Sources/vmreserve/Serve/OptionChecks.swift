import ArgumentParser
import ReservationHTTP

extension GatewayConfiguration {
    /// What a gateway does unless told otherwise: the defaults `serve`'s options show and use.
    static let defaults = GatewayConfiguration()
}

/// The checks `serve`'s options share; each failure names the flag.
enum OptionChecks {
    /// `value` when `range` holds it; else the error says the bounds.
    static func within(_ value: Int, _ range: ClosedRange<Int>, _ flag: String) throws -> Int {
        guard range.contains(value) else {
            throw ValidationError("--\(flag): must be from \(range.lowerBound) to \(range.upperBound)")
        }
        return value
    }

    /// Throws unless each flag of a group that needs the others is given with them.
    static func together(_ given: [String: Bool]) throws {
        let named = given.filter(\.value).keys.sorted()
        guard named.isEmpty || named.count == given.count else {
            let missing = given.filter { !$0.value }.keys.sorted().map { "--\($0)" }.joined(separator: " and ")
            throw ValidationError("\(named.map { "--\($0)" }.joined(separator: " and ")) needs \(missing)")
        }
    }
}
