import Foundation
import RedisClient
import Reservations
import Testing
import TestSupport

extension ScriptSuite {
    /// A wait no test means to see end (ms): a slow machine must not end it.
    static var anHour: Int { 3_600_000 }

    /// reserve.lua with a wait of an hour (a slow machine must not see it end) on gateway `gw1`,
    /// as ticket `ticket`, with a claim of an hour unless `claim` is given.
    func waitReserve(_ pool: ScriptPool, _ identity: String, _ groups: String, ticket: String, id: String, key: String = "",
                     claim: String = "3600000") -> [String] {
        reserve(pool, identity, groups, key: key, id: id) + [String(Self.anHour), "gw1", ticket, claim]
    }

    /// A pool of cap 10 with `count` VMs, all held by the principal `p:holder`: their ids.
    func busyPool(_ pool: ScriptPool, _ count: Int) async throws -> [String] {
        try await pool.seed(cap: 10)
        let ids = try await pool.addVMs(1...count).map(\.id)
        for _ in ids { _ = try await pool.checkout("p:holder", defaultQuota: 10) }
        return ids
    }

    /// `busyPool` of `count` VMs, then alice (quota 5) waiting for a group of `group` VMs (ticket
    /// t-group, reservation r-1, Idempotency-Key `key`), and bob (quota 5) waiting for one VM
    /// behind her (ticket t-bob): the VMs' ids and both identities.
    func groupAheadOfBob(_ pool: ScriptPool, vms count: Int, group: Int, key: String = "") async throws
        -> (ids: [String], alice: String, bob: String)
    {
        let ids = try await busyPool(pool, count)
        let alice = try await pool.addUser("alice", quota: 5)
        let bob = try await pool.addUser("bob", quota: 5)
        _ = try await pool.run(.reserve, waitReserve(pool, alice, ":\(group)", ticket: "t-group", id: "r-1", key: key))
        try await wait(pool, bob, ticket: "t-bob")
        return (ids, alice, bob)
    }

    /// The pool has no inconsistency (PoolConsistency.swift), set-aside VMs included.
    func expectConsistent(_ pool: ScriptPool) async throws {
        #expect(try await poolInconsistencies(pool.client, prefix: pool.keys.prefix) == [])
    }
}

/// Waiting reservations (reserve.lua with a wait, lib/group_waiters.lua, claim_reservation.lua,
/// hold_wait.lua, and what leave_queue.lua and reap_leases.lua do for them): one queue with
/// waiting checkouts, VMs set aside for the group at its head, and handed over all at once.
@Suite struct WaitingReservationScriptTests: ScriptSuite {
    @Test func freedVMsAreSetAsideForTheHeadGroupAndHandedOverTogether() async throws {
        try await withScriptPool { pool async throws in
            let ids = try await busyPool(pool, 3), holder = "p:holder"
            let alice = try await pool.addUser("alice", quota: 5)
            let bob = try await pool.addUser("bob", quota: 5)
            let queued = try await pool.run(.reserve, waitReserve(pool, alice, ":2", ticket: "t-group", id: "r-1"))
            #expect(queued == .array([.bulkString(Array("queued".utf8)), .bulkString(Array("t-group".utf8))]))
            #expect(try await pool.hash("waiting")["t-group"]?.hasSuffix(" =") == true)
            try await wait(pool, bob, ticket: "t-single")  // behind the group
            #expect(try await pool.zmembers("waiters") == ["t-group", "t-single"])

            _ = try await pool.run(.checkin, [holder, ids[0], ""])
            let aside = try await pool.vm(ids[0])
            #expect(aside["status"] == "set-aside" && aside["set_aside_for"] == "r-1" && aside["user"] == nil)
            #expect(try await pool.members("available:").isEmpty, "a set-aside VM is not available")
            #expect(try await pool.hash("set_aside:t-group") == [ids[0]: ""])
            #expect(try await handoffs(pool).isEmpty, "neither the group, half served, nor bob behind it is handed anything")
            let setAside = try #require(try await pool.events().last)
            #expect(setAside["action"] == "set_aside" && setAside["reservation_id"] == "r-1" && setAside["user"] == "alice")
            // nobody takes it: not a checkout, not a reservation without a wait
            try await pool.expectFailure(.checkout, ["p:late", "5", ""] + gatewayLeases, code: "NO_VM_AVAILABLE")
            try await pool.expectFailure(.reserve, reserve(pool, "p:late", ":1", id: "r-late"), code: "NO_VM_AVAILABLE")
            try await expectConsistent(pool)

            _ = try await pool.run(.checkin, [holder, ids[1], ""])
            #expect(try await handoffs(pool) == ["t-group r-1"])
            #expect(try await pool.hash("waiting")["t-group"] == "handed r-1")
            #expect(try await pool.zmembers("waiters") == ["t-single"])
            let handed = try ScriptReservation(try await pool.run(.getReservation, [alice, "r-1"]))
            #expect(Set(handed.vmIDs) == Set(ids[0...1]) && handed.fields["lease_seconds"] == "30", "a claim lease")
            #expect(handed.vms.allSatisfy { $0["status"] == "checked-out" && $0["user"] == "alice" && $0["set_aside_for"] == nil })
            #expect(try await pool.exists("set_aside:t-group") == false)
            #expect(try await pool.exists("waiting_group:t-group") == false)
            try await expectConsistent(pool)

            let claimed = try ScriptReservation(try await pool.run(.claimReservation, [alice, "t-group", "600", "", "604800", "", ""]))
            #expect(claimed.id == "r-1" && claimed.fields["lease_seconds"] == "600")
            #expect(claimed.vms.allSatisfy { $0["lease_seconds"] == "600" })
            #expect(try await pool.hash("waiting")["t-group"] == nil)
            try await pool.expectFailure(.claimReservation, [alice, "t-group", "", "", "604800", "", ""], code: "NO_VM_AVAILABLE")

            _ = try await pool.run(.checkin, [holder, ids[2], ""])  // the group is served: bob is next
            #expect(try await pool.vm(ids[2])["user"] == "bob")
            try await expectConsistent(pool)
        }
    }

