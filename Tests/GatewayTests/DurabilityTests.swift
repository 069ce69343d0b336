import Foundation
import GatewayTestSupport
import RedisServerProcess
import Testing
import TestSupport

/// Gateways keep no state: reservations live in Redis and survive gateway and Redis restarts.
@Suite struct DurabilityTests {
    @Test func reservationsSurviveAGatewayAndARedisRestartWithPersistence() async throws {
        try await withTestProcesses { processes in
            let server = try await processes.redis(persistent: true)
            let pool = "durable-\(UUID().uuidString)"
            let (token, held) = try await withGateways(redis: server.url, pool: pool) { gateways in
                try await gateways[0].createVMs(5)
                let token = try await gateways[0].createUser("dora", quota: 3)
                var held: Set<String> = []
                for _ in 0..<3 { held.insert(try await gateways[0].call(.POST, "/v1/checkouts", token: token)["vm_id"]!) }
                return (token, held)
            }
            // The first gateway is gone; Redis restarts from its append-only file.
            await server.stop()
            let restarted = try await processes.redis(port: server.port, dataDirectory: server.dataDirectory, persistent: true)
            let survived = try await withGateways(redis: restarted.url, pool: pool) { gateways in
                let mine = try await gateways[0].call(.GET, "/v1/vms/mine", token: token)
                let pool = try await gateways[0].call(.GET, "/v1/admin/pool")
                #expect((pool.data?["counts"] as? [String: Int])?["checked-out"] == 3)
                #expect(try await gateways[0].call(.POST, "/v1/checkouts", token: token).status == 429)
                return Set(mine.items?.compactMap { $0["vm_id"] as? String } ?? [])
            }
            #expect(survived == held)
        }
    }
}
