import Foundation
import GatewayTestSupport
import NIOHTTP1
import RedisClient
import RedisServerProcess
import Reservations
import Synchronization
import Testing
import TestSupport

/// Gateways on a real three-master Redis Cluster (`--redis-cluster`): pools whose slots are on
/// different masters, all served by one gateway, each serve every kind of request, their keys on
/// their own master only.
@Suite(.timeLimit(.minutes(10))) struct ClusterGatewayTests {
    /// Also over TLS: every node speaks TLS only and asks for the gateway's certificate, and the
    /// cluster bus is TLS too.
    @Test(arguments: [false, true]) func poolsOnDifferentMastersAllServe(overTLS: Bool) async throws {
        try await withTestProcesses { processes in
            let certificates = overTLS ? try await TestCertificates.make(in: try processes.temporaryDirectory("cluster-tls")) : nil
            let tls = try certificates?.redisClient()
            let nodes = try await processes.redisCluster(certificates: certificates)
            // one pool per master: the first names whose slot each master holds
            var pools: [(name: String, master: RedisServerProcess)] = []
            for index in 0..<200 where pools.count < 3 {
                let name = "pool\(index)"
                let master = try await clusterMaster(of: "vmreserve:{\(name)}:pool", among: nodes, tls: tls)
                if !pools.contains(where: { $0.master.port == master.port }) { pools.append((name, master)) }
            }
            try #require(pools.count == 3)
            // one gateway serves the three pools, finding the cluster from one node
            let port = try freeLoopbackPort()
            let log = try processes.temporaryDirectory("cluster-gateway").appending(path: "log")
            // (over TLS, --redis-url gives the scheme, as it gives the password)
            let transport = certificates.map { ["--redis-url", "rediss://127.0.0.1:6379"] + $0.gatewayRedisFlags } ?? []
            _ = try await GatewayProcess.start(["--redis-cluster", "127.0.0.1:\(nodes[0].port)", "--admin-token", adminToken]
                                                   + transport + pools.flatMap { ["--pool", $0.name] },
                                               port: port, log: log, processes: processes)
            for pool in pools {
                let gateway = Gateway(port: port).pool(pool.name)
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
                    (try? await sendToRedis(pool.master.url, tls: tls, ["ZCARD", "vmreserve:{\(pool.name)}:waiters"]))?.first?.int == 1
                }
                let bobs = try await gateway.call(.GET, "/v1/vms/mine", token: bob)
                let first = try #require((bobs.json?["data"] as? [[String: Any]])?.first?["vm_id"] as? String)
                #expect(try await gateway.call(.POST, "/v1/checkins", token: bob, body: #"{"vm_id": "\#(first)"}"#).status == 200)
                #expect(try await waiting.status == 201)
                #expect(try await gateway.call(.GET, "/v1/admin/pool").data?["total"] as? Int == 3)
                // the pool's keys are on its master, and on no other
                let count = try await sendToRedis(pool.master.url, tls: tls, ["HGET", "vmreserve:{\(pool.name)}:pool", "vm_count"]).first?.string
                #expect(count == "3", "\(pool.name) on \(pool.master.port)")
                #expect(try await poolInconsistencies(at: pool.master.url, pool: pool.name, tls: tls) == [], "\(pool.name)")
                for other in nodes where other.port != pool.master.port {
                    #expect(try await Self.redirection(other.url, "vmreserve:{\(pool.name)}:pool", tls: tls) == "MOVED", "\(other.port), \(pool.name)")
                }
            }
        }
    }

    /// `vmreserve move-pool` (5 keys per MIGRATE, so that the pool is half moved for a while)
    /// while two gateways serve the pool under load: no script runs on a half-moved pool (Redis
    /// answers TRYAGAIN, and the gateways retry), every request is
    /// answered (a client retries what a gateway answered 503, as any client would), no VM ever
    /// has two holders, and the pool ends on the other master, consistent, and serving.
    @Test func aPoolMovedToAnotherMasterUnderLoadLosesNothing() async throws {
        try await withTestProcesses { processes in
            let nodes = try await processes.redisCluster()
            let pool = "movable", keys = PoolKeys(pool: "movable")
            let source = try await clusterMaster(of: keys.prefix, among: nodes)
            let target = try #require(nodes.first { $0.port != source.port })
            var started: [Gateway] = []
            for node in nodes.prefix(2) {
                let port = try freeLoopbackPort()
                let log = try processes.temporaryDirectory("moving-gateway").appending(path: "log")
                _ = try await GatewayProcess.start(["--redis-cluster", "127.0.0.1:\(node.port)", "--pool", pool, "--admin-token", adminToken],
                                                   port: port, log: log, processes: processes)
                started.append(Gateway(port: port))
            }
            let gateways = started
            let vms = 30, clients = 10, cycles = 40  // at least
            try await gateways[0].createVMs(vms)
            var created: [String] = []
            for index in 0..<clients { created.append(try await gateways[index % 2].createUser("user\(index)", quota: 1)) }
            let tokens = created
            let holders = Findings(), violations = Findings(), retried = Findings()
            let held = Holders(), done = Holders(), moved = Holders()
            try await withThrowingTaskGroup { group in
                for (index, token) in tokens.enumerated() {
                    group.addTask {
                        /// A request, again while a gateway answers 503 (the move took longer than its deadline)
                        func call(_ gateway: Gateway, _ method: HTTPMethod, _ path: String, body: String? = nil) async throws -> APIResponse {
                            while true {
                                let answer = try await gateway.call(method, path, token: token, body: body)
                                guard answer.status == 503, answer.code == "store_unavailable" else { return answer }
                                retried.add(["\(path)"])
                                try await Task.sleep(for: .milliseconds(50))
                            }
                        }
                        // (on until the move has ended too, so that it always meets requests)
                        var cycle = 0
                        while cycle < cycles || moved.count == 0 {
                            defer { cycle += 1 }
                            let gateway = gateways[(index + cycle) % 2]
                            let checkout = try await call(gateway, .POST, "/v1/checkouts")
                            guard checkout.status == 201, let id = checkout["vm_id"] else {
                                violations.add(["checkout: \(checkout.status) \(checkout.text)"])
                                continue
                            }
                            if let other = held.take(id, by: "client \(index)") {
                                holders.add(["\(id) held by client \(index) and \(other)"])
                            }
                            // held a while, and recorded until just before its checkin is sent
                            try await Task.sleep(for: .milliseconds(Int.random(in: 0...20)))
                            held.release(id)
                            let checkin = try await call(gateways[(index + cycle + 1) % 2], .POST, "/v1/checkins", body: #"{"vm_id": "\#(id)"}"#)
                            if checkin.status != 200 { violations.add(["checkin: \(checkin.status) \(checkin.text)"]) }
                            _ = done.take("cycle \(index) \(cycle)", by: "")
                        }
                    }
                }
                group.addTask {
                    try await waitUntil("the load is under way") { done.count >= clients * cycles / 4 }
                    let log = try processes.temporaryDirectory("move").appending(path: "log")
                    let move = try processes.start([GatewayProcess.executable, "move-pool", "--redis-cluster", "127.0.0.1:\(nodes[2].port)",
                                                    "--pool", pool, "--to", "localhost:\(target.port)", "--batch", "5"], output: .file(log))
                    let status = await move.waitForExit()
                    _ = moved.take("move", by: "done")
                    let output = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
                    #expect(status == 0 && output.contains("moved pool movable"), "\(output)")
                    print(output)
                }
                try await group.waitForAll()
            }
            #expect(violations.all.isEmpty, "\(violations.all.prefix(5))")
            #expect(holders.all.isEmpty, "\(holders.all.prefix(5))")
            print("moved under load: \(retried.all.count) requests answered 503 and retried")
            // on the target now, consistent, and every VM back
            #expect(try await sendToRedis(target.url, ["HGET", keys.prefix + ":pool", "count:available"]).first?.string == String(vms))
            // the move met requests: Redis answered them TRYAGAIN while the slot moved, and they were retried
            var tryAgain = 0
            for node in [source, target] {
                let stats = try await sendToRedis(node.url, ["INFO", "errorstats"]).first?.string ?? ""
                tryAgain += Int(stats.split(separator: "errorstat_TRYAGAIN:count=").dropFirst().first?.prefix { $0.isNumber } ?? "0") ?? 0
            }
            #expect(tryAgain > 0, "no request met the move")
            #expect(try await Self.redirection(source.url, keys.prefix + ":pool") == "MOVED", "the source let the slot go")
            try await withRedisClient(.test(target.url, connectionCount: 1)) { redis async throws in
                #expect(try await poolInconsistencies(redis, prefix: keys.prefix).isEmpty)
            }
            for gateway in gateways {
                let checkout = try await gateway.call(.POST, "/v1/checkouts", token: tokens[0])
                #expect(checkout.status == 201, "\(checkout.text)")
                if let id = checkout["vm_id"] {
                    #expect(try await gateway.call(.POST, "/v1/checkins", token: tokens[0], body: #"{"vm_id": "\#(id)"}"#).status == 200)
                }
            }
        }
    }
}

extension ClusterGatewayTests {
    /// The code of the error a cluster node answers a read of `key` with (`MOVED`, `ASK`...), nil
    /// when it answers it: only Redis' own answer counts, not any error (a refused connection
    /// fails the test instead).
    static func redirection(_ url: RedisURL, _ key: String, tls: RedisTLS? = nil) async throws -> String? {
        do {
            _ = try await sendToRedis(url, tls: tls, ["EXISTS", key])
            return nil
        } catch let error as RedisError where error.kind == .server {
            return error.prefix
        }
    }
}

/// Who holds what, as a test's clients see it.
final class Holders: Sendable {
    private let map = Mutex<[String: String]>([:])

    /// Records `holder` for `key`; answers the previous holder, if any.
    func take(_ key: String, by holder: String) -> String? { map.withLock { $0.updateValue(holder, forKey: key) } }
    func release(_ key: String) { map.withLock { _ = $0.removeValue(forKey: key) } }
    var count: Int { map.withLock { $0.count } }
}
