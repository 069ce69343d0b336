// The benchmark's reference points. GET /: the bare Hummingbird JSON endpoint that issue 2's
// target is measured against: a plain Hummingbird application with one route returning a Codable
// value through Hummingbird's default JSON encoder: no middleware, no logging per request, no
// Redis. GET /redis (with a Redis port given): the same answer after one PING through vmreserve's
// Redis client, so that the cost of one Redis round trip, with none of the gateway's own work, can
// be measured against GET / (bench/gateway_costs.py). --event-loop-executor runs its tasks as
// `vmreserve serve` runs its own (on the event loops, see EventLoopGlobalExecutor), so that the
// round trip costs it what it costs the gateway; without it, Hummingbird runs them as it does by
// default, on Swift's global pool: the reference the benchmarks compare the gateway with.
// Usage: bare-endpoint <port> [<redis port>] [--event-loop-executor]   (serves on 127.0.0.1:<port>)
import Hummingbird
import RedisClient
import ServiceLifecycle

struct Greeting: ResponseCodable {
    let status: String
    let message: String?
}

let arguments = CommandLine.arguments.dropFirst()
let onEventLoops = arguments.contains("--event-loop-executor")
let numbers = arguments.compactMap { Int($0) }
guard (1...2).contains(numbers.count), numbers.count + (onEventLoops ? 1 : 0) == arguments.count else {
    fatalError("usage: bare-endpoint <port> [<redis port>] [--event-loop-executor]")
}
let router = Router()
router.get("/") { _, _ in Greeting(status: "success", message: nil) }
var services: [any Service] = []
if numbers.count == 2 {
    let redis = RedisClient(configuration: .init(url: RedisURL(port: numbers[1])))
    services.append(redis)
    router.get("/redis") { _, _ in
        _ = try await redis.send(RedisCommand("PING"))
        return Greeting(status: "success", message: nil)
    }
}
let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: numbers[0])), services: services)
if onEventLoops, !EventLoopGlobalExecutor.install() {
    fatalError("this Swift runtime lets no other executor take the global one's place")
}
try await app.runService()
