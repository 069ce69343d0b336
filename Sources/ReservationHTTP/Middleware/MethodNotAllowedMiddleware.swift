import HTTPTypes
import Hummingbird
import Synchronization

/// The methods each route path answers, read from the router once it is built: a request for a
/// path that exists with a method it does not answer gets 405 with `Allow`, not 404.
final class RouteMethods: Sendable {
    private let routes = Mutex<[(components: [Substring], methods: [HTTPRequest.Method])]>([])

    /// Reads every route of `router` (call once all are added).
    func learn(from router: Router<GatewayRequestContext>) {
        var byPath: [String: [HTTPRequest.Method]] = [:]
        for route in router.routes { byPath["\(route.path)", default: []].append(route.method) }
        routes.withLock { routes in
            routes = byPath.map { (components: Self.components($0.key), methods: $0.value) }
        }
    }

    /// The methods the path answers, empty when no route has it. A `{capture}` matches any component.
    func methods(for path: String) -> [HTTPRequest.Method] {
        let requested = Self.components(path)
        return routes.withLock { routes in
            routes.filter { route in
                route.components.count == requested.count
                    && zip(route.components, requested).allSatisfy { $0.hasPrefix("{") || $0.hasPrefix(":") || $0 == $1 }
            }.flatMap(\.methods)
        }
    }

    private static func components(_ path: String) -> [Substring] {
        path.split(separator: "?", maxSplits: 1).first.map { $0.split(separator: "/") } ?? []
    }
}

/// Turns the router's 404 for a path that exists, but not with the request's method, into 405
/// `method_not_allowed` with the `Allow` header.
struct MethodNotAllowedMiddleware: RouterMiddleware {
    typealias Context = GatewayRequestContext

    let routes: RouteMethods

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as any HTTPResponseError where error.status == .notFound {
            let allowed = routes.methods(for: request.uri.path)
            guard !allowed.isEmpty else { throw error }
            throw APIError.methodNotAllowed(allowed.map(\.rawValue).sorted())
        }
    }
}
