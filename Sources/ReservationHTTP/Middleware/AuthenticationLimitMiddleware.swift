import Hummingbird
import NIOCore
import Synchronization

/// Failed authentications, counted per client address: after `limit` failures within a
/// `window`, that address's requests that carry a token are answered 429 until the window ends,
/// without being tried. Kept by each gateway for itself (N gateways allow N times the limit).
final class AuthenticationFailures: Sendable {
    let limit: Int
    let window: Duration
    /// Addresses remembered at most: past it, ended windows are dropped, and if that is not
    /// enough, all (an attacker with that many addresses is not stopped by this anyway).
    static let capacity = 100_000

    private struct Entry {
        var failures: Int
        var windowEnd: ContinuousClock.Instant
    }
    private let entries = Mutex<[String: Entry]>([:])
    /// The end of the latest window, in nanoseconds from `origin` (0: none yet). Once it has
    /// passed no address can be refused, so a request need not look (nor name its address).
    private let origin = ContinuousClock.now
    private let latestWindowEnd = Atomic<Int64>(0)

    init(limit: Int, window: Duration = .seconds(60)) {
        self.limit = limit
        self.window = window
    }

    /// False while no window is open: no address is refused, whatever `refusal` would say.
    var mayRefuse: Bool { nanoseconds(ContinuousClock.now) < latestWindowEnd.load(ordering: .relaxed) }

    private func nanoseconds(_ instant: ContinuousClock.Instant) -> Int64 {
        let elapsed = (instant - origin).components
        return elapsed.seconds * 1_000_000_000 + elapsed.attoseconds / 1_000_000_000
    }

    /// How long `address` is still refused, nil when it is not.
    func refusal(for address: String) -> Duration? {
        let now = ContinuousClock.now
        return entries.withLock { entries in
            guard let entry = entries[address], entry.windowEnd > now, entry.failures >= limit else { return nil }
            return entry.windowEnd - now
        }
    }

    func recordFailure(of address: String) {
        let now = ContinuousClock.now
        entries.withLock { entries in
            if entries.count >= Self.capacity {
                entries = entries.filter { $0.value.windowEnd > now }
                if entries.count >= Self.capacity { entries.removeAll() }
            }
            if let entry = entries[address], entry.windowEnd > now {
                entries[address]?.failures = entry.failures + 1
            } else {
                entries[address] = Entry(failures: 1, windowEnd: now + window)
                latestWindowEnd.store(nanoseconds(now + window), ordering: .relaxed)
            }
        }
    }
}

/// Refuses requests that carry a token from an address that failed to authenticate too often
/// (see `AuthenticationFailures`), and counts the 401s of those that carry one. The address is
/// the connection's peer, or with `trustForwardedFor` (behind a proxy that appends it) the last
/// address of `X-Forwarded-For`.
struct AuthenticationLimitMiddleware: RouterMiddleware {
    typealias Context = GatewayRequestContext

    let failures: AuthenticationFailures
    let trustForwardedFor: Bool

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard request.headers.contains(.authorization) else { return try await next(request, context) }
        // the address is named only when it matters: while some window is open, or for a failure
        if failures.mayRefuse, let wait = failures.refusal(for: clientAddress(request, context)) {
            throw APIError.tooManyAuthenticationFailures(retryAfter: Int(wait.components.seconds) + 1)
        }
        do {
            let response = try await next(request, context)
            if response.status == .unauthorized { failures.recordFailure(of: clientAddress(request, context)) }
            return response
        } catch {
            if APIError.from(error).status == .unauthorized { failures.recordFailure(of: clientAddress(request, context)) }
            throw error
        }
    }

    private func clientAddress(_ request: Request, _ context: Context) -> String {
        if trustForwardedFor, let forwarded = request.headers[values: .init("X-Forwarded-For")!].last?
            .split(separator: ",").last?.trimmingCharacters(in: .whitespaces), !forwarded.isEmpty {
            return forwarded
        }
        return context.channel.remoteAddress?.ipAddress ?? "unknown"
    }
}
