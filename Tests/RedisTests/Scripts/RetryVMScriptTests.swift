import Foundation
import RedisClient
import Reservations
import Testing
import TestSupport

/// lua/retry_vm.lua: provisions an error VM again.
@Suite struct RetryVMScriptTests: ScriptSuite {
    @Test func aFailedProvisionLeavesAnErrorThatAnAdminMayRetry() async throws {
        try await withScriptPool { pool async throws in
            try await seedJobs(pool)
            _ = try await pool.run(.createVMs, [ScriptPool.admin, "1", "", "", "", "", "vm-a", ""])
            let job = try #require(try await take(pool))
            _ = try await finish(pool, "vm-a", claim: job.claim, "failed", message: "no capacity")
            var vm = try await pool.vm("vm-a")
            #expect(vm["status"] == "error" && vm["error"] == "no capacity" && vm["job"] == nil)
            #expect(try await pool.events().last?["action"] == "provision_failed")
            #expect(try await pool.zmembers("jobs").isEmpty)
            let alice = try await pool.addUser("alice")
            try await pool.expectFailure(.retryVM, [alice, "vm-a"], code: "FORBIDDEN")
            try await pool.expectFailure(.retryVM, [ScriptPool.admin, "vm-zz"], code: "VM_NOT_FOUND")
            let retried = fields(try await pool.run(.retryVM, [ScriptPool.admin, "vm-a"]))
            #expect(retried["status"] == "provisioning" && retried["job"] == "provision" && retried["error"] == nil)
            #expect(try await pool.events().last?["action"] == "retry")
            try await pool.expectFailure(.retryVM, [ScriptPool.admin, "vm-a"], code: "INVALID_STATE",
                                         message: "only VMs in error can be retried; this one is provisioning")
            let again = try #require(try await take(pool))
            _ = try await finish(pool, "vm-a", claim: again.claim, "done", ip: "10.0.0.9")
            vm = try await pool.vm("vm-a")
            #expect(vm["status"] == "available")
        }
    }
}
