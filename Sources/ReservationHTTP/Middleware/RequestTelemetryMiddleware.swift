import Hummingbird
import Logging

/// One structured log line and the request metrics for every request, with the final status, and
/// the count of requests in flight. The line names the caller (`caller`: their name, unless the
/// answer is 401), and the trace (`trace_id`, when tracing is on: the logger's metadata provider).
struct RequestTelemetryMiddleware: RouterMiddleware {
    typealias Context = GatewayRequestContext

    let metrics: GatewayMetrics
    let callerNames = CallerNames()

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let start = ContinuousClock.now
        metrics.begin()
        defer { metrics.end() }
        let response = try await next(request, context)
        let elapsed = ContinuousClock.now - start
        let route = context.endpointPath ?? "unmatched"
        metrics.record(method: request.method.rawValue, route: route, status: response.status.code, duration: elapsed)
        guard context.logger.logLevel <= .info else { return response }
        var fields: Logger.Metadata = [
            "method": "\(request.method)",
            "path": "\(request.uri.path)",
            "route": "\(route)",
            "status": "\(response.status.code)",
            "duration_ms": "\(Double(elapsed.components.seconds) * 1e3 + Double(elapsed.components.attoseconds) / 1e15)",
        ]
        if response.status != .unauthorized, let caller = await callerNames.name(of: context.logFields.caller, store: context.logFields.store) {
            fields["caller"] = "\(caller)"
        }
        context.logger.info("request", metadata: fields)
        return response
    }
}
