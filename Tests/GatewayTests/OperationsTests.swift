import AsyncHTTPClient
import Foundation
import GatewayTestSupport
import NIOCore
import NIOHTTP1
import RedisServerProcess
import Testing
import TestSupport

/// /healthz, /readyz, /metrics, dev mode, and how the gateway behaves when Redis fails.
@Suite struct OperationsTests {
    @Test func healthReadinessAndMetricsNeedNoToken() async throws {
        let pool = "metrics-\(UUID().uuidString)"
        try await withGateways(pool: pool) { gateways async throws in
            let gateway = gateways[0]
            let health = try await gateway.call(.GET, "/healthz", token: nil)
            #expect(health.status == 200)
            #expect(health.envelopeStatus == "success")
            #expect(try await gateway.call(.GET, "/readyz", token: nil).status == 200)
            try await gateway.createVMs(2)
            _ = try await gateway.call(.POST, "/v1/checkouts")
            _ = try await gateway.call(.GET, "/nowhere")
            let metrics = try await gateway.call(.GET, "/metrics", token: nil)
            #expect(metrics.status == 200)
            #expect(metrics.headers.first(name: "Content-Type")?.hasPrefix("text/plain") == true)
            #expect(metrics.json == nil)
            #expect(metrics.text.contains(#"vmreserve_http_requests_total{method="POST",route="/v1/checkouts",code="201"} 1"#))
            #expect(metrics.text.contains(#"vmreserve_http_requests_total{method="GET",route="NotFound",code="404"} 1"#))
            #expect(metrics.text.contains("vmreserve_http_request_duration_seconds_bucket"))
            #expect(metrics.text.contains(#"vmreserve_vms{pool="\#(pool)",status="available"} 1"#))
            #expect(metrics.text.contains(#"vmreserve_vms{pool="\#(pool)",status="checked-out"} 1"#))
            #expect(metrics.text.contains(#"vmreserve_max_vm_count{pool="\#(pool)"} 100"#))
            #expect(metrics.gauge("vmreserve_http_requests_in_flight") == 1, "the scrape itself")
        }
    }

    @Test func operationsRoutesIgnoreAMalformedAuthorizationHeaderThatOtherRoutesRefuse() async throws {
        try await withGateway(configure: { $0.devMode = true }) { gateway async throws in
            let basic = [("Authorization", "Basic eDp5")]
            for path in ["/healthz", "/readyz", "/metrics"] {
                #expect(try await gateway.call(.GET, path, token: nil, headers: basic).status == 200, "\(path)")
            }
            // even in dev mode a malformed header is not the anonymous admin
            let refused = try await gateway.call(.GET, "/v1/admin/pool", token: nil, headers: basic)
            #expect(refused.status == 401)
            #expect(refused.code == "unauthorized")
            #expect(try await gateway.call(.GET, "/v2/nothing", token: nil, headers: basic).status == 404)
        }
    }

    @Test func theBearerSchemeIsReadInAnyCaseAndNothingElseIsAToken() async throws {
        try await withGateway { gateway async throws in
            for scheme in ["Bearer", "bearer", "BEARER", "bEaReR"] {
                let headers = [("Authorization", "\(scheme) \(adminToken)")]
                #expect(try await gateway.call(.GET, "/v1/admin/pool", token: nil, headers: headers).status == 200, "\(scheme)")
            }
            for header in ["Bearer", "Bearer ", "Bearer  \(adminToken)", "Bearers \(adminToken)", "Bear \(adminToken)",
                           "\(adminToken)", "Basic \(adminToken)"] {
                let refused = try await gateway.call(.GET, "/v1/admin/pool", token: nil, headers: [("Authorization", header)])
                #expect(refused.status == 401, "\(header)")
                #expect(refused.code == "unauthorized")
            }
        }
    }

