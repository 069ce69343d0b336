import Prometheus
import Reservations
import Synchronization

/// The gateway's Prometheus metrics: requests by route, method and HTTP status; request latency;
/// requests in flight; each pool's VMs by status and cap, read from Redis when scraped.
final class GatewayMetrics: Sendable {
    let registry = PrometheusCollectorRegistry()
    private let storeUp: Gauge
    /// By pool name.
    private let maxVMCount: [String: Gauge]
    /// By pool name.
    private let vmsByStatus: [String: [VMStatus: Gauge]]
    private let inFlightGauge: Gauge
    /// Requests begun and not yet answered (kept here, set into the gauge when scraped).
    private let inFlight = Atomic(0)
    /// The request metrics already made, so a request costs one dictionary lookup.
    private let requestMetrics = Mutex<[RequestKey: (count: Counter, latency: DurationHistogram)]>([:])

    private struct RequestKey: Hashable {
        let method: String
        let route: String
        let status: Int
    }

    static let latencyBuckets: [Duration] = [
        .microseconds(250), .microseconds(500), .milliseconds(1), .milliseconds(2), .milliseconds(5),
        .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250),
        .milliseconds(500), .seconds(1), .seconds(2.5),
    ]

    private static var requests: MetricNameDescriptor {
        .init(namespace: "vmreserve", metricName: "http_requests", unitName: "total",
              helpText: "HTTP requests by route, method and status code")
    }
    private static var latency: MetricNameDescriptor {
        .init(namespace: "vmreserve", metricName: "http_request_duration", unitName: "seconds", helpText: "HTTP request latency")
    }

    /// - Parameter pools: the names of the pools served.
    init(pools: [String]) {
        let registry = registry
        storeUp = registry.makeGauge(descriptor: .init(
            namespace: "vmreserve", metricName: "store", unitName: "up", helpText: "1 when Redis answered the last scrape"
        ))
        let cap = MetricNameDescriptor(namespace: "vmreserve", metricName: "max_vm", unitName: "count", helpText: "The pool's cap on VMs")
        maxVMCount = Dictionary(pools.map { ($0, registry.makeGauge(descriptor: cap, labels: [("pool", $0)])) },
                                uniquingKeysWith: { first, _ in first })
        inFlightGauge = registry.makeGauge(descriptor: .init(
            namespace: "vmreserve", metricName: "http_requests_in_flight", unitName: "",
            helpText: "Requests begun (their head read) and not yet answered, this one included"
        ))
        let vms = MetricNameDescriptor(namespace: "vmreserve", metricName: "vms", unitName: "", helpText: "VMs by status")
        vmsByStatus = Dictionary(pools.map { pool in
            (pool, Dictionary(uniqueKeysWithValues: VMStatus.allCases.map { status in
                (status, registry.makeGauge(descriptor: vms, labels: [("pool", pool), ("status", status.rawValue)]))
            }))
        }, uniquingKeysWith: { first, _ in first })
    }

    /// A request has begun; `end` follows it however it ends.
    func begin() {
        inFlight.add(1, ordering: .relaxed)
    }

    func end() {
        inFlight.subtract(1, ordering: .relaxed)
    }

    func record(method: String, route: String, status: Int, duration: Duration) {
        let key = RequestKey(method: method, route: route, status: status)
        let metrics = requestMetrics.withLock { cache in
            if let metrics = cache[key] { return metrics }
            let metrics = (
                count: registry.makeCounter(
                    descriptor: Self.requests, labels: [("method", method), ("route", route), ("code", String(status))]
                ),
                latency: registry.makeDurationHistogram(
                    descriptor: Self.latency, labels: [("method", method), ("route", route)], buckets: Self.latencyBuckets
                )
            )
            cache[key] = metrics
            return metrics
        }
        metrics.count.increment()
        metrics.latency.record(duration)
    }

    /// Refreshes the pool gauges (if Redis answers) and renders everything in the text format.
    /// - Parameter stats: by pool name, the pools Redis answered for.
    func scrape(_ stats: [String: PoolStats]) -> [UInt8] {
        storeUp.set(to: stats.count == maxVMCount.count ? 1 : 0)
        inFlightGauge.set(to: Double(inFlight.load(ordering: .relaxed)))
        for (pool, stats) in stats {
            maxVMCount[pool]?.set(to: Double(stats.maxVMCount))
            for (status, gauge) in vmsByStatus[pool] ?? [:] {
                gauge.set(to: Double(stats.counts[status] ?? 0))
            }
        }
        var buffer: [UInt8] = []
        registry.emit(into: &buffer)
        return buffer
    }
}
