import Hummingbird
import NIOCore
import Reservations

/// The context of every request: Hummingbird's core storage plus the caller, once the
/// `IdentityMiddleware` has read the Authorization header.
public struct GatewayRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// Nil until identified, and for requests that carry no token outside dev mode.
    var caller: Caller?
    /// The client's connection: a waiting checkout watches it close.
    let channel: any Channel
    /// The pool the request is for, chosen by the `PoolSelectionMiddleware` from its path.
    var pool: ServedPool?
    /// What the request's log line names, filled in by the middleware that learns it.
    let logFields = RequestLogFields()

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        channel = source.channel
    }

    public var maxUploadSize: Int { RequestDecoding.maxBodySize }
}

/// The context of routes that need an identity: it cannot exist without a caller, so a handler
/// cannot forget to check.
struct AuthenticatedRequestContext: ChildRequestContext {
    var coreContext: CoreRequestContextStorage
    let caller: Caller
    let channel: any Channel
    let pool: ServedPool

    init(context: GatewayRequestContext) throws {
        guard let caller = context.caller else { throw APIError.unauthorized }
        guard let pool = context.pool else { throw APIError.internalError }  // the pool selection runs first
        coreContext = context.coreContext
        self.caller = caller
        channel = context.channel
        self.pool = pool
    }

    /// The store of the request's pool.
    var store: ReservationStore { pool.store }

    var maxUploadSize: Int { RequestDecoding.maxBodySize }
}
