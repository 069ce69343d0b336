import RedisClient
import Reservations
import Testing
import TestSupport

/// Leases in the scripts: their length (asked, default, maximum, a user's own maximum), renewal,
/// the reaper's script, and the conversion of pools from before times were milliseconds.
@Suite struct LeaseScriptTests {
    /// A checkout's arguments after the identity: default quota 5, then the lease settings.
    private func checkout(_ pool: ScriptPool, _ identity: String, lease: String = "", default: String = "", max: String = "604800")
        async throws -> [String: String]
    {
        fields(try await pool.run(.checkout, [identity, "5", lease, `default`, max]))
    }

    private func lengthOfLease(_ record: [String: String]) -> Int? {
        guard let start = record["checked_out_at"].flatMap({ Int($0) }), let end = record["lease_expires_at"].flatMap({ Int($0) }) else {
            return nil
        }
        return end - start
    }

    @Test func theDefaultLeaseAppliesWhenACheckoutAsksForNone() async throws {
        try await withScriptPool { pool async throws in
            try await pool.seed(cap: 5)
            try await pool.addVMs(1...3)
            let alice = try await pool.addUser("alice", quota: 3)
            #expect(lengthOfLease(try await checkout(pool, alice, default: "300")) == 300_000)
            #expect(lengthOfLease(try await checkout(pool, alice, lease: "20", default: "300")) == 20_000)
            let unleased = try await checkout(pool, alice)
            #expect(unleased["lease_expires_at"] == nil && unleased["lease_seconds"] == nil)
        }
    }

    @Test func aLeaseOverTheMaximumIsRefusedAndAUsersOwnMaximumWins() async throws {
        try await withScriptPool { pool async throws in
            try await pool.seed(cap: 5)
            try await pool.addVMs(1...4)
            let alice = try await pool.addUser("alice", quota: 4)
            let error = try await pool.expectFailure(.checkout, [alice, "5", "3601", "", "3600"], code: "BAD_REQUEST")
            #expect(error?.message == "the longest lease you may ask for is 3600 seconds")
            #expect(lengthOfLease(try await checkout(pool, alice, lease: "3600", max: "3600")) == 3_600_000)
            // an admin gives alice a longer maximum of her own
            _ = try await pool.run(.updateUser, [ScriptPool.admin, "alice", "", "", "86400"])
            #expect(lengthOfLease(try await checkout(pool, alice, lease: "86400", max: "3600")) == 86_400_000)
            // or a shorter one; a default above it is cut to it, an explicit ask refused
            _ = try await pool.run(.updateUser, [ScriptPool.admin, "alice", "", "", "60"])
            #expect(lengthOfLease(try await checkout(pool, alice, default: "300", max: "3600")) == 60_000)
            try await pool.expectFailure(.checkout, [alice, "5", "61", "", "3600"], code: "BAD_REQUEST",
                                         message: "the longest lease you may ask for is 60 seconds")
            // and removes it: the gateway's maximum applies again
            _ = try await pool.run(.updateUser, [ScriptPool.admin, "alice", "", "", "none"])
            #expect(try await pool.storedUser("alice")?.keys.contains("max_lease_seconds") == false)
            #expect(lengthOfLease(try await checkout(pool, alice, lease: "3000", max: "3600")) == 3_000_000)
        }
    }

    @Test func updateUserRefusesAMaximumLeaseOutOfRange() async throws {
        try await withScriptPool { pool async throws in
            try await pool.seed(cap: 5)
            _ = try await pool.addUser("alice")
            for bad in ["0", "-1", "31536001", "1.5", "forever", "None"] {
                try await pool.expectFailure(.updateUser, [ScriptPool.admin, "alice", "", "", bad], code: "BAD_REQUEST")
            }
            let record = fields(try await pool.run(.updateUser, [ScriptPool.admin, "alice", "", "", "31536000"]))
            #expect(record["max_lease"] == "31536000")
            #expect(fields(try await pool.run(.updateUser, [ScriptPool.admin, "alice", "2", "", ""]))["max_lease"] == "31536000")
        }
    }

    @Test func renewExtendsTheHoldersLeaseFromNow() async throws {
        try await withScriptPool { pool async throws in
            try await pool.seed(cap: 5)
            try await pool.addVMs(1...1)
            let alice = try await pool.addUser("alice", quota: 1)
            let checkedOut = try await checkout(pool, alice, lease: "60")
            let id = try #require(checkedOut["vm_id"])
            let before = try await pool.now()
            let renewed = fields(try await pool.run(.renew, [alice, id, "120"] + gatewayLeases))
            let after = try await pool.now()
            let expiry = try #require(renewed["lease_expires_at"].flatMap { Int($0) })
            #expect((before + 120_000...after + 120_000).contains(expiry))
            #expect(renewed["checked_out_at"] == checkedOut["checked_out_at"], "still the same checkout")
            #expect(renewed["user"] == "alice" && renewed["lease_seconds"] == "120")
            #expect(try await pool.command("ZSCORE", pool.key("leases"), id).int == expiry)
            // without a length: the lease's own again
            let again = fields(try await pool.run(.renew, [alice, id, ""] + gatewayLeases))
            #expect(again["lease_seconds"] == "120")
            #expect(try #require(again["lease_expires_at"].flatMap { Int($0) }) >= expiry)
        }
    }

