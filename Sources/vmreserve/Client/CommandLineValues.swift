import ArgumentParser
import VMReserveClient

/// A VM named on the command line by its IP address or its id.
enum VMReference: ExpressibleByArgument, CustomStringConvertible {
    case ip(String)
    case id(String)

    init?(argument: String) {
        let parts = argument.split(separator: ".", omittingEmptySubsequences: false)
        if parts.count == 4, parts.allSatisfy({ !$0.isEmpty && $0.count <= 3 && $0.allSatisfy(\.isNumber) && Int($0)! <= 255 }) {
            self = .ip(argument)
        } else if !argument.isEmpty {
            self = .id(argument)
        } else {
            return nil
        }
    }

    var description: String {
        switch self {
        case .ip(let ip): ip
        case .id(let id): id
        }
    }

    /// The VM as the API names it.
    var name: VMName {
        switch self {
        case .ip(let ip): .ip(ip)
        case .id(let id): .id(id)
        }
    }
}

/// A lease length on the command line: `90s`, `15m`, `2h`, `7d`, or seconds.
struct LeaseDuration: ExpressibleByArgument {
    let seconds: Int

    init?(argument: String) {
        guard let seconds = Duration.seconds(parsing: argument), seconds > 0 else { return nil }
        self.seconds = seconds
    }
}
