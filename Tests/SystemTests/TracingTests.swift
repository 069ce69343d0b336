import Foundation
import GatewayTestSupport
import Hummingbird
import NIOCore
import RedisServerProcess
import Synchronization
import Testing
import TestSupport

/// Tracing (`vmreserve serve --otlp-endpoint`): the spans reach an OTLP/HTTP collector on
/// loopback, a request's span with its Redis calls' spans as children, in the trace the client
/// named (W3C `traceparent`).
@Suite(.timeLimit(.minutes(10))) struct TracingTests {
    /// One span as an OTLP/HTTP JSON export carries it.
    struct Span: Sendable {
        let traceID: String
        let spanID: String
        let parentSpanID: String
        let name: String
    }

    /// A loopback OTLP/HTTP collector (JSON): keeps every span it is sent.
    final class Collector: Sendable {
        private let received = Mutex<[Span]>([])
        var spans: [Span] { received.withLock { $0 } }

        func run(port: Int) async throws {
            let router = Router()
            router.post("/v1/traces") { request, _ -> Response in
                let body = try await request.body.collect(upTo: 16 << 20)
                let json = try JSONSerialization.jsonObject(with: Data(buffer: body)) as? [String: Any] ?? [:]
                var spans: [Span] = []
                for resource in json["resourceSpans"] as? [[String: Any]] ?? [] {
                    for scope in resource["scopeSpans"] as? [[String: Any]] ?? [] {
                        for span in scope["spans"] as? [[String: Any]] ?? [] {
                            spans.append(Span(traceID: span["traceId"] as? String ?? "", spanID: span["spanId"] as? String ?? "",
                                              parentSpanID: span["parentSpanId"] as? String ?? "", name: span["name"] as? String ?? ""))
                        }
                    }
                }
                self.received.withLock { $0 += spans }
                return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: "{}")))
            }
            let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: port)))
            try await app.runService()
        }
    }

    @Test func aRequestAndItsRedisCallsAreSpansOfTheClientsTrace() async throws {
        try await withTestProcesses { processes in
            let collectorPort = try freeLoopbackPort(), collector = Collector()
            try await withThrowingTaskGroup { group in
                group.addTask { try await collector.run(port: collectorPort) }
                defer { group.cancelAll() }
                let redis = try await processes.redis()
                let port = try freeLoopbackPort(), log = try processes.temporaryDirectory("tracing").appending(path: "log")
                _ = try await GatewayProcess.start(
                    ["--redis-url", "redis://127.0.0.1:\(redis.port)/0", "--admin-token", adminToken,
                     "--otlp-endpoint", "http://127.0.0.1:\(collectorPort)", "--log-format", "json"],
                    environment: ["OTEL_EXPORTER_OTLP_PROTOCOL": "http/json", "OTEL_BSP_SCHEDULE_DELAY": "100"],
                    port: port, log: log, processes: processes)
                let gateway = Gateway(port: port)
                try await gateway.createVMs(1)
                let trace = "4bf92f3577b34da6a3ce929d0e0e4736"
                let checkout = try await gateway.call(.POST, "/v1/checkouts", headers: [("traceparent", "00-\(trace)-00f067aa0ba902b7-01")])
                #expect(checkout.status == 201)
                // (OTLP's JSON gives ids in base64)
                func base64(_ hex: String) -> String {
                    Data(stride(from: 0, to: hex.count, by: 2).map { UInt8(hex.dropFirst($0).prefix(2), radix: 16)! }).base64EncodedString()
                }
                try await waitUntil("the checkout's spans arrive") {
                    collector.spans.contains { $0.name.hasPrefix("FCALL") && $0.name.hasSuffix("_checkout") }
                }
                let spans = collector.spans
                let request = try #require(spans.first { $0.name == "/v1/checkouts" }, "\(spans)")
                #expect(request.traceID == base64(trace), "the client's trace")
                #expect(request.parentSpanID == base64("00f067aa0ba902b7"), "under the client's span")
                let script = try #require(spans.first { $0.name.hasPrefix("FCALL") && $0.name.hasSuffix("_checkout") })
                #expect(script.traceID == request.traceID && script.parentSpanID == request.spanID, "a child of the request's span")
                // and the request's log line names the trace (once the gateway has written it: it
                // writes its lines in batches)
                func line() -> [String: String]? {
                    let lines = ((try? String(contentsOf: log, encoding: .utf8)) ?? "").split(separator: "\n")
                    return lines.compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: String] }
                        .first { $0["message"] == "request" && $0["route"] == "/v1/checkouts" }
                }
                try await waitUntil("the checkout's log line is written") { line() != nil }
                #expect(line()?["trace_id"] == trace, "\(String(describing: line()))")
            }
        }
    }
}
