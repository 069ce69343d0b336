import HTTPTypes
import Hummingbird

/// The web console at `/ui`: console/index.html, style.css and app.js, embedded at build time.
/// No token is needed to load it (the page signs in with one); its Content-Security-Policy allows
/// scripts, styles and requests from this origin only, and no inline script or style.
struct ConsoleController {
    static let securityHeaders: HTTPFields = [
        .contentSecurityPolicy: "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; "
            + "form-action 'none'; base-uri 'none'; frame-ancestors 'none'",
        .xContentTypeOptions: "nosniff",
        HTTPField.Name("Referrer-Policy")!: "no-referrer",
        HTTPField.Name("X-Frame-Options")!: "DENY",
        .cacheControl: "no-cache",
    ]

    func addRoutes(to router: Router<GatewayRequestContext>) {
        for (path, file, type) in [("ui", "index", "text/html; charset=utf-8"), ("ui/app.js", "app", "text/javascript; charset=utf-8"),
                                   ("ui/style.css", "style", "text/css; charset=utf-8")] {
            let body = ByteBuffer(string: EmbeddedDocuments.files[file]!)  // made once, shared by every answer
            var headers = Self.securityHeaders
            headers[.contentType] = type
            router.get(RouterPath(path)) { [headers] request, _ in
                _ = try RequestDecoding.query(request, allowed: [])
                return Response(status: .ok, headers: headers, body: .init(byteBuffer: body))
            }
        }
    }
}
