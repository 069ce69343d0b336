import Hummingbird
import Reservations

/// Keeps the order of answers that every script keeps: who you are (401), then whether you may
/// (403), then whether the request is well formed (400, 413).
///
/// The gateway checks input before the one script call that authenticates a token, so without
/// this a malformed request with an unknown token, or a user's malformed request on an admin
/// route, would be answered 400. When a token caller's request fails those checks, this asks
/// `whoami.lua` who the token belongs to: a cost on the error path only.
struct CallerFirstMiddleware: RouterMiddleware {
    typealias Context = AuthenticatedRequestContext

    /// The role the routes below need.
    let requiredRole: Role

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch {
            let status = APIError.from(error).status
            guard status == .badRequest || status == .contentTooLarge else { throw error }
            let role = try await context.store.role(of: context.caller)
            if requiredRole == .admin, role != .admin {
                throw ReservationError.forbidden("this operation needs the admin role")
            }
            throw error
        }
    }
}
