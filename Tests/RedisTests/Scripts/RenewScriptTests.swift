import RedisClient
import Reservations
import Testing
import TestSupport

/// lua/renew.lua: extends the lease of a VM the caller holds, from now.
@Suite struct RenewScriptTests: ScriptSuite {
    @Test func renewExtendsTheHoldersLeaseFromNow() async throws {
        try await withScriptPool { pool async throws in
            try await pool.seed(cap: 5)
            try await pool.addVMs(1...1)
            let alice = try await pool.addUser("alice", quota: 1)
            let checkedOut = try await checkout(pool, alice, lease: "3600")
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
            let id = try await pool.checkout(alice, lease: "3600")
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
            let id = try await pool.checkout(alice, lease: "3600")
            try await pool.command("ZADD", pool.key("leases"), "XX", "1", id)
            try await pool.setVM(id, ["lease_expires_at": "1"])
            try await pool.expectFailure(.renew, [alice, id, "60"] + gatewayLeases, code: "VM_NOT_FOUND", changesState: true)
            #expect(try await pool.vm(id)["status"] == "available")
            #expect(try await pool.members("held:alice").isEmpty)
        }
    }
}
