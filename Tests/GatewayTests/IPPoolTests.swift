import Foundation
import GatewayTestSupport
import Testing
import TestSupport

/// IP pools over HTTP: set and cleared by an admin, addresses from the block, a clear 409 when
/// it is full, and no address given twice by concurrent creates on three gateways.
@Suite struct IPPoolTests {
    @Test func anAdminSetsABlockAndCreatesFillItThenGetAClear409() async throws {
        try await withGateway { gateway async throws in
            let set = try await gateway.call(.PUT, "/v1/admin/pool", body: #"{"ip_pool": "172.20.0.0/30"}"#)
            #expect(set.status == 200)
            #expect(set.data?["ip_pool"] as? String == "172.20.0.0/30" && set.data?["ip_pool_free"] as? Int == 2)
            #expect(set.data?["max_vm_count"] as? Int == 100, "the cap is unchanged")
            let created = try await gateway.createVMs(5)
            #expect(created.compactMap { $0["ip"] as? String } == ["172.20.0.1", "172.20.0.2"], "private ranges too: the operator's block")
            let full = try await gateway.call(.POST, "/v1/admin/vms")
            #expect(full.status == 409 && full.code == "ip_pool_exhausted")
            #expect(full.message == "No free address is left in the IP pool 172.20.0.0/30")
            #expect(try await gateway.call(.GET, "/createVM/").status == 409, "the original route too")

            let cleared = try await gateway.call(.PUT, "/v1/admin/pool", body: #"{"ip_pool": null}"#)
            #expect(cleared.status == 200 && cleared.data?["ip_pool"] is NSNull && cleared.data?["ip_pool_free"] is NSNull)
            let random = try await gateway.createVMs(1)
            #expect((random[0]["ip"] as? String)?.hasPrefix("172.20.") == false)
        }
    }

    @Test func concurrentCreatesOnThreeGatewaysNeverShareAnAddress() async throws {
        try await withGateways(3) { gateways in
            #expect(try await gateways[0].call(.PUT, "/v1/admin/pool", body: #"{"ip_pool": "10.99.0.0/27"}"#).status == 200)
            let statuses = try await withThrowingTaskGroup { group in
                for index in 0..<40 { group.addTask { try await gateways[index % 3].call(.POST, "/v1/admin/vms") } }
                return try await group.reduce(into: [Int: Int]()) { $0[$1.status, default: 0] += 1 }
            }
            #expect(statuses == [201: 30, 409: 10])
            let all = try await gateways[1].call(.GET, "/v1/admin/vms?limit=1000")
            let ips = (all.data?["items"] as? [[String: Any]] ?? []).compactMap { $0["ip"] as? String }
            #expect(Set(ips) == Set((1...30).map { "10.99.0.\($0)" }))
            #expect(try await gateways[2].call(.GET, "/v1/admin/pool").data?["ip_pool_free"] as? Int == 0)
        }
    }
}
