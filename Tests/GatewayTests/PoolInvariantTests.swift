import Foundation
import GatewayTestSupport
import RedisClient
import Reservations
import Synchronization
import Testing
import TestSupport

/// The pool's keys stay true to each other (`poolInconsistencies`: the available sets hold
/// exactly the VMs whose status is available, each held set exactly the VMs whose `user` names
/// its owner, and the counts, leases and addresses agree) while 40 clients on three gateways
/// check out, check in, let leases end, create and delete VMs at once: checked in atomic reads
/// during every burst and after it.
@Suite(.timeLimit(.minutes(10))) struct PoolInvariantTests {
    /// Set when a burst's clients are done.
    final class Flag: Sendable {
        private let raised = Mutex(false)
        func raise() { raised.withLock { $0 = true } }
        var isRaised: Bool { raised.withLock { $0 } }
    }

    @Test func checkoutsCheckinsLeaseEndsDeletesAndCreatesFrom40ClientsOn3GatewaysKeepThePoolsKeysTrue() async throws {
        let pool = "invariants-\(UUID().uuidString)", userCount = 34, adminCount = 6, bursts = 4
        try await withGateways(3, pool: pool, configure: { $0.maxVMCount = 60 }) { gateways in
            try await gateways[0].createVMs(24)
            #expect(try await gateways[1].call(.POST, "/v1/admin/vms", body: #"{"count": 8, "size": "large"}"#).status == 201)
            var users: [(name: String, token: String)] = []
            for index in 0..<userCount {
                let name = "user\(index)", gateway = gateways[index % 3]
                users.append((name, try await gateway.createUser(name, quota: 3)))
                if index % 3 == 0 {  // a third with a quota per size: its counts are kept by the scripts
                    let patched = try await gateway.call(.PATCH, "/v1/admin/users/\(name)", body: #"{"size_quotas": {"large": 1}}"#)
                    try #require(patched.status == 200, "\(patched.text)")
                }
            }
            let clients = users
            try await withRedisClient(.test(try await SharedRedis.url(), connectionCount: 1)) { redis in
                let prefix = PoolKeys(pool: pool).prefix
                for burst in 0..<bursts {
                    let findings = Findings(), done = Flag()
                    try await withThrowingTaskGroup { group in
                        group.addTask {
                            try await withThrowingTaskGroup { clientGroup in
                                for (index, user) in clients.enumerated() {
                                    clientGroup.addTask { try await Self.userBurst(user.token, gateway: gateways[index % 3], findings: findings) }
                                }
                                for index in 0..<adminCount {
                                    clientGroup.addTask { try await Self.adminBurst(gateway: gateways[index % 3], findings: findings) }
                                }
                                try await clientGroup.waitForAll()
                            }
                            done.raise()
                        }
                        group.addTask {  // meanwhile, the whole pool read again and again in single atomic steps
                            var checks = 0
                            while !done.isRaised || checks == 0 {
                                findings.add(try await poolInconsistencies(redis, prefix: prefix).map { "during burst \(burst): " + $0 })
                                checks += 1
                            }
                        }
                        try await group.waitForAll()
                    }
                    #expect(findings.all.isEmpty, "\(findings.all.prefix(10))")
                    #expect(try await poolInconsistencies(redis, prefix: prefix) == [], "after burst \(burst)")
                }
                // the changes the bursts were to make all happened
                let actions = Set(try await Self.actions(of: redis, prefix: prefix))
                #expect(actions.isSuperset(of: ["checkout", "checkin", "lease_expired", "delete", "create"]), "\(actions)")
            }
        }
    }

    /// A user's part of a burst: checkouts of any size, small or large, with no lease or one of
    /// one or two seconds (which the reapers end), and checkins of what they hold.
    static func userBurst(_ token: String, gateway: Gateway, findings: Findings) async throws {
        var held: [String] = []
        for _ in 0..<8 {
            if !held.isEmpty && Bool.random() {
                let id = held.removeFirst()
                let answer = try await gateway.call(.POST, "/v1/checkins", token: token, body: #"{"vm_id": "\#(id)"}"#)
                // its lease ended meanwhile, and the VM went on to someone else (403), is back in
                // the pool (409), or was deleted from there by an admin (404)
                if ![200, 403, 404, 409].contains(answer.status) { findings.add(["checkin \(answer.status): \(answer.text)"]) }
            } else {
                let size = ["", #", "size": "small""#, #", "size": "large""#].randomElement()!
                let lease = [#""lease_seconds": 1"#, #""lease_seconds": 2"#, #""lease_seconds": 600"#].randomElement()!
                let answer = try await gateway.call(.POST, "/v1/checkouts", token: token, body: "{\(lease)\(size)}")
                if answer.status == 201, let id = answer["vm_id"] {
                    held.append(id)
                } else if ![429, 503].contains(answer.status) {
                    findings.add(["checkout \(answer.status): \(answer.text)"])
                }
            }
            try await Task.sleep(for: .milliseconds(Int.random(in: 0...250)))
        }
    }

    /// An admin's part of a burst: creates VMs of either size under the cap, and deletes
    /// available ones (which a checkout may take first).
    static func adminBurst(gateway: Gateway, findings: Findings) async throws {
        for _ in 0..<5 {
            if Bool.random() {
                let size = Bool.random() ? "small" : "large"
                let answer = try await gateway.call(.POST, "/v1/admin/vms", body: #"{"count": \#(Int.random(in: 1...2)), "size": "\#(size)"}"#)
                if ![201, 409].contains(answer.status) { findings.add(["create \(answer.status): \(answer.text)"]) }
            } else if let id = try await gateway.call(.GET, "/v1/admin/vms?status=available&limit=5").json
                .flatMap({ ($0["data"] as? [String: Any])?["items"] as? [[String: Any]] })?.randomElement()?["vm_id"] as? String {
                let answer = try await gateway.call(.DELETE, "/v1/admin/vms/\(id)")
                // 409: checked out between the list and the delete; 404: another admin deleted it
                if ![200, 404, 409].contains(answer.status) { findings.add(["delete \(answer.status): \(answer.text)"]) }
            }
            try await Task.sleep(for: .milliseconds(Int.random(in: 0...250)))
        }
    }

    /// The actions of every event of the pool.
    static func actions(of redis: RedisClient, prefix: String) async throws -> [String] {
        let entries = try await redis.send(RedisCommand("XRANGE", [prefix + ":events", "-", "+"])).array ?? []
        return entries.compactMap { entry in
            let fields = entry.array?[1].array?.compactMap(\.string) ?? []
            return fields.firstIndex(of: "action").map { fields[$0 + 1] }
        }
    }
}