    @Test func onlyTheHolderRenewsOthersLearnNothing() async throws {
        try await withScriptPool { pool async throws in
            try await pool.seed(cap: 5)
            try await pool.addVMs(1...1)
            let alice = try await pool.addUser("alice", quota: 1)
            let bob = try await pool.addUser("bob", quota: 1)
            let id = try await pool.checkout(alice, lease: "60")
            let hidden = try await pool.expectFailure(.renew, [bob, id, "60"] + gatewayLeases, code: "VM_NOT_FOUND")
            let absent = try await pool.expectFailure(.renew, [bob, "vm-99999", "60"] + gatewayLeases, code: "VM_NOT_FOUND")
            #expect(hidden?.message == absent?.message, "the same answer as for a VM that does not exist")
            try await pool.expectFailure(.renew, [ScriptPool.admin, id, "60"] + gatewayLeases, code: "FORBIDDEN",
                                         message: "only the holder of a VM can renew its lease")
            try await pool.expectFailure(.renew, [alice, id, "604801"] + gatewayLeases, code: "BAD_REQUEST")
            try await pool.expectFailure(.renew, [alice, id, "0"] + gatewayLeases, code: "BAD_REQUEST")
            try await pool.expectFailure(.renew, [alice, "", "60"] + gatewayLeases, code: "BAD_REQUEST")
        }
    }

    @Test func aVMWithoutALeaseGetsOneOnlyWhenALengthIsKnown() async throws {
        try await withScriptPool { pool async throws in
            try await pool.seed(cap: 5)
            try await pool.addVMs(1...1)
            let alice = try await pool.addUser("alice", quota: 1)
            let id = try await pool.checkout(alice)
            try await pool.expectFailure(.renew, [alice, id, ""] + gatewayLeases, code: "BAD_REQUEST",
                                         message: "this VM has no lease: give lease_seconds")
            #expect(fields(try await pool.run(.renew, [alice, id, "", "90", "604800"]))["lease_seconds"] == "90", "the default")
        }
    }

    @Test func aLeaseThatRanOutCannotBeRenewed() async throws {
        try await withScriptPool { pool async throws in
            try await pool.seed(cap: 5)
            try await pool.addVMs(1...1)
            let alice = try await pool.addUser("alice", quota: 1)
            let id = try await pool.checkout(alice, lease: "60")
            try await pool.command("ZADD", pool.key("leases"), "XX", "1", id)
            try await pool.setVM(id, ["lease_expires_at": "1"])
            try await pool.expectFailure(.renew, [alice, id, "60"] + gatewayLeases, code: "VM_NOT_FOUND", changesState: true)
            #expect(try await pool.vm(id)["status"] == "available")
            #expect(try await pool.members("held:alice").isEmpty)
        }
    }

    @Test func theReaperReturnsExpiredLeasesOnlyAndSaysWhenTheNextEnds() async throws {
        try await withScriptPool { pool async throws in
            try await pool.seed(cap: 10)
            try await pool.addVMs(1...5)
            var ids: [String] = []
            for index in 0..<4 { ids.append(try await pool.checkout("p:holder\(index)", lease: "600")) }
            _ = try await pool.checkout("p:unleased")
            // two ran out (by their scores); the other two end at known times
            try await pool.command("ZADD", pool.key("leases"), "XX", "1", ids[0])
            try await pool.command("ZADD", pool.key("leases"), "XX", "2", ids[1])
            let later = try await pool.now() + 500_000
            try await pool.command("ZADD", pool.key("leases"), "XX", String(later), ids[2])

            let first = try await pool.run(.reapLeases, ["1"]).array?.compactMap(\.int) ?? []
            #expect(first.count == 3 && first[0] == 1 && first[1] == 2, "one of a batch of 1: \(first)")
            let second = try await pool.run(.reapLeases, ["1000"]).array?.compactMap(\.int) ?? []
            #expect(second.count == 3 && second[0] == 1 && second[1] == later, "\(second)")
            #expect(abs(second[2] - (try await pool.now())) < 60_000, "Redis' time, in ms")
            #expect(try await pool.vmIDs(status: "checked-out") == Set(ids[2...3]).union(try await pool.members("held:unleased")))
            #expect(try await pool.vm(ids[0])["user"] == nil)
            #expect(try await pool.members("held:holder0").isEmpty)
            #expect(try await pool.members("held:holder1").isEmpty)
            #expect(try await pool.run(.reapLeases, ["1000"]).array?.first?.int == 0, "again: nothing to do")
            for bad in ["0", "10001", "x", ""] { try await pool.expectFailure(.reapLeases, [bad], code: "BAD_REQUEST") }
        }
    }
}
