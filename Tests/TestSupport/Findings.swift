import Synchronization

/// What concurrent checks found wrong, gathered from every task.
public final class Findings: Sendable {
    private let found = Mutex<[String]>([])

    public init() {}

    public func add(_ more: [String]) { found.withLock { $0 += more } }

    public var all: [String] { found.withLock { $0 } }
}