    @Test func unknownRoutesAre404InTheEnvelope() async throws {
        try await withGateway { gateway async throws in
            let response = try await gateway.call(.GET, "/v2/nothing")
            #expect(response.status == 404)
            #expect(response.code == "not_found")
            #expect(response.json?["data"] is NSNull)
        }
    }

    @Test func devModeServesTokenlessRequestsAsTheAnonymousAdmin() async throws {
        try await withGateway(configure: { $0.devMode = true }) { gateway async throws in
            #expect(try await gateway.call(.GET, "/createVM/", token: nil).status == 201)
            let vm = try await gateway.call(.GET, "/checkoutVM/", token: nil)
            #expect(vm.status == 201)
            #expect(vm["user"] == "anonymous")
            #expect(try await gateway.call(.GET, "/v1/admin/pool", token: nil).status == 200)
        }
    }

    @Test func withoutDevModeTokenlessRequestsAre401() async throws {
        try await withGateway { gateway async throws in
            let response = try await gateway.call(.GET, "/createVM/", token: nil)
            #expect(response.status == 401)
            #expect(response.headers.first(name: "WWW-Authenticate") == "Bearer")
        }
    }

    @Test func bodiesOverOneMiBAre413AndOneMiBIsAccepted() async throws {
        try await withGateway { gateway async throws in
            try await gateway.createVMs(1)
            let padding = String(repeating: " ", count: (1 << 20) + 10)
            let response = try await gateway.call(.POST, "/v1/checkouts", body: "{}" + padding)
            #expect(response.status == 413)
            #expect(response.code == "payload_too_large")
            let body = #"{"lease_seconds": 60}"#
            let exact = body + String(repeating: " ", count: (1 << 20) - body.utf8.count)
            #expect(try await gateway.call(.POST, "/v1/checkouts", body: exact).status == 201)
        }
    }

    @Test func aStreamedBodyOverOneMiBIs413() async throws {
        try await withGateway { gateway async throws in
            var request = HTTPClientRequest(url: "http://127.0.0.1:\(gateway.port)/v1/checkouts")
            request.method = .POST
            request.headers.add(name: "Authorization", value: "Bearer \(adminToken)")
            let chunks = AsyncStream<ByteBuffer> { continuation in
                continuation.yield(ByteBuffer(string: "{}"))
                for _ in 0..<17 { continuation.yield(ByteBuffer(repeating: UInt8(ascii: " "), count: 1 << 16)) }
                continuation.finish()
            }
            request.body = .stream(chunks, length: .unknown)  // chunked: no Content-Length to check first
            let response = try await testHTTPClient.execute(request, timeout: .seconds(120))
            let text = String(buffer: try await response.body.collect(upTo: 1 << 16))
            #expect(response.status.code == 413)
            #expect(text.contains(#""code":"payload_too_large""#), "\(text)")
        }
    }

    @Test func aDeclaredLengthOverOneMiBIsAnsweredBeforeTheBodyArrives() async throws {
        try await withGateway { gateway async throws in
            let head = "POST /v1/checkouts HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer \(adminToken)\r\n"
                + "Content-Type: application/json\r\nContent-Length: \(2 << 20)\r\n\r\n{"
            let clock = ContinuousClock(), start = clock.now
            let connection = try RawHTTPConnection(port: gateway.port)
            try connection.send(head)
            let answer = await connection.readAnswer()
            #expect(answer.hasPrefix("HTTP/1.1 413"), "\(answer)")
            #expect(answer.contains(#""code":"payload_too_large""#))
            #expect(answer.lowercased().contains("connection: close"), "asks the client to stop sending")
            // the other 2 MiB never come: waiting for them would last until the 60 s idle timeout
            #expect(clock.now - start < .seconds(30), "the gateway did not wait for the other 2 MiB")
        }
    }

