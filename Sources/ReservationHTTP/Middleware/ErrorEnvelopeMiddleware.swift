import Hummingbird
import Logging

/// Renders every error thrown below it in the JSON envelope, through the one table in
/// `APIError`. Unexpected errors are logged here and reach the client only as a bare 500.
struct ErrorEnvelopeMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch {
            let apiError = APIError.from(error)
            if apiError.status == .internalServerError {
                context.logger.error("request failed", metadata: ["error": "\(String(reflecting: error))"])
            }
            return EnvelopeResponse.failure(apiError)
        }
    }
}
