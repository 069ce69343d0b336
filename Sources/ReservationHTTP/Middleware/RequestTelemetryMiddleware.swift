import Hummingbird
import Logging

/// One structured log line and the request metrics for every request, with the final status, and
/// the count of requests in flight.
struct RequestTelemetryMiddleware<Context: RequestContext>: RouterMiddleware {
    let metrics: GatewayMetrics

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let start = ContinuousClock.now
        metrics.begin()
        defer { metrics.end() }
        let response = try await next(request, context)
        let elapsed = ContinuousClock.now - start
        let route = context.endpointPath ?? "unmatched"
        metrics.record(method: request.method.rawValue, route: route, status: response.status.code, duration: elapsed)
        context.logger.info("request", metadata: [
            "method": "\(request.method)",
            "path": "\(request.uri.path)",
            "route": "\(route)",
            "status": "\(response.status.code)",
            "duration_ms": "\(Double(elapsed.components.seconds) * 1e3 + Double(elapsed.components.attoseconds) / 1e15)",
        ])
        return response
    }
}
