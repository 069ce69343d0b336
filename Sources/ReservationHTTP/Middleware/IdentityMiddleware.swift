import Hummingbird
import Reservations

/// Turns the Authorization header into a `Caller` without touching Redis: the configured admin
/// token is recognised here in constant time; an identity token (a JWT, with OIDC configured)
/// is verified here and names a user; any other token travels to the scripts as its SHA-256,
/// where the user is looked up in the same round trip as the operation.
struct IdentityMiddleware: RouterMiddleware {
    typealias Context = GatewayRequestContext

    /// The built-in admin's tokens.
    let adminTokens: AdminTokens
    /// Dev mode: requests without a token act as the `anonymous` admin.
    let anonymousAdmin: Bool
    /// Single sign-on, when configured.
    let oidc: OIDCVerifier?

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var context = context
        context.caller = await caller(for: request)
        context.logFields.caller = context.caller
        return try await next(request, context)
    }

    /// Nil for no token outside dev mode and for a malformed Authorization header (even in dev
    /// mode): routes that need a caller answer 401, and the others (/healthz…) do not care.
    private func caller(for request: Request) async -> Caller? {
        guard let header = request.headers.value(.authorization) else {
            return anonymousAdmin ? .trustedAdmin(name: "anonymous") : nil
        }
        guard let space = header.firstIndex(of: " "), Self.isBearer(header[..<space]) else { return nil }
        let token = header[header.index(after: space)...]
        guard !token.isEmpty else { return nil }
        if let oidc, OIDCVerifier.looksLikeJWT(token) {
            return await oidc.user(for: String(token)).map { .verifiedUser(name: $0) }
        }
        let digest = TokenDigest(of: token)
        if adminTokens.matches(digest) {
            return .trustedAdmin(name: "admin")
        }
        return .token(digest)
    }

    /// Whether an Authorization scheme is "Bearer", in any case (without building a lowercased copy).
    private static func isBearer(_ scheme: Substring) -> Bool {
        scheme.utf8.count == 6 && zip(scheme.utf8, "bearer".utf8).allSatisfy { $0 | 0x20 == $1 }
    }
}
