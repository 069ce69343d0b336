import Foundation
import NIOHTTP1
import RedisServerProcess
import Testing
import TestSupport

/// /healthz, /readyz, /metrics, dev mode, and how the gateway behaves when Redis fails.
@Suite struct OperationsTests {
    @Test func healthReadinessAndMetricsNeedNoToken() async throws {
        try await withGateway { gateway, _ async throws in
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
            #expect(metrics.text.contains(#"vmreserve_vms{status="available"} 1"#))
            #expect(metrics.text.contains(#"vmreserve_vms{status="checked-out"} 1"#))
            #expect(metrics.text.contains("vmreserve_max_vm_count 100"))
        }
    }

    @Test func unknownRoutesAre404InTheEnvelope() async throws {
        try await withGateway { gateway, _ async throws in
            let response = try await gateway.call(.GET, "/v2/nothing")
            #expect(response.status == 404)
            #expect(response.code == "not_found")
            #expect(response.json?["data"] is NSNull)
        }
    }

    @Test func devModeServesTokenlessRequestsAsTheAnonymousAdmin() async throws {
        try await withGateway(configure: { $0.devMode = true }) { gateway, _ async throws in
            #expect(try await gateway.call(.GET, "/createVM/", token: nil).status == 201)
            let vm = try await gateway.call(.GET, "/checkoutVM/", token: nil)
            #expect(vm.status == 201)
            #expect(vm["user"] == "anonymous")
            #expect(try await gateway.call(.GET, "/v1/admin/pool", token: nil).status == 200)
        }
    }

    @Test func withoutDevModeTokenlessRequestsAre401() async throws {
        try await withGateway { gateway, _ async throws in
            let response = try await gateway.call(.GET, "/createVM/", token: nil)
            #expect(response.status == 401)
            #expect(response.headers.first(name: "WWW-Authenticate") == "Bearer")
        }
    }

    @Test func bodiesOverOneMiBAre413() async throws {
        try await withGateway { gateway, _ async throws in
            let padding = String(repeating: " ", count: (1 << 20) + 10)
            let response = try await gateway.call(.POST, "/v1/checkouts", body: "{}" + padding)
            #expect(response.status == 413)
            #expect(response.code == "payload_too_large")
        }
    }

    @Test func whenRedisIsDownRequestsGet503StoreUnavailableAndRecoverAfterwards() async throws {
        try await withGateway { gateway, server async throws in
            try await gateway.createVMs(1)
            await server.stop()
            let down = try await gateway.call(.POST, "/v1/checkouts")
            #expect(down.status == 503)
            #expect(down.code == "store_unavailable")
            #expect(down.headers.first(name: "Retry-After") != nil)
            #expect(try await gateway.call(.GET, "/readyz", token: nil).status == 503)
            #expect(try await gateway.call(.GET, "/healthz", token: nil).status == 200)
            #expect(try await gateway.call(.GET, "/metrics", token: nil).text.contains("vmreserve_store_up 0"))
            let restarted = try await RedisServerProcess.start(port: server.port, dataDirectory: server.dataDirectory, persistent: false)
            try await waitUntil("the gateway is ready again") {
                (try? await gateway.call(.GET, "/readyz", token: nil).status) == 200
            }
            // The restarted Redis started empty (no persistence here): the pool is seeded again.
            #expect(try await gateway.call(.GET, "/v1/admin/pool").data?["max_vm_count"] as? Int == 100)
            await restarted.kill()
        }
    }

    @Test func whenRedisHangsNoRequestWaitsMoreThanTwoSeconds() async throws {
        try await withGateway { gateway, server async throws in
            try await gateway.createVMs(2)
            server.suspend(true)
            let clock = ContinuousClock()
            let start = clock.now
            let response = try await gateway.call(.POST, "/v1/checkouts")
            let waited = clock.now - start
            server.suspend(false)
            #expect(response.status == 503)
            #expect(response.code == "store_unavailable")
            #expect(waited < .milliseconds(2500))
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
