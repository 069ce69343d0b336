import Reservations
import Synchronization

/// What inner layers learn about a request that its log line names: who called (the
/// `IdentityMiddleware`), and the store of the pool asked (the `PoolSelectionMiddleware`), which
/// names a token's user. Shared by reference: the request's context is passed on by value.
final class RequestLogFields: Sendable {
    private let state = Mutex<(caller: Caller?, store: ReservationStore?)>((nil, nil))

    var caller: Caller? {
        get { state.withLock { $0.caller } }
        set { state.withLock { $0.caller = newValue } }
    }

    var store: ReservationStore? {
        get { state.withLock { $0.store } }
        set { state.withLock { $0.store = newValue } }
    }
}

/// The names of token users, for the request log: a token's user is asked of Redis (`whoami`)
/// at most once a minute per gateway; the admin's, OIDC users' and dev mode's names need no
/// round trip. A token no user has is remembered as such for as long.
final class CallerNames: Sendable {
    private let known = Mutex<[String: (name: String?, until: ContinuousClock.Instant)]>([:])
    private let lifetime: Duration = .seconds(60)
    private let capacity = 10_000

    /// The caller's name; nil when there is no caller, no user has the token, or Redis cannot say.
    func name(of caller: Caller?, store: ReservationStore?) async -> String? {
        switch caller {
        case .trustedAdmin(let name)?, .verifiedUser(let name)?: return name
        case nil: return nil
        case .token(let digest)?:
            let key = digest.hex, now = ContinuousClock.now
            if let entry = known.withLock({ $0[key] }), entry.until > now { return entry.name }
            guard let store else { return nil }
            let name: String?
            do {
                name = try await store.identity(of: .token(digest)).name
            } catch {
                guard case .unauthorized = error else { return nil }  // (not remembered: Redis may answer next time)
                name = nil
            }
            known.withLock { known in
                if known.count >= capacity { known.removeAll() }
                known[key] = (name, now + lifetime)
            }
            return name
        }
    }
}
