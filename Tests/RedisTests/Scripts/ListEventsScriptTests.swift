import RedisClient
import Reservations
import Testing
import TestSupport

/// lua/list_events.lua: one page of the history, filtered, users seeing only their own.
@Suite struct ListEventsScriptTests {
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