    @Test func onlyVMsTheHeadGroupCannotUseGoToThoseBehindIt() async throws {
        try await withScriptPool { pool async throws in
            try await sizedPool(pool)  // s-1, s-2, l-1, l-2
            let taker = "p:taker"
            for _ in 0..<4 { _ = try await pool.checkout(taker, defaultQuota: 10) }
            let alice = try await pool.addUser("alice", quota: 5)
            let bob = try await pool.addUser("bob", quota: 5)
            _ = try await pool.run(.reserve, waitReserve(pool, alice, "large:2", ticket: "t-large", id: "r-large"))
            try await wait(pool, bob, ticket: "t-bob")
            _ = try await pool.run(.checkin, [taker, "l-1", ""])
            #expect(try await pool.vm("l-1")["status"] == "set-aside")
            _ = try await pool.run(.checkin, [taker, "s-1", ""])  // small: the group cannot use it
            #expect(try await pool.vm("s-1")["user"] == "bob")
            _ = try await pool.run(.checkin, [taker, "l-2", ""])
            #expect(try await handoffs(pool) == ["t-bob s-1", "t-large r-large"])
            try await expectConsistent(pool)
        }
    }

    @Test func waitingGroupsAreServedInArrivalOrder() async throws {
        try await withScriptPool { pool async throws in
            let ids = try await busyPool(pool, 4)
            let names = ["ann", "ben", "cat"]
            for name in names {
                let identity = try await pool.addUser(name, quota: 5)
                _ = try await pool.run(.reserve, waitReserve(pool, identity, name == "ben" ? ":1" : ":2", ticket: "t-\(name)", id: "r-\(name)"))
            }
            for id in ids { _ = try await pool.run(.checkin, ["p:holder", id, ""]) }
            // ann first (two), then ben (one), and cat's one set aside: ben, who needs less, did not pass ann
            #expect(try await handoffs(pool) == ["t-ann r-ann", "t-ben r-ben"])
            #expect(try await pool.hash("set_aside:t-cat").count == 1)
            try await expectConsistent(pool)
        }
    }

