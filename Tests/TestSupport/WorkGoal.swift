import Synchronization

/// How much work the concurrent clients of a load test do together: they go on until `target`
/// operations are done in all, so that a slow or busy machine does the same work, only slower,
/// instead of less work in a fixed time. (A test that never gets there is stopped by its time
/// limit, which fails it.)
public final class WorkGoal: Sendable {
    public let target: Int
    private let done = Atomic(0)

    public init(_ target: Int) { self.target = target }

    /// Counts one operation done.
    public func record() { done.add(1, ordering: .relaxed) }

    public var count: Int { done.load(ordering: .relaxed) }
    public var isReached: Bool { count >= target }
}