    @Test func aConnectionThatSendsNothingIsClosedAfterTheIdleTimeout() async throws {
        try await withGateway(configure: { $0.idleTimeout = .seconds(1) }) { gateway async throws in
            let clock = ContinuousClock(), start = clock.now
            let connection = try RawHTTPConnection(port: gateway.port)
            try connection.send("GET /healthz HTTP/1.1\r\nHost: 127")
            let answer = await connection.readAnswer()
            let waited = clock.now - start
            #expect(answer.isEmpty, "\(answer)")
            #expect(waited >= .milliseconds(900) && waited < .seconds(1) + TestTiming.margin, "closed after \(waited)")
        }
    }

    @Test func whenRedisIsDownRequestsGet503StoreUnavailableAndRecoverAfterwards() async throws {
        try await withTestProcesses { processes in
            let server = try await processes.redis()
            try await withGateways(redis: server.url) { gateways in
                let gateway = gateways[0]
                try await gateway.createVMs(1)
                await server.stop()
                let down = try await gateway.call(.POST, "/v1/checkouts")
                #expect(down.status == 503)
                #expect(down.code == "store_unavailable")
                #expect(down.headers.first(name: "Retry-After") != nil)
                let notReady = try await gateway.call(.GET, "/readyz", token: nil)
                #expect(notReady.status == 503)
                #expect(notReady.code == "store_unavailable")
                #expect(try await gateway.call(.GET, "/healthz", token: nil).status == 200)
                #expect(try await gateway.call(.GET, "/metrics", token: nil).text.contains("vmreserve_store_up 0"))
                _ = try await processes.redis(port: server.port, dataDirectory: server.dataDirectory)
                try await waitUntil("the gateway is ready again") {
                    (try? await gateway.call(.GET, "/readyz", token: nil).status) == 200
                }
                // The restarted Redis started empty (no persistence here): the pool is seeded again.
                #expect(try await gateway.call(.GET, "/v1/admin/pool").data?["max_vm_count"] as? Int == 100)
            }
        }
    }

    @Test func aRedisOutOfMemoryIs503StoreUnavailableNot500() async throws {
        try await withGatewayOnOwnRedis { gateway, server async throws in
            try await gateway.createVMs(1)
            try await withRedisClient(.test(server.url, connectionCount: 1)) { redis async throws in
                _ = try await redis.send(.init("CONFIG", ["SET", "maxmemory", "1"]))
                let refused = try await gateway.call(.POST, "/v1/admin/vms")
                #expect(refused.status == 503)
                #expect(refused.code == "store_unavailable")
                _ = try await redis.send(.init("CONFIG", ["SET", "maxmemory", "0"]))
            }
            #expect(try await gateway.call(.POST, "/v1/admin/vms").status == 201)
        }
    }

    @Test func whenRedisHangsNoRequestWaitsMoreThanTwoSeconds() async throws {
        // the production deadline, 2 s
        try await withGatewayOnOwnRedis(configure: { $0.redis.commandTimeout = .seconds(2) }) { gateway, server async throws in
            try await gateway.createVMs(2)
            server.suspend(true)
            let clock = ContinuousClock()
            let start = clock.now
            let response = try await gateway.call(.POST, "/v1/checkouts")
            let waited = clock.now - start
            server.suspend(false)
            #expect(response.status == 503)
            #expect(response.code == "store_unavailable")
            #expect(waited >= .seconds(2) && waited < .seconds(2) + TestTiming.margin, "2 s on Redis, and room for a busy machine: \(waited)")
            try await waitUntil("the gateway reconnects") {
                (try? await gateway.call(.GET, "/readyz", token: nil).status) == 200
            }
            // The timed-out checkout may still have run once Redis woke up: a 503 on a state
            // change means "unknown", and the caller's own list tells.
            let mine = try await gateway.call(.GET, "/v1/vms/mine").items?.count ?? -1
            #expect(mine == 0 || mine == 1)
            #expect(try await gateway.call(.POST, "/v1/checkouts").status == 201)
        }
    }
}
