// The benchmark's reference point: the bare Hummingbird JSON endpoint that issue 2's target is
// measured against. A plain Hummingbird application with one route returning a Codable value
// through Hummingbird's default JSON encoder: no middleware, no logging per request, no Redis.
// Usage: bare-endpoint <port>   (serves GET / on 127.0.0.1:<port>)
import Hummingbird

struct Greeting: ResponseCodable {
    let status: String
    let message: String?
}

guard CommandLine.arguments.count == 2, let port = Int(CommandLine.arguments[1]) else {
    fatalError("usage: bare-endpoint <port>")
}
let router = Router()
router.get("/") { _, _ in Greeting(status: "success", message: nil) }
let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: port)))
try await app.runService()
