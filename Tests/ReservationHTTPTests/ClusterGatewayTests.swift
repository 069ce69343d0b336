import Foundation
import RedisClient
import RedisServerProcess
import Testing
import TestSupport

/// Gateways on a real three-master Redis Cluster (`--redis-cluster`): pools whose slots are on
/// different masters each serve every kind of request, their keys on their own master only.
@Suite(.timeLimit(.minutes(10))) struct ClusterGatewayTests {
    @Test func poolsOnDifferentMastersAllServe() async throws {
        try await withTestProcesses { processes in
            let nodes = try await processes.redisCluster()
            // one pool per master: the first names whose slot each master holds
            var pools: [(name: String, master: RedisServerProcess)] = []
            for index in 0..<200 where pools.count < 3 {
                let name = "pool\(index)"
                let master = try await clusterMaster(of: "vmreserve:{\(name)}:pool", among: nodes)
                if !pools.contains(where: { $0.master.port == master.port }) { pools.append((name, master)) }
            }
            try #require(pools.count == 3)
            let seed = nodes.map { "127.0.0.1:\($0.port)" }.joined(separator: ",")
            for (index, pool) in pools.enumerated() {
                let port = try freeLoopbackPort()
                let log = try processes.temporaryDirectory("cluster-gateway").appending(path: "log")
                // each gateway finds the cluster from one node, not always its pool's
                _ = try await GatewayProcess.start(["--redis-cluster", seed.split(separator: ",")[index % 3].description,
                                                    "--pool", pool.name, "--admin-token", adminToken], port: port, log: log,
                                                   processes: processes)
                let gateway = Gateway(port: port)
                let ids = try await gateway.createVMs(3).compactMap { $0["vm_id"] as? String }
                let alice = try await gateway.createUser("alice", quota: 2)
                let checkout = try await gateway.call(.POST, "/v1/checkouts", token: alice)
                #expect(checkout.status == 201, "\(pool.name): \(checkout.text)")
                let held = try #require(checkout["vm_id"])
                #expect(ids.contains(held))
                #expect(try await gateway.call(.POST, "/v1/checkins", token: alice, body: #"{"vm_id": "\#(held)"}"#).status == 200)
                // a waiting checkout, served by a checkin: its handoff list is the pool's too
                let bob = try await gateway.createUser("bob", quota: 3)
                for _ in 0..<3 { #expect(try await gateway.call(.POST, "/v1/checkouts", token: bob).status == 201) }
                async let waiting = gateway.call(.POST, "/v1/checkouts?wait=60", token: alice)
                try await waitUntil("the checkout waits") {
                    (try? await sendToRedis(pool.master.url, ["ZCARD", "vmreserve:{\(pool.name)}:waiters"]))?.first?.int == 1
                }
                let bobs = try await gateway.call(.GET, "/v1/vms/mine", token: bob)
                let first = try #require((bobs.json?["data"] as? [[String: Any]])?.first?["vm_id"] as? String)
                #expect(try await gateway.call(.POST, "/v1/checkins", token: bob, body: #"{"vm_id": "\#(first)"}"#).status == 200)
                #expect(try await waiting.status == 201)
                #expect(try await gateway.call(.GET, "/v1/admin/pool").data?["total"] as? Int == 3)
                // the pool's keys are on its master, and on no other
                let count = try await sendToRedis(pool.master.url, ["HGET", "vmreserve:{\(pool.name)}:pool", "vm_count"]).first?.string
                #expect(count == "3", "\(pool.name) on \(pool.master.port)")
                for other in nodes where other.port != pool.master.port {
                    let elsewhere = try? await sendToRedis(other.url, ["EXISTS", "vmreserve:{\(pool.name)}:pool"])
                    #expect(elsewhere == nil, "\(other.port) answers MOVED for \(pool.name)")
                }
            }
        }
    }
}
