import Foundation
import Hummingbird

/// Chooses the pool a request is for: the one its `/pools/{pool}` prefix names (percent-decoded;
/// 404 `not_found`
/// when this gateway does not serve it), or the gateway's first pool for a route without one.
struct PoolSelectionMiddleware: RouterMiddleware {
    typealias Context = GatewayRequestContext

    let pools: ServedPools

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var context = context
        if let name = context.parameters.get("pool").map({ $0.removingPercentEncoding ?? $0 }) {
            guard let pool = pools[name] else { throw APIError.poolNotFound("This gateway serves no pool named \(name)") }
            context.pool = pool
        } else {
            context.pool = pools.unprefixed
        }
        context.logFields.store = context.pool?.store
        return try await next(request, context)
    }
}
