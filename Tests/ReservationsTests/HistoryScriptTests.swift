import RedisClient
import Reservations
import Testing
import TestSupport

/// The history: each state change appends its event in the script that makes it; a refused
/// request appends none; list_events.lua pages through it.
@Suite struct HistoryScriptTests {
    /// The events after the first `skip`, without their ids, for comparison.
    private func events(_ pool: ScriptPool, after skip: Int) async throws -> [[String: String]] {
        Array(try await pool.events().dropFirst(skip)).map { $0.filter { $0.key != "id" } }
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
            _ = try await pool.checkout(alice, lease: "60")
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

    @Test func listEventsPagesFiltersAndKeepsUsersToTheirOwn() async throws {
        try await withScriptPool { pool async throws in
            try await pool.seed(cap: 10)
            let vms = try await pool.addVMs(1...2)
            let alice = try await pool.addUser("alice", quota: 2)
            let bob = try await pool.addUser("bob", quota: 2)
            for _ in 0..<3 {
                let id = try await pool.checkout(alice)
                _ = try await pool.run(.checkin, [alice, id, ""])
            }
            let bobs = try await pool.checkout(bob)
            let all = try await pool.events()
            let expected = 1 + 2 + 2 + 6 + 1  // the cap, two VMs, two users, three cycles, bob's checkout
            #expect(all.count == expected)

            // admins: everything, in pages that follow each other
            var seen: [String] = [], cursor = ""
            repeat {
                let page = try await pool.run(.listEvents, [ScriptPool.admin, "all", "", "", "", cursor, "5"]).array ?? []
                cursor = page.first?.string ?? ""
                seen += page.dropFirst().compactMap { fields($0)["id"] }
            } while !cursor.isEmpty
            #expect(seen == all.compactMap { $0["id"] })

            // filters, and since
            let byBob = try await pool.run(.listEvents, [ScriptPool.admin, "all", "", "bob", "", "", "100"]).array ?? []
            #expect(byBob.dropFirst().map { fields($0)["action"] } == ["user_create", "checkout"])
            let byVM = try await pool.run(.listEvents, [ScriptPool.admin, "all", vms[0].id, "", "", "", "100"]).array ?? []
            #expect(byVM.dropFirst().allSatisfy { fields($0)["vm_id"] == vms[0].id })
            let last = try #require(all.last?["id"]?.split(separator: "-").first.map(String.init))
            let recent = try await pool.run(.listEvents, [ScriptPool.admin, "all", "", "", last, "", "100"]).array ?? []
            #expect(recent.dropFirst().compactMap { fields($0)["id"] }.contains(all.last!["id"]!))
            // a time far ahead (found by schemathesis: Lua wrote 1e14 ms and more as "1e+14", no stream id)
            for future in ["100000000000000", "253402300799999"] {
                let none = try await pool.run(.listEvents, [ScriptPool.admin, "all", "", "", future, "", "100"]).array ?? []
                #expect(none.count == 1, "no event yet at \(future)")
            }

            // a user: only what concerns them, whatever they ask for
            let mine = try await pool.run(.listEvents, [bob, "mine", "", "alice", "", "", "100"]).array ?? []
            #expect(mine.dropFirst().map { fields($0)["action"] } == ["user_create", "checkout"])
            #expect(mine.dropFirst().allSatisfy { fields($0)["user"] == "bob" })
            #expect(fields(mine.last!)["vm_id"] == bobs)
            try await pool.expectFailure(.listEvents, [bob, "all", "", "", "", "", "100"], code: "FORBIDDEN")
            for bad in [["x", "", "", "", "", "10"], ["all", "", "", "soon", "", "10"], ["all", "", "", "", "zzz", "10"], ["all", "", "", "", "99999999999999999999-0", "10"],
                        ["all", "", "", "", "", "0"], ["all", "", "", "", "", "1001"]] {
                try await pool.expectFailure(.listEvents, [ScriptPool.admin] + bad, code: "BAD_REQUEST")
            }
        }
    }
}
