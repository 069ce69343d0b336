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

    /// The methods the path answers, each once, empty when no route has it. A `{capture}` matches
    /// any component, but a route that names it wins, as in the router (`/v1/vms/mine` is not
    /// `/v1/vms/{vm_id}`).
    func methods(for path: String) -> [HTTPRequest.Method] {
        let requested = Self.components(path)
        let matches = routes.withLock { routes in
            routes.compactMap { route -> (named: Int, methods: [HTTPRequest.Method])? in
                guard route.components.count == requested.count else { return nil }
                var named = 0
                for (component, given) in zip(route.components, requested) {
                    if component == given { named += 1 } else if !component.hasPrefix("{") && !component.hasPrefix(":") { return nil }
                }
                return (named, route.methods)
            }
        }
        let most = matches.map(\.named).max()
        var seen: Set<HTTPRequest.Method> = []
        return matches.filter { $0.named == most }.flatMap(\.methods).filter { seen.insert($0).inserted }
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
