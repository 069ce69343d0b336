import Foundation
import GatewayTestSupport
import Processes
import RedisClient
import RedisServerProcess
import Testing
import TestSupport

/// Several pools served by several `vmreserve serve` processes at once.
@Suite(.timeLimit(.minutes(20))) struct SeveralPoolsOnProcessesTests {
    /// Three `vmreserve serve` processes, each serving the pools red and blue, and clients of
    /// both pools at once (with the same user names in each): no VM has two holders, no quota is
    /// exceeded, and no client is ever handed a VM of the other pool.
    @Test func clientsOfTwoPoolsOnThreeGatewayProcessesStayInTheirPool() async throws {
        try await withTestProcesses { processes in
            let red = "red-\(UUID().uuidString)", blue = "blue-\(UUID().uuidString)"
            let redis = try await SharedRedis.url()
            let directory = try processes.temporaryDirectory("several-pools")
            var servers: [Gateway] = []
            for index in 0..<3 {
                let port = try freeLoopbackPort()
                // the third takes its pools from the environment
                let (arguments, environment) = index == 2
                    ? ([String](), ["VMRESERVE_POOL": "\(red),\(blue)"])
                    : (["--pool", red, "--pool", blue], [:])
                _ = try await GatewayProcess.start(["--redis-url", redis.description, "--admin-token", adminToken, "--log-level", "warning"]
                                                       + arguments,
                                                   environment: environment, port: port,
                                                   log: directory.appending(path: "gateway\(index).log"), processes: processes)
                servers.append(Gateway(port: port))
            }
            let vmCount = 16, clients = 24, quota = 2
            try await withThrowingTaskGroup { group in
                for pool in [red, blue] {
                    // red is every gateway's first pool: its clients use both of its routes
                    let gateways = pool == red ? servers + servers.map { $0.pool(red) } : servers.map { $0.pool(blue) }
                    let ids = Set(try await gateways[0].createVMs(vmCount).compactMap { $0["vm_id"] as? String })
                    var tokens: [String] = []
                    for index in 0..<clients { tokens.append(try await gateways[index % 3].createUser("user\(index)", quota: quota)) }
                    let tokensOfPool = tokens
                    group.addTask {
                        let ledger = ClientLedger(), goal = WorkGoal(300)
                        try await withThrowingTaskGroup { clientsOfPool in
                            for (index, token) in tokensOfPool.enumerated() {
                                clientsOfPool.addTask {
                                    try await checkoutCycle(as: "user\(index)", token: token, quota: quota,
                                                                            gateways: gateways, until: goal, ledger: ledger)
                                }
                            }
                            try await clientsOfPool.waitForAll()
                        }
                        let state = ledger.state.withLock { $0 }
                        #expect(state.violations.isEmpty, "\(pool): \(state.violations.prefix(5))")
                        #expect(state.checkouts >= goal.target)
                        #expect(Set(state.refusals.keys).isSubset(of: [429, 503]), "\(state.refusals)")
                        #expect(Set(state.idOfIP.values).isSubset(of: ids), "\(pool) handed a VM of another pool")
                        let counts = try await gateways[1].call(.GET, "/v1/admin/pool").data
                        #expect(counts?["total"] as? Int == vmCount)
                        #expect((counts?["counts"] as? [String: Int])?["available"] == vmCount)
                    }
                }
                try await group.waitForAll()
            }
        }
    }
}