    @Test func aGroupThatStopsWaitingGivesItsVMsToTheNextWaiterAtOnce() async throws {
        try await withScriptPool { pool async throws in
            let (ids, alice, bob) = try await groupAheadOfBob(pool, vms: 2, group: 3, key: "k")
            for id in ids { _ = try await pool.run(.checkin, ["p:holder", id, ""]) }
            #expect(try await pool.hash("set_aside:t-group").count == 2)
            // someone else's ticket is not theirs to end
            #expect(try await pool.run(.leaveQueue, [bob, "t-group", "give back", "", ""]) == .array([.bulkString(Array("left".utf8))]))
            #expect(try await pool.hash("set_aside:t-group").count == 2)

            _ = try await pool.run(.leaveQueue, [alice, "t-group", "keep", "k", Self.window])
            #expect(try await handoffs(pool).count == 1, "one of the two went to bob at once")
            #expect(try await pool.members("available:").count == 1)
            #expect(try await pool.exists("user:alice:idem:k") == false, "a wait that ends without its group frees its key")
            let returned = try await pool.events().filter { $0["action"] == "set_aside_returned" }
            #expect(returned.count == 2 && returned.allSatisfy { $0["reservation_id"] == "r-1" && $0["user"] == "alice" })
            try await expectConsistent(pool)
        }
    }

    @Test func aGroupWhoseClaimRunsOutIsEndedByTheReaper() async throws {
        try await withScriptPool { pool async throws in
            let (ids, alice, bob) = try await groupAheadOfBob(pool, vms: 2, group: 3)
            _ = try await pool.run(.checkin, ["p:holder", ids[0], ""])
            #expect(try await pool.run(.holdWait, [alice, "t-group", "3600000"]) == .bulkString(Array("waiting".utf8)))
            #expect(try await pool.run(.holdWait, [bob, "t-group", "3600000"]) == .bulkString(Array("gone".utf8)), "not bob's")
            let renewed = try #require(Int(try await pool.command("ZSCORE", pool.key("wait_claims"), "t-group").string ?? ""))
            #expect(renewed >= (try await pool.now()) + 3_500_000)
            // its gateway died: nobody renews the claim, which ends (set in the past here)
            _ = try await pool.command("ZADD", pool.key("wait_claims"), "XX", "1", "t-group")
            let reaped = try #require(try await pool.run(.reapLeases, ["100"]).array)
            #expect(reaped.count == 3)
            #expect(try await pool.vm(ids[0])["user"] == "bob", "its set-aside VM went on to the next waiter")
            #expect(try await pool.zmembers("waiters").isEmpty)
            #expect(try await pool.hash("waiting")["t-group"] == nil)
            #expect(try await pool.run(.holdWait, [alice, "t-group", "3600000"]) == .bulkString(Array("gone".utf8)))
            try await expectConsistent(pool)
        }
    }

    @Test func theReaperSleepsNoLongerThanTheFirstClaim() async throws {
        try await withScriptPool { pool async throws in
            try await pool.seed(cap: 10)
            let alice = try await pool.addUser("alice", quota: 5)
            _ = try await pool.run(.reserve, waitReserve(pool, alice, ":1", ticket: "t-group", id: "r-1", claim: String(Self.anHour)))
            let claimEnd = try #require(Int(try await pool.command("ZSCORE", pool.key("wait_claims"), "t-group").string ?? ""))
            let reaped = try #require(try await pool.run(.reapLeases, ["100"]).array)
            #expect(reaped[1] == .integer(Int64(claimEnd)))
        }
    }

    @Test func aHandedGroupWhoseClientIsGoneOrUnclaimedGoesBackWhole() async throws {
        try await withScriptPool { pool async throws in
            let ids = try await busyPool(pool, 4)
            let alice = try await pool.addUser("alice", quota: 5)
            _ = try await pool.run(.reserve, waitReserve(pool, alice, ":2", ticket: "t-gone", id: "r-gone"))
            _ = try await pool.run(.reserve, waitReserve(pool, alice, ":2", ticket: "t-late", id: "r-late"))
            for id in ids { _ = try await pool.run(.checkin, ["p:holder", id, ""]) }
            #expect(try await handoffs(pool) == ["t-gone r-gone", "t-late r-late"])
            // the client of the first went away: its reservation goes back, every VM of it
            let left = try await pool.run(.leaveQueue, [alice, "t-gone", "give back", "", ""])
            #expect(left == .array([.bulkString(Array("returned".utf8)), .bulkString(Array("r-gone".utf8))]))
            #expect(try await pool.exists("reservation:r-gone") == false)
            #expect(try await pool.events().suffix(2).allSatisfy { $0["action"] == "abandoned" && $0["reservation_id"] == "r-gone" })
            // the second's gateway died before claiming: its claim lease ends, and all of it goes back
            for id in try await pool.members("reservation_vms:r-late") {
                _ = try await pool.command("ZADD", pool.key("leases"), "XX", "1", id)
            }
            _ = try await pool.run(.reapLeases, ["100"])
            #expect(try await pool.exists("reservation:r-late") == false)
            #expect(try await pool.members("available:").count == 4)
            try await pool.expectFailure(.claimReservation, [alice, "t-late", "", "", "604800", "", ""], code: "NO_VM_AVAILABLE")
            try await expectConsistent(pool)
        }
    }

