import Foundation
import GatewayTestSupport
import RedisClient
import RedisServerProcess
import Reservations
import Testing
import TestSupport

#if canImport(Glibc)
import Glibc
#endif

/// A `vmreserve serve` process killed (SIGKILL) while its client's group waits with VMs set aside
/// for it: nothing is lost. Its claim on the wait is no longer renewed, and when it runs out the
/// other gateway's reaper ends the wait and the set-aside VMs go on to the next waiter.
@Suite(.timeLimit(.minutes(10))) struct GroupWaitCrashTests {
    static func queueLength(_ redis: RedisClient, _ pool: String) async throws -> Int {
        try await redis.send(.init("ZCARD", ["\(PoolKeys(pool: pool).prefix):waiters"])).int ?? -1
    }

    @Test func aGatewayKilledWhileItsClientsGroupWaitsLosesNothing() async throws {
        try await withTestProcesses { processes in
            let pool = "group-crash-\(UUID().uuidString)", redis = try await SharedRedis.url()
            let directory = try processes.temporaryDirectory("group-crash")
            let common = ["--redis-url", redis.description, "--pool", pool, "--admin-token", adminToken, "--log-level", "warning",
                          "--max-wait", "3600"]  // (no wait here is meant to end: a slow machine must not end it)
            let doomedPort = try freeLoopbackPort(), survivorPort = try freeLoopbackPort()
            // (the doomed gateway's claim is shorter than the default 30 s, so that the test waits less
            // for it, and long enough that a loaded machine still renews it in time while it lives)
            let doomed = try await GatewayProcess.start(common + ["--wait-claim", "10"], port: doomedPort,
                                                        log: directory.appending(path: "doomed.log"), processes: processes)
            _ = try await GatewayProcess.start(common, port: survivorPort, log: directory.appending(path: "survivor.log"),
                                               processes: processes)
            let survivor = Gateway(port: survivorPort)
            let ids = try await survivor.createVMs(3).compactMap { $0["vm_id"] as? String }
            let holder = try await survivor.createUser("holder", quota: 3)
            let alice = try await survivor.createUser("alice", quota: 3)
            let bob = try await survivor.createUser("bob", quota: 1)
            #expect(try await survivor.call(.POST, "/v1/reservations", token: holder, body: #"{"count": 3}"#).status == 201)
            try await withRedisClient(.test(redis, connectionCount: 1)) { client async throws in
                let waiting = Task { try? await Gateway(port: doomedPort).call(.POST, "/v1/reservations?wait=3600", token: alice,
                                                                               body: #"{"count": 3}"#) }
                try await waitUntil("alice's group is queued") { (try? await Self.queueLength(client, pool)) == 1 }
                async let bobs = survivor.call(.POST, "/v1/checkouts?wait=3600", token: bob)
                try await waitUntil("bob is queued behind it") { (try? await Self.queueLength(client, pool)) == 2 }
                for id in ids.prefix(2) {
                    #expect(try await survivor.call(.POST, "/v1/checkins", token: holder, body: #"{"vm_id": "\#(id)"}"#).status == 200)
                }
                for id in ids.prefix(2) { #expect(try await survivor.call(.GET, "/v1/vms/\(id)")["status"] == "set-aside") }

                doomed.signal(SIGKILL)
                _ = await doomed.waitForExit()
                _ = await waiting.value
                // its claim runs out (10 s after its last renewal); the survivor's reaper ends the wait
                let served = try await bobs
                #expect(served.status == 201 && ids.prefix(2).contains(served["vm_id"] ?? ""), "\(served.text)")
                let statuses = try await ids.asyncMap { try await survivor.call(.GET, "/v1/vms/\($0)")["status"] }
                #expect(statuses.filter { $0 == "checked-out" }.count == 2 && statuses.filter { $0 == "available" }.count == 1,
                        "bob's, the holder's third, and the other set-aside VM back in the pool: \(statuses)")
                #expect(try await survivor.call(.GET, "/v1/vms/mine", token: alice).items?.isEmpty == true)
                let history = try await survivor.call(.GET, "/v1/admin/events?user=alice")
                let events = history.data?["items"] as? [[String: Any]] ?? []
                #expect(events.filter { $0["action"] as? String == "set_aside_returned" }.count == 2,
                        "both set-aside VMs went back: \(history.text)")
                #expect(try await Self.queueLength(client, pool) == 0)
                #expect(try await poolInconsistencies(client, prefix: PoolKeys(pool: pool).prefix) == [])
            }
        }
    }
}

extension Array where Element: Sendable {
    /// `transform` of each element, in order, one after another.
    func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var out: [T] = []
        for element in self { out.append(try await transform(element)) }
        return out
    }
}
