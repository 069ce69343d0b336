import Foundation
import RedisClient
import Reservations
import Testing
import TestSupport

/// lua/finish_job.lua: records the outcome of a provider's work on a VM.
@Suite struct FinishJobScriptTests: ScriptSuite {
    @Test func anAddressAnotherVMHasIsAFailureNotADuplicate() async throws {
        try await withScriptPool { pool async throws in
            try await seedJobs(pool)
            _ = try await pool.run(.createVMs, [ScriptPool.admin, "2", "", "", "", "", "vm-a", "", "vm-b", ""])
            let a = try #require(try await take(pool))
            let b = try #require(try await take(pool))
            _ = try await finish(pool, a.id, claim: a.claim, "done", ip: "10.0.0.7")
            _ = try await finish(pool, b.id, claim: b.claim, "done", ip: "10.0.0.7")
            let vm = try await pool.vm(b.id)
            #expect(vm["status"] == "error" && vm["error"] == "the provider gave address 10.0.0.7, which VM \(a.id) has")
            #expect(try await pool.ipIndex() == ["10.0.0.7": a.id])
        }
    }

    @Test func aReplaceReturnDeprovisionsAndCreatesAFreshVMOfTheSameSize() async throws {
        try await withScriptPool { pool async throws in
            try await seedJobs(pool, cap: 1, onReturn: "replace")
            _ = try await pool.run(.createVMs, [ScriptPool.admin, "1", "large", "", "", "", "vm-a", ""])
            let provision = try #require(try await take(pool))
            _ = try await finish(pool, "vm-a", claim: provision.claim, "done", ip: "10.0.0.1")
            #expect(try await pool.checkout("p:alice") == "vm-a")
            // a lease that runs out is a return too
            try await pool.setVM("vm-a", ["lease_expires_at": "1"])
            try await pool.command("ZADD", pool.key("leases"), "1", "vm-a")
            _ = try await pool.run(.reapLeases, ["100"])
            let back = try await pool.vm("vm-a")
            #expect(back["status"] == "deprovisioning" && back["job"] == "replace")
            try await pool.expectFailure(.createVMs, [ScriptPool.admin, "1", "", "", "", "", "vm-x", ""], code: "MAX_VM_COUNT")
            let replace = try #require(try await take(pool))
            #expect(replace.kind == "replace")
            let done = try await finish(pool, "vm-a", claim: replace.claim, "done", candidates: ["vm-b", ""])
            #expect(fields(done[2])["vm_id"] == "vm-b")
            #expect(try await pool.vm("vm-a").isEmpty)
            let fresh = try await pool.vm("vm-b")
            #expect(fresh["status"] == "provisioning" && fresh["size"] == "large" && fresh["job"] == "provision")
            #expect(try await pool.vmIDs() == ["vm-b"])
            #expect(try await pool.ipIndex().isEmpty)
        }
    }
}
