import Foundation
import RedisClient
import Reservations
import Testing
import TestSupport

/// The codes scripts fail with (lua/README.md).
private let codes: Set<String> = [
    "UNAUTHORIZED", "FORBIDDEN", "QUOTA_EXCEEDED", "NO_VM_AVAILABLE", "MAX_VM_COUNT", "VM_NOT_FOUND",
    "USER_NOT_FOUND", "INVALID_STATE", "BAD_REQUEST", "RESERVATION_NOT_FOUND",
]

/// Scripts only an admin may run.
private let adminOnlyScripts: [Script] = [
    .createVMs, .deleteVM, .listVMs, .poolStats, .setPool, .createUser, .getUser, .listUsers,
    .updateUser, .deleteUser, .rotateToken,
]

/// Every script at once (lua/*.lua): identities, admin-only scripts, the pool's keys, Redis errors, expired leases and the history.
@Suite struct EveryScriptTests: ScriptSuite {
    /// The scripts the gateway runs on its own behalf (start-up, the lease reaper, the pool keeper) take no identity.
    static let gatewayScripts: Set<Script> = [.initPool, .reapLeases, .maintainPool, .takeJob, .extendJob, .finishJob]

    /// The events after the first `skip`, without their ids, for comparison.
    private func events(_ pool: ScriptPool, after skip: Int) async throws -> [[String: String]] {
        Array(try await pool.events().dropFirst(skip)).map { $0.filter { $0.key != "id" } }
    }

    @Test(arguments: Script.allCases.filter { !gatewayScripts.contains($0) })
    func everyCallersScriptRejectsMissingUnknownAndRevokedIdentities(script: Script) async throws {
        try await withScriptPool { pool async throws in
            try await pool.seed(cap: 10)
            try await pool.addVMs(1...2)
            let user = try await pool.addUser("alice", quota: 1)
            _ = try await pool.checkout(user)
            let revoked = try await pool.addUser("gone")
            _ = try await pool.run(.deleteUser, [admin, "gone"])
            let arguments = ["1", "vm-00001", "11.0.0.1", "1"]
            for identity in ["", "p:", "t:", "t:" + newTokenHash(), "x:admin", "admin", "P:admin", "T" + user.dropFirst(), revoked] {
                try await pool.expectFailure(script, [identity] + arguments, code: "UNAUTHORIZED")
            }
        }
    }

    @Test(arguments: adminOnlyScripts)
    func adminScriptsAreForbiddenToUsers(script: Script) async throws {
        try await withScriptPool { pool async throws in
            try await pool.seed(cap: 10)
            try await pool.addVMs(1...2)
            let user = try await pool.addUser("alice", quota: 1)
            _ = try await pool.checkout(user)
            try await pool.expectFailure(script, [user, "1", "vm-00002", "11.0.0.2", "1"], code: "FORBIDDEN")
        }
    }

