import Foundation
import GatewayTestSupport
import RedisServerProcess
import Testing
import TestSupport

/// One gateway serving several pools (`--pool`, repeated): the first at the routes as written,
/// every one under `/pools/{name}`. Each pool keeps its own VMs, users, waiting queue and history.
@Suite(.timeLimit(.minutes(10))) struct SeveralPoolsTests {
    @Test func eachPoolOfAGatewayKeepsItsOwnVMsUsersQueueAndHistory() async throws {
        let red = "red-\(UUID().uuidString)", blue = "blue-\(UUID().uuidString)"
        try await withGateways(pool: red, configure: { $0.pools = [red, blue] }) { gateways in
            let gateway = gateways[0], redPool = gateways[0].pool(red), bluePool = gateways[0].pool(blue)
            let redIDs = Set(try await gateway.createVMs(2).compactMap { $0["vm_id"] as? String })
            let blueIDs = Set(try await bluePool.createVMs(3).compactMap { $0["vm_id"] as? String })
            #expect(try await gateway.call(.GET, "/v1/admin/pool").data?["total"] as? Int == 2)
            #expect(try await redPool.call(.GET, "/v1/admin/pool").data?["total"] as? Int == 2, "the first pool under its prefix too")
            #expect(try await bluePool.call(.GET, "/v1/admin/pool").data?["total"] as? Int == 3)

            // users belong to one pool: the same name in both, each token valid in its own only
            let alice = try await bluePool.createUser("alice", quota: 3)
            let redAlice = try await gateway.createUser("alice", quota: 1)
            #expect(try await gateway.call(.GET, "/v1/vms/mine", token: alice).status == 401)
            #expect(try await bluePool.call(.GET, "/v1/vms/mine", token: redAlice).status == 401)
            let checkout = try await bluePool.call(.POST, "/v1/checkouts", token: alice)
            #expect(checkout.status == 201 && blueIDs.contains(checkout["vm_id"] ?? ""), "\(checkout.text)")
            let redCheckout = try await redPool.call(.POST, "/v1/checkouts", token: redAlice)
            #expect(redCheckout.status == 201 && redIDs.contains(redCheckout["vm_id"] ?? ""), "\(redCheckout.text)")
            // the original design's routes and queries, under a prefix
            let legacy = try await bluePool.call(.GET, "/checkoutVM/", token: alice)
            #expect(legacy.status == 201 && blueIDs.contains(legacy["vm_id"] ?? ""), "\(legacy.text)")
            let held = try await bluePool.call(.GET, "/v1/admin/vms?status=checked-out")
            #expect(Set((held.data?["items"] as? [[String: Any]] ?? []).compactMap { $0["vm_id"] as? String })
                    == [checkout["vm_id"]!, legacy["vm_id"]!])
            #expect(try await gateway.call(.GET, "/v1/admin/pool").data?["counts"].flatMap { $0 as? [String: Int] }?["checked-out"] == 1)

            // a waiting checkout in blue is served by a checkin in blue
            #expect(try await bluePool.call(.POST, "/v1/checkouts", token: alice).status == 201)
            let bob = try await bluePool.createUser("bob", quota: 1), redis = try await SharedRedis.url()
            async let waiting = bluePool.call(.POST, "/v1/checkouts?wait=60", token: bob)
            try await waitUntil("bob waits") {
                (try? await sendToRedis(redis, ["ZCARD", "vmreserve:{\(blue)}:waiters"]))?.first?.int == 1
            }
            #expect(try await bluePool.call(.POST, "/v1/checkins", token: alice, body: #"{"vm_id": "\#(checkout["vm_id"]!)"}"#).status == 200)
            let handed = try await waiting
            #expect(handed.status == 201 && handed["vm_id"] == checkout["vm_id"], "\(handed.text)")

            // each pool's history holds its own changes only
            let redEvents = try await gateway.call(.GET, "/v1/admin/events?limit=1000").data?["items"] as? [[String: Any]] ?? []
            let blueEvents = try await bluePool.call(.GET, "/v1/admin/events?limit=1000").data?["items"] as? [[String: Any]] ?? []
            #expect(Set(redEvents.compactMap { $0["vm_id"] as? String }) == redIDs)
            #expect(Set(blueEvents.compactMap { $0["vm_id"] as? String }) == blueIDs)

            // metrics: each pool's gauges
            let metrics = try await gateway.call(.GET, "/metrics", token: nil).text
            #expect(metrics.contains(#"vmreserve_vms{pool="\#(red)",status="checked-out"} 1"#), "\(metrics)")
            #expect(metrics.contains(#"vmreserve_vms{pool="\#(blue)",status="checked-out"} 3"#))
            #expect(metrics.contains(#"vmreserve_max_vm_count{pool="\#(blue)"} 100"#))
        }
    }

    @Test func aPoolTheGatewayDoesNotServeIsNotFoundAndChangesNothing() async throws {
        let red = "red-\(UUID().uuidString)", spaced = "blue sky \(UUID().uuidString)"
        try await withGateways(pool: red, configure: { $0.pools = [red, spaced] }) { gateways in
            let gateway = gateways[0]
            // a name is percent-encoded in the path
            let encoded = spaced.replacingOccurrences(of: " ", with: "%20")
            #expect(try await Gateway(port: gateway.port).call(.GET, "/pools/\(encoded)/v1/admin/pool").status == 200)
            let before = try await gateway.snapshot()
            for path in ["/pools/nope/v1/admin/vms", "/pools/nope", "/pools/", "/pools", "/pools//v1/admin/vms"] {
                let response = try await Gateway(port: gateway.port).call(.POST, path, body: #"{"count": 1}"#)
                #expect(response.status == 404 && response.code == "not_found", "\(path): \(response.text)")
                #expect(response.envelopeStatus == "error" && response.message?.isEmpty == false)
            }
            let unknown = try await gateway.pool("nope").call(.GET, "/v1/admin/pool")
            #expect(unknown.message == "This gateway serves no pool named nope", "\(unknown.text)")
            // a known pool, an unknown route or method: as without the prefix
            #expect(try await gateway.pool(red).call(.GET, "/v1/nowhere").code == "not_found")
            let method = try await gateway.pool(red).call(.DELETE, "/v1/checkouts")
            #expect(method.status == 405 && method.headers["Allow"].first == "POST", "\(method.text)")
            #expect(try await gateway.snapshot() == before)
        }
    }

}
