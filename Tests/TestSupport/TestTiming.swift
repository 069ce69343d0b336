import Foundation

/// Time bounds in tests that check one: never earlier than the bound (a lower bound a slow
/// machine cannot break), and later only by `margin`, which is generous and grows with
/// `VMRESERVE_TEST_TIME_SCALE` (a factor; `make test-under-load` sets 4).
public enum TestTiming {
    public static let scale = max(1, ProcessInfo.processInfo.environment["VMRESERVE_TEST_TIME_SCALE"].flatMap { Double($0) } ?? 1)

    /// How late past a deadline an answer may come on a slow or busy machine: 10 s, times the scale.
    public static let margin = Duration.seconds(10 * scale)
}