    @Test(arguments: Script.allCases)
    func everyScriptRejectsOtherKeys(script: Script) async throws {
        try await withScriptPool { pool async throws in
            try await pool.seed(cap: 10)
            let other = PoolKeys(pool: "other").declared
            for keys in [Array(pool.keys.declared.dropLast()), pool.keys.declared + [pool.key("extra")],
                         [pool.keys.declared[0], other[1]], [pool.key("pool:x"), pool.key("vm:")], [other[1], other[0]]] {
                let before = try await pool.dump()
                let error = await #expect(throws: RedisError.self) {
                    try await pool.client.call(function: script.functionName, keys: keys, arguments: [admin, "1"])
                }
                #expect(error?.prefix == "BAD_REQUEST")
                #expect(error?.message == "expected the pool's keys P:pool and P:vm:")
                #expect(try await pool.dump() == before)
            }
        }
    }

    @Test func redisCommandErrorsInsideAScriptAreNotPassedOffAsCodes() async throws {
        try await withScriptPool { pool async throws in
            try await pool.command("SET", pool.key("pool"), "not a hash")
            let error = await #expect(throws: RedisError.self) { try await pool.run(.poolStats, [admin]) }
            // Redis 7.0 reports it as "ERR WRONGTYPE …"; what matters is that it is no script code
            #expect(error?.kind == .server)
            #expect(error.map { !codes.contains($0.prefix) } == true)
            #expect(error?.message.contains("WRONGTYPE") == true, "\(String(describing: error))")
        }
    }

    /// Every script that shows or changes reservations sees an expired lease as returned, without
    /// waiting for a checkout to reclaim it.
    @Test(arguments: [
        Script.listMine, .getVM, .checkin, .deleteVM, .getUser, .updateUser, .deleteUser, .listUsers, .listVMs,
        .poolStats, .setPool,
    ])
    func anExpiredLeaseIsReturnedBeforeAnyScriptAnswers(_ script: Script) async throws {
        try await withScriptPool { pool async throws in
            try await pool.seed(cap: 5)
            try await pool.addVMs(1...2)
            let alice = try await pool.addUser("alice", quota: 2)
            let expired = try await pool.checkout(alice, lease: "3600")
            let live = try await pool.checkout(alice, lease: "3600")
            try await pool.command("ZADD", pool.key("leases"), "XX", "1", expired)
            let argumentsOf: [Script: [String]] = [
                .listMine: [alice], .getVM: [admin, expired], .checkin: [alice, expired, ""],
                .deleteVM: [admin, expired, ""], .getUser: [admin, "alice"], .updateUser: [admin, "alice", "1", ""],
                .deleteUser: [admin, "alice"], .listUsers: [admin], .listVMs: [admin, "checked-out", "", "10"],
                .poolStats: [admin], .setPool: [admin, "5"],
            ]
            let arguments = try #require(argumentsOf[script])
            switch script {
            case .checkin:  // no longer hers to check in
                try await pool.expectFailure(.checkin, arguments, code: "FORBIDDEN", changesState: true)
            case .deleteUser:  // she still holds the live one
                try await pool.expectFailure(.deleteUser, arguments, code: "INVALID_STATE",
                                             message: "user alice holds 1 VMs; check them in first", changesState: true)
            default:
                let reply = try await pool.run(script, arguments)
                switch script {
                case .listMine: #expect(reply.array?.map { fields($0)["vm_id"] } == [live])
                case .getVM: #expect(fields(reply)["status"] == "available")
                case .deleteVM: #expect(fields(reply)["vm_id"] == expired)
                case .getUser: #expect(fields(reply.array?[0] ?? .null)["held"] == "1")
                case .updateUser: #expect(fields(reply)["quota"] == "1")
                case .listUsers: #expect(reply.array?.map { fields($0)["held"] } == ["1"])
                case .listVMs: #expect(reply.array?.dropFirst().map { fields($0)["vm_id"] } == [live])
                default: #expect(reply == poolStatsReply([5, 2, 0, 1, 1, 0, 0]))
                }
            }
            #expect(try await pool.members("held:alice") == [live])
            #expect(try await pool.zmembers("leases") == [live])
            #expect(try await pool.vmIDs(status: "checked-out") == [live])
        }
    }

    @Test func everyStateChangeRecordsWhoWhatAndTheOutcome() async throws {
        try await withScriptPool { pool async throws in
            try await pool.seed(cap: 5)
            #expect(try await events(pool, after: 0) == [["action": "set_cap", "actor": "system", "detail": "max_vm_count 5 (first start)"]])
            let (id, ip) = try await pool.addVMs(1...1)[0]
            let alice = try await pool.addUser("alice", quota: 1)
            _ = try await pool.run(.checkout, [alice, "5", "60"] + gatewayLeases)
            _ = try await pool.run(.renew, [alice, id, "120"] + gatewayLeases)
            _ = try await pool.run(.checkin, [alice, id, ""])
            _ = try await pool.run(.updateUser, [ScriptPool.admin, "alice", "2", "", "600"])
            _ = try await pool.run(.rotateToken, [ScriptPool.admin, "alice", newTokenHash()])
            _ = try await pool.run(.deleteUser, [ScriptPool.admin, "alice"])
            _ = try await pool.run(.deleteVM, [ScriptPool.admin, id, ""])
            _ = try await pool.run(.setPool, [ScriptPool.admin, "9"])
            let recorded = try await events(pool, after: 1)
            #expect(recorded == [
                ["action": "create", "actor": "admin", "vm_id": id, "ip": ip, "status": "available"],
                ["action": "user_create", "actor": "admin", "user": "alice", "detail": "role user, quota 1"],
                ["action": "checkout", "actor": "alice", "vm_id": id, "ip": ip, "user": "alice", "status": "checked-out",
                 "detail": "lease 60 s"],
                ["action": "renew", "actor": "alice", "vm_id": id, "ip": ip, "user": "alice", "status": "checked-out",
                 "detail": "lease 120 s"],
                ["action": "checkin", "actor": "alice", "vm_id": id, "ip": ip, "user": "alice", "status": "available"],
                ["action": "user_update", "actor": "admin", "user": "alice", "detail": "quota 2, max_lease 600"],
                ["action": "token_rotate", "actor": "admin", "user": "alice"],
                ["action": "user_delete", "actor": "admin", "user": "alice"],
                ["action": "delete", "actor": "admin", "vm_id": id, "ip": ip, "status": "deleted"],
                ["action": "set_cap", "actor": "admin", "detail": "max_vm_count 9"],
            ])
            // ids are Redis' time in ms, in order
            let ids: [[Int]] = try await pool.events().compactMap { $0["id"]?.split(separator: "-").compactMap { Int($0) } }
            #expect(ids == ids.sorted { $0.lexicographicallyPrecedes($1) })
        }
    }

    @Test func aLeaseThatRunsOutIsRecordedOnceByTheSystemWhoeverNoticesIt() async throws {
        try await withScriptPool { pool async throws in
            try await pool.seed(cap: 5)
            let (id, ip) = try await pool.addVMs(1...1)[0]
            let alice = try await pool.addUser("alice", quota: 1)
            _ = try await pool.checkout(alice, lease: "3600")
            try await pool.command("ZADD", pool.key("leases"), "XX", "1", id)
            let before = try await pool.events().count
            _ = try await pool.run(.reapLeases, ["10"])
            _ = try await pool.run(.reapLeases, ["10"])
            _ = try await pool.run(.listMine, [alice])
            #expect(try await events(pool, after: before) == [
                ["action": "lease_expired", "actor": "system", "vm_id": id, "ip": ip, "user": "alice", "status": "available"],
            ])
        }
    }

    @Test func aRefusedRequestRecordsNothing() async throws {
        try await withScriptPool { pool async throws in
            try await pool.seed(cap: 1)
            try await pool.addVMs(1...1)
            let alice = try await pool.addUser("alice", quota: 0)
            // expectFailure checks that every key, the history included, is unchanged
            try await pool.expectFailure(.checkout, [alice, "5", ""] + gatewayLeases, code: "QUOTA_EXCEEDED")
            try await pool.expectFailure(.createVMs, [ScriptPool.admin, "1", "", "", "", "", "vm-9", "11.9.9.9"], code: "MAX_VM_COUNT")
            try await pool.expectFailure(.checkin, [alice, "vm-00001", ""], code: "FORBIDDEN")
            try await pool.expectFailure(.updateUser, [ScriptPool.admin, "nobody", "1", "", ""], code: "USER_NOT_FOUND")
        }
    }
}