    @Test func aGroupOverItsQuotaByTheTimeItIsCompleteIsAnsweredQuotaAndItsVMsMoveOn() async throws {
        try await withScriptPool { pool async throws in
            let ids = try await busyPool(pool, 2)
            let alice = try await pool.addUser("alice", quota: 2)
            let bob = try await pool.addUser("bob", quota: 5)
            // over the quota at once: refused, never queued
            try await pool.expectFailure(.reserve, waitReserve(pool, alice, ":3", ticket: "t-0", id: "r-0"), code: "QUOTA_EXCEEDED")
            _ = try await pool.run(.reserve, waitReserve(pool, alice, ":2", ticket: "t-group", id: "r-1"))
            try await wait(pool, bob, ticket: "t-bob")
            _ = try await pool.run(.checkin, ["p:holder", ids[0], ""])
            _ = try await pool.run(.updateUser, [ScriptPool.admin, "alice", "1", "", ""])  // meanwhile, a quota of 1
            _ = try await pool.run(.checkin, ["p:holder", ids[1], ""])
            #expect(try await handoffs(pool).prefix(1) == ["t-group QUOTA"])
            let holders = [try await pool.vm(ids[0])["user"], try await pool.vm(ids[1])["user"]]
            #expect(holders.contains("bob"))
            #expect(try await pool.members("held:alice").isEmpty)
            try await expectConsistent(pool)
        }
    }

    @Test func aWaitingReservationHoldsItsKeyUntilItIsClaimed() async throws {
        try await withScriptPool { pool async throws in
            let ids = try await busyPool(pool, 2)
            let alice = try await pool.addUser("alice", quota: 5)
            _ = try await pool.run(.reserve, waitReserve(pool, alice, ":2", ticket: "t-1", id: "r-1", key: "k"))
            try await pool.expectFailure(.reserve, waitReserve(pool, alice, ":2", ticket: "t-2", id: "r-2", key: "k"),
                                         code: "IDEMPOTENCY_IN_PROGRESS")
            for id in ids { _ = try await pool.run(.checkin, ["p:holder", id, ""]) }
            let claimed = try await pool.run(.claimReservation, [alice, "t-1", "", "", "604800", "k", Self.window])
            let retried = try await pool.run(.reserve, waitReserve(pool, alice, ":2", ticket: "t-3", id: "r-3", key: "k"))
            #expect(retried.array?.last == claimed, "a retry gets the reservation the wait got")
        }
    }

    @Test func enoughVMsAnswerAtOnceAndBadWaitArgumentsAreRefused() async throws {
        try await withScriptPool { pool async throws in
            try await pool.seed(cap: 10)
            try await pool.addVMs(1...2)
            let alice = try await pool.addUser("alice", quota: 5)
            let now = try await pool.run(.reserve, waitReserve(pool, alice, ":2", ticket: "t-1", id: "r-1"))
            #expect(now.array?.first?.string == "reservation")
            #expect(try await pool.zmembers("waiters").isEmpty)
            let base = reserve(pool, alice, ":1", id: "r-2")
            for extra in [["0", "gw", "t", "3600000"], ["3600001", "gw", "t", "3600000"], ["60000", "", "t", "3600000"],
                          ["60000", "gw", "t t", "3600000"], ["60000", "gw", "t", "999"], ["60000", "gw", "t", "3600001"]] {
                try await pool.expectFailure(.reserve, base + extra, code: "BAD_REQUEST")
            }
            try await pool.expectFailure(.reserve, reserve(pool, alice, ":11", id: "r-3") + ["60000", "gw", "t", "3600000"],
                                         code: "INVALID_STATE")
            #expect(try await pool.zmembers("waiters").isEmpty, "nothing refused was queued")
        }
    }
}
