import Foundation
import GatewayTestSupport
import Synchronization
import Testing
import TestSupport

/// Many clients on three gateway instances (each with its own Redis connections) sharing one
/// Redis. The invariants are checked from the answers clients get.
@Suite(.timeLimit(.minutes(10))) struct GatewayConcurrencyTests {
    @Test func manyClientsOnThreeGatewaysNeverShareAVMOrExceedAQuota() async throws {
        let vmCount = 40, clients = 64, quota = 2
        try await withGateways(3) { gateways in
            try await gateways[0].createVMs(vmCount)
            var tokens: [String] = []
            for index in 0..<clients { tokens.append(try await gateways[index % 3].createUser("user\(index)", quota: quota)) }
            let ledger = ClientLedger()
            let goal = WorkGoal(600)  // checkouts, in all
            try await withThrowingTaskGroup { group in
                for (index, token) in tokens.enumerated() {
                    let tokens = tokens
                    group.addTask {
                        _ = tokens
                        try await checkoutCycle(as: "user\(index)", token: token, quota: quota, gateways: gateways, until: goal, ledger: ledger)
                    }
                }
                try await group.waitForAll()
            }
            let state = ledger.state.withLock { $0 }
            #expect(state.violations.isEmpty, "\(state.violations.prefix(5))")
            #expect(state.checkouts >= goal.target)
            #expect(Set(state.refusals.keys).isSubset(of: [429, 503]), "\(state.refusals)")
            #expect(state.holderOf.isEmpty)

            let pool = try await gateways[1].call(.GET, "/v1/admin/pool")
            #expect(pool.data?["total"] as? Int == vmCount)
            #expect((pool.data?["counts"] as? [String: Int]) == ["available": vmCount, "checked-out": 0, "provisioning": 0, "error": 0, "deprovisioning": 0, "set-aside": 0])
            let users = try await gateways[2].call(.GET, "/v1/admin/users")
            #expect(users.items?.allSatisfy { $0["held"] as? Int == 0 } == true)
            let all = try await gateways[0].call(.GET, "/v1/admin/vms?limit=1000")
            let ips = (all.data?["items"] as? [[String: Any]] ?? []).compactMap { $0["ip"] as? String }
            #expect(ips.count == vmCount)
            #expect(Set(ips).count == vmCount)
        }
    }

    @Test func fiftyConcurrentCreatesAgainstACapOfTwentyMakeExactlyTwenty() async throws {
        try await withGateways(3, configure: { $0.maxVMCount = 20 }) { gateways in
            let statuses = try await withThrowingTaskGroup { group in
                for index in 0..<50 {
                    group.addTask { try await gateways[index % 3].call(.POST, "/v1/admin/vms") }
                }
                return try await group.reduce(into: [Int: Int]()) { counts, response in
                    counts[response.status, default: 0] += 1
                    if response.status == 409 { #expect(response.code == "max_vm_count_reached") }
                }
            }
            #expect(statuses == [201: 20, 409: 30])
            let all = try await gateways[0].call(.GET, "/v1/admin/vms?limit=1000")
            let ips = (all.data?["items"] as? [[String: Any]] ?? []).compactMap { $0["ip"] as? String }
            #expect(ips.count == 20)
            #expect(Set(ips).count == 20)
            #expect(try await gateways[1].call(.GET, "/v1/admin/pool").data?["total"] as? Int == 20)
        }
    }

    @Test func deletesRacingCheckoutsNeverRemoveAHeldVM() async throws {
        try await withGateways(3) { gateways in
            let ids = try await gateways[0].createVMs(30).compactMap { $0["vm_id"] as? String }
            let token = try await gateways[0].createUser("racer", quota: 30)
            let (deleted, checkedOut) = try await withThrowingTaskGroup { group in
                for (index, id) in ids.enumerated() {
                    group.addTask { ("delete", try await gateways[index % 3].call(.DELETE, "/v1/admin/vms/\(id)")) }
                    group.addTask { ("checkout", try await gateways[(index + 1) % 3].call(.POST, "/v1/checkouts", token: token)) }
                }
                var deleted: Set<String> = [], checkedOut: Set<String> = []
                for try await (kind, response) in group {
                    if kind == "delete", response.status == 200 { deleted.insert(response["vm_id"]!) }
                    if kind == "delete" { #expect([200, 409].contains(response.status)) }
                    if kind == "checkout", response.status == 201 { checkedOut.insert(response["vm_id"]!) }
                    if kind == "checkout" { #expect([201, 503].contains(response.status)) }
                }
                return (deleted, checkedOut)
            }
            #expect(deleted.isDisjoint(with: checkedOut))
            #expect(deleted.union(checkedOut) == Set(ids))
            for id in checkedOut {
                #expect(try await gateways[2].call(.GET, "/v1/vms/\(id)", token: token)["status"] == "checked-out")
            }
        }
    }
}
