import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// SIGTERM, SIGHUP and SIGINT, caught rather than fatal while this process runs a child
/// (`vmreserve with`), so that it can clean up after it and pass the signal on. (The child gets
/// the default actions back when it starts: exec resets caught signals.)
public final class StopSignals: Sendable {
    public init() {
        // the globals are initialised here, before a handler can run (not inside one)
        _ = (firstStop.load(ordering: .relaxed), lastStop.load(ordering: .relaxed), stopsReceived.load(ordering: .relaxed))
        for number in [SIGTERM, SIGHUP, SIGINT] { signal(number, recordStop) }
    }

    /// The first stop signal received, if any.
    public var first: Int32? {
        let number = firstStop.load(ordering: .relaxed)
        return number == 0 ? nil : number
    }

    /// Calls `handler` with the last stop signal received, at once if any came since this was
    /// made, and again whenever another comes (looking every 50 ms), until the task is cancelled:
    /// so no signal is missed between starting something and watching it.
    public func watch(_ handler: (Int32) -> Void) async {
        var seen = 0
        while !Task.isCancelled {
            let count = stopsReceived.load(ordering: .relaxed)
            if count != seen {
                seen = count
                handler(lastStop.load(ordering: .relaxed))
            }
            try? await Task.sleep(for: .milliseconds(50))
        }
    }
}

// What the signal handler records: lock-free atomics only.
private let firstStop = Atomic<Int32>(0)
private let lastStop = Atomic<Int32>(0)
private let stopsReceived = Atomic<Int>(0)

private func recordStop(_ number: Int32) {
    _ = firstStop.compareExchange(expected: 0, desired: number, ordering: .relaxed)
    lastStop.store(number, ordering: .relaxed)
    stopsReceived.add(1, ordering: .relaxed)
}
