import Foundation
import GatewayTestSupport
import Testing
import TestSupport

/// The pool keeper of every gateway: a warm pool of ready VMs, and idle VMs deleted, never below it.
@Suite(.timeLimit(.minutes(10))) struct PoolUpkeepTests {
    private func counts(_ gateway: Gateway) async throws -> (total: Int, available: Int) {
        let pool = try await gateway.call(.GET, "/v1/admin/pool")
        return (pool.data?["total"] as? Int ?? -1, (pool.data?["counts"] as? [String: Int])?["available"] ?? -1)
    }

    @Test func gatewaysKeepTheMinimumReadyWithinTheCap() async throws {
        try await withGateways(2, configure: {
            $0.minReady = 3
            $0.maxVMCount = 5
            $0.poolUpkeepInterval = .milliseconds(100)
        }) { gateways in
            try await waitUntil("three VMs are ready") { (try? await counts(gateways[0]))?.available == 3 }
            #expect(try await counts(gateways[1]).total == 3, "two gateways, not six VMs")
            let alice = try await gateways[0].createUser("alice", quota: 3)
            for _ in 0..<3 { #expect(try await gateways[1].call(.POST, "/v1/checkouts", token: alice).status == 201) }
            try await waitUntil("the cap of five is reached") { (try? await counts(gateways[0]))?.total == 5 }
            #expect(try await counts(gateways[0]).available == 2, "the cap wins over the minimum")
        }
    }

    @Test func idleVMsAreDeletedDownToTheMinimum() async throws {
        try await withGateway(configure: {
            $0.idleDeleteAfter = 1
            $0.minReady = 1
            $0.poolUpkeepInterval = .milliseconds(100)
        }) { gateway async throws in
            try await waitUntil("the warm pool's first VM") { (try? await counts(gateway))?.total == 1 }
            let alice = try await gateway.createUser("alice", quota: 1)
            let held = try #require(try await gateway.call(.POST, "/v1/checkouts", token: alice)["vm_id"])
            try await waitUntil("the warm pool's next VM") { (try? await counts(gateway)) ?? (0, 0) == (2, 1) }
            try await gateway.createVMs(4)
            // five available, one to keep: the four that were idle longest go, however slow the machine
            try await waitUntil("idle VMs are deleted") { (try? await counts(gateway)) ?? (0, 0) == (2, 1) }
            #expect(try await gateway.call(.GET, "/v1/vms/\(held)")["status"] == "checked-out", "never a VM in use")
            let events = try await gateway.call(.GET, "/v1/admin/events?limit=1000").data?["items"] as? [[String: Any]] ?? []
            #expect(events.filter { $0["detail"] as? String == "idle for 1 s or more" }.count == 4)
        }
    }
}
