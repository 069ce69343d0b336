import Foundation
import RedisClient
import Reservations
import Testing
import TestSupport

/// lua/delete_vm.lua: deletes an available or error VM, at once or by deprovisioning it first.
@Suite struct DeleteVMScriptTests: ScriptSuite {
    @Test func deleteVMRemovesAnAvailableVMEverywhereAndFreesItsIP() async throws {
        try await withScriptPool { pool async throws in
            try await pool.seed(cap: 2)
            let vms = try await pool.addVMs(1...2)
            let record = try await pool.vm("vm-00001")
            #expect(fields(try await pool.run(.deleteVM, [admin, "vm-00001", ""])) == record)
            #expect(try await pool.vm("vm-00001").isEmpty)
            #expect(try await pool.vmIDs() == ["vm-00002"])
            #expect(try await pool.vmIDs(status: "available") == ["vm-00002"])
            #expect(try await pool.ipIndex() == [vms[1].ip: "vm-00002"])
            // the IP and the room under the cap can be used again
            let reply = try await pool.run(.createVMs, [admin, "1", "", "", "", "", "vm-again", vms[0].ip])
            #expect(reply.array?.first == .integer(0))
            #expect(try await pool.ipIndex()[vms[0].ip] == "vm-again")
        }
    }

    @Test func aDeleteTakesTheVMOutOfTheAvailableSetAndTheIdleIndex() async throws {
        try await withScriptPool { pool async throws in
            try await pool.seed(cap: 5, idleCleanup: true)
            try await pool.addVMs(1...3)
            _ = try await pool.run(.deleteVM, [admin, "vm-00001", ""])
            _ = try await pool.run(.deleteVM, [admin, "vm-00002", ""])
            #expect(try await pool.members("available:") == ["vm-00003"], "a pool without sizes: one set")
            #expect(try await pool.zmembers("idle") == ["vm-00003"])
            #expect(try await pool.checkout("p:alice") == "vm-00003")
            #expect(try await pool.exists("available:") == false)
            #expect(try await pool.exists("idle") == false)
            #expect(try await pool.run(.poolStats, [admin]) == poolStatsReply([5, 1, 0, 0, 1, 0, 0]))
            try await pool.expectFailure(.checkout, ["p:bob", "1", ""] + gatewayLeases, code: "NO_VM_AVAILABLE")
        }
    }

    @Test func deleteVMAcceptsTheMatchingIPAndDeletesErrorVMs() async throws {
        try await withScriptPool { pool async throws in
            try await pool.seed(cap: 2)
            let vms = try await pool.addVMs(1...1)
            try await pool.setVM(vms[0].id, ["status": "error"])
            let reply = fields(try await pool.run(.deleteVM, [admin, vms[0].id, vms[0].ip]))
            #expect(reply["status"] == "error")
            #expect(try await pool.count("error") == 0)
            #expect(try await pool.ipIndex().isEmpty)
            #expect(try await pool.vmIDs().isEmpty)
        }
    }

    @Test func deleteVMFailsForUnknownOrMismatchedVMs() async throws {
        try await withScriptPool { pool async throws in
            try await pool.seed(cap: 2)
            let vms = try await pool.addVMs(1...2)
            for arguments in [["nope", ""], [vms[0].id, vms[1].ip], [vms[0].id, "1.1.1.1"], ["nope", vms[0].ip]] {
                try await pool.expectFailure(.deleteVM, [admin] + arguments, code: "VM_NOT_FOUND", message: vmNotFoundMessage)
            }
            try await pool.expectFailure(.deleteVM, [admin, "", vms[0].ip], code: "BAD_REQUEST", message: "vm_id is required")
            try await pool.expectFailure(.deleteVM, [admin], code: "BAD_REQUEST")
        }
    }

    @Test func deleteVMRefusesCheckedOutAndProvisioningVMs() async throws {
        try await withScriptPool { pool async throws in
            try await pool.seed(cap: 2)
            try await pool.addVMs(1...2)
            let id = try await pool.checkout("p:someone")
            try await pool.expectFailure(.deleteVM, [admin, id, ""], code: "INVALID_STATE",
                                         message: "only available or error VMs can be deleted; this one is checked-out")
            let other = try #require(try await pool.vmIDs(status: "available").first)
            try await pool.setVM(other, ["status": "provisioning"])
            try await pool.expectFailure(.deleteVM, [admin, other, ""], code: "INVALID_STATE")
        }
    }

    @Test func deletingDeprovisionsFirstAndAFailedDeprovisionIsTriedAgainLater() async throws {
        try await withScriptPool { pool async throws in
            try await seedJobs(pool)
            _ = try await pool.run(.createVMs, [ScriptPool.admin, "1", "", "", "", "", "vm-a", ""])
            let provision = try #require(try await take(pool))
            _ = try await finish(pool, "vm-a", claim: provision.claim, "done", ip: "10.0.0.1", machine: "m-1")
            try await pool.expectFailure(.deleteVM, [ScriptPool.admin, "vm-zz", ""], code: "VM_NOT_FOUND")
            let deleted = fields(try await pool.run(.deleteVM, [ScriptPool.admin, "vm-a", ""]))
            #expect(deleted["status"] == "deprovisioning" && deleted["job"] == "deprovision")
            #expect(try await pool.vmIDs(status: "available").isEmpty)
            #expect(try await pool.vmIDs(status: "available", size: "small").isEmpty)
            try await pool.expectFailure(.deleteVM, [ScriptPool.admin, "vm-a", ""], code: "INVALID_STATE")
            let job = try #require(try await take(pool))
            #expect(job.kind == "deprovision" && job.record["machine_id"] == "m-1")
            let start = try await pool.now()
            _ = try await finish(pool, "vm-a", claim: job.claim, "failed", message: "API throttled")
            var vm = try await pool.vm("vm-a")
            #expect(vm["status"] == "deprovisioning" && vm["error"] == "API throttled" && vm["failures"] == "1")
            let due = try #require(try await pool.command("ZSCORE", pool.key("jobs"), "vm-a").string.flatMap { Double($0) })
            #expect(Int(due) >= start + 2000, "tried again after 2 s")
            // not before it is due (put an hour off: on a slow machine 2 s may have passed already)
            try await pool.command("ZADD", pool.key("jobs"), "XX", String(Int(due) + 3_600_000), "vm-a")
            #expect(try await take(pool) == nil)
            try await pool.command("ZADD", pool.key("jobs"), "0", "vm-a")
            let retry = try #require(try await take(pool))
            _ = try await finish(pool, "vm-a", claim: retry.claim, "done")
            vm = try await pool.vm("vm-a")
            #expect(vm.isEmpty)
            #expect(try await pool.vmIDs().isEmpty)
            #expect(try await pool.ipIndex().isEmpty)
            #expect(try await pool.zmembers("jobs").isEmpty)
            #expect(try await pool.events().last?["action"] == "deprovisioned")
            #expect(try await pool.events().last?["status"] == "deleted")
        }
    }
}
