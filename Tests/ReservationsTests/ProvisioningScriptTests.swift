import Foundation
import RedisClient
import Reservations
import Testing
import TestSupport

/// The provisioning jobs (take_job.lua, extend_job.lua, finish_job.lua, retry_vm.lua) and what
/// the other scripts do when VMs need a provider's work, on a real Redis, worker by worker.
@Suite struct ProvisioningScriptTests {
    /// A pool whose VMs need jobs, returned VMs handled by `onReturn`.
    private func seedJobs(_ pool: ScriptPool, cap: Int = 10, onReturn: String = "reuse") async throws {
        _ = try await pool.run(.initPool, [String(cap), "", "small=1:2048,large=4:8192", "jobs", onReturn, "idle"])
    }

    /// take_job.lua as worker `worker` with a claim of `claimMS`: {job kind, vm id, claim} or nil.
    private func take(_ pool: ScriptPool, worker: String = "w1", claimMS: Int = 30_000) async throws
        -> (kind: String, id: String, claim: String, record: [String: String])?
    {
        let reply = try await pool.run(.takeJob, [String(claimMS), worker]).array ?? []
        guard reply.first?.string == "job", reply.count == 5 else {
            #expect(reply.first?.string == "none")
            return nil
        }
        return (reply[2].string ?? "", reply[1].string ?? "", reply[3].string ?? "", fields(reply[4]))
    }

    private func finish(
        _ pool: ScriptPool, _ id: String, claim: String, _ outcome: String, ip: String = "", machine: String = "",
        message: String = "", candidates: [String] = []
    ) async throws -> [RESPValue] {
        try await pool.run(.finishJob, [id, claim, outcome, ip, machine, message] + candidates).array ?? []
    }

    @Test func createdVMsAreProvisioningQueuedAndCountedByTheCap() async throws {
        try await withScriptPool { pool async throws in
            try await seedJobs(pool, cap: 2)
            let reply = try await pool.run(.createVMs, [ScriptPool.admin, "2", "large", "", "", "", "vm-a", "", "vm-b", ""])
            #expect(reply.array?.first == .integer(0))
            for id in ["vm-a", "vm-b"] {
                let vm = try await pool.vm(id)
                #expect(vm["status"] == "provisioning" && vm["job"] == "provision" && vm["ip"] == nil && vm["size"] == "large")
            }
            #expect(try await pool.vmIDs(status: "provisioning") == ["vm-a", "vm-b"])
            #expect(try await pool.vmIDs(status: "available").isEmpty)
            #expect(Set(try await pool.zmembers("jobs")) == ["vm-a", "vm-b"])
            try await pool.expectFailure(.createVMs, [ScriptPool.admin, "1", "", "", "", "", "vm-c", ""], code: "MAX_VM_COUNT")
            try await pool.expectFailure(.checkout, ["p:alice", "1", "", "", "604800", ""], code: "NO_VM_AVAILABLE")
        }
    }

    @Test func aJobIsClaimedByOneWorkerAndOnlyTheCurrentClaimCounts() async throws {
        try await withScriptPool { pool async throws in
            try await seedJobs(pool)
            _ = try await pool.run(.createVMs, [ScriptPool.admin, "1", "", "", "", "", "vm-a", ""])
            let first = try #require(try await take(pool, worker: "w1", claimMS: 1))
            #expect(first.kind == "provision" && first.id == "vm-a" && first.record["job_worker"] == "w1")
            // the claim of 1 ms runs out: another worker takes the job over
            try await Task.sleep(for: .milliseconds(5))
            let second = try #require(try await take(pool, worker: "w2"))
            #expect(second.id == "vm-a" && second.claim != first.claim)
            #expect(try await take(pool, worker: "w3") == nil, "claimed: nobody else gets it")
            // the first worker comes back too late: neither its renewal nor its outcome counts
            #expect(try await pool.run(.extendJob, ["vm-a", first.claim, "30000"]) == .integer(0))
            let before = try await pool.dump()
            #expect(try await finish(pool, "vm-a", claim: first.claim, "done", ip: "10.0.0.1") == [.bulkString(Array("stale".utf8))])
            #expect(try await pool.dump() == before)
            #expect(try await pool.run(.extendJob, ["vm-a", second.claim, "30000"]) == .integer(1))
            // (a provider's machine id is text from outside: kept exactly, whatever it holds)
            let done = try await finish(pool, "vm-a", claim: second.claim, "done", ip: "10.0.0.2", machine: "m-2|%7C%")
            #expect(done.first?.string == "done")
            let vm = try await pool.vm("vm-a")
            #expect(vm["status"] == "available" && vm["ip"] == "10.0.0.2" && vm["machine_id"] == "m-2|%7C%")
            #expect(vm["job"] == nil && vm["job_claim"] == nil)
            #expect(try await pool.zmembers("jobs").isEmpty)
            #expect(try await pool.ipIndex() == ["10.0.0.2": "vm-a"])
            #expect(try await pool.vmIDs(status: "available", size: "small") == ["vm-a"])
            #expect(try await pool.events().last?["action"] == "provisioned")
            #expect(try await pool.checkout("p:alice") == "vm-a")
        }
    }

    @Test func noJobDueAnswersWhenTheNextIsAndDropsEntriesWithoutAJob() async throws {
        try await withScriptPool { pool async throws in
            try await seedJobs(pool)
            let idle = try await pool.run(.takeJob, ["30000", "w1"]).array ?? []
            #expect(idle.count == 3 && idle[0].string == "none" && idle[1] == .integer(-1))
            _ = try await pool.run(.createVMs, [ScriptPool.admin, "1", "", "", "", "", "vm-a", ""])
            let job = try #require(try await take(pool, claimMS: 60_000))
            let waiting = try await pool.run(.takeJob, ["30000", "w2"]).array ?? []
            let now = try #require(waiting[2].int)
            #expect(waiting[0].string == "none" && (waiting[1].int ?? 0) > now + 50_000, "due when the claim ends")
            _ = job
            try await pool.command("ZADD", pool.key("jobs"), "0", "ghost")
            #expect(try await take(pool) == nil)
            #expect(try await pool.zmembers("jobs") == ["vm-a"], "an entry with no VM behind it is dropped")
        }
    }

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

    @Test func aResetReturnIsProvisioningUntilTheProviderIsDone() async throws {
        try await withScriptPool { pool async throws in
            try await seedJobs(pool, onReturn: "reset")
            _ = try await pool.run(.createVMs, [ScriptPool.admin, "1", "", "", "", "", "vm-a", ""])
            let provision = try #require(try await take(pool))
            _ = try await finish(pool, "vm-a", claim: provision.claim, "done", ip: "10.0.0.1")
            let alice = try await pool.addUser("alice")
            #expect(try await pool.checkout(alice) == "vm-a")
            let back = fields(try await pool.run(.checkin, [alice, "vm-a", ""]))
            #expect(back["status"] == "provisioning" && back["job"] == "reset" && back["user"] == nil)
            #expect(try await pool.members("held:alice").isEmpty)
            try await pool.expectFailure(.checkout, [alice, "1", "", "", "604800", ""], code: "NO_VM_AVAILABLE")
            let reset = try #require(try await take(pool))
            #expect(reset.kind == "reset")
            _ = try await finish(pool, "vm-a", claim: reset.claim, "done")
            #expect(try await pool.vm("vm-a")["status"] == "available")
            #expect(try await pool.events().last?["action"] == "reset")
            #expect(try await pool.checkout(alice) == "vm-a")
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

    @Test func withAnInstantProviderVMsAreReadyAtOnceAndOnlyReturnsMakeJobs() async throws {
        try await withScriptPool { pool async throws in
            _ = try await pool.run(.initPool, ["10", "", "", "instant", "replace"])
            try await pool.addVMs(1...1)
            let id = ScriptPool.candidate(1).id
            #expect(try await pool.vm(id)["status"] == "available")
            #expect(try await pool.zmembers("jobs").isEmpty)
            #expect(try await pool.checkout("p:alice") == id)
            _ = try await pool.run(.checkin, ["p:alice", id, ""])
            let job = try #require(try await take(pool))
            #expect(job.kind == "replace")
            let done = try await finish(pool, id, claim: job.claim, "done", candidates: ["vm-new", "11.9.9.9"])
            let fresh = fields(done[2])
            #expect(fresh["vm_id"] == "vm-new" && fresh["status"] == "available" && fresh["ip"] == "11.9.9.9")
            // an error VM (left by a provider that needed jobs) comes back at once
            try await pool.setVM("vm-new", ["status": "error", "error": "boom"])
            let retried = fields(try await pool.run(.retryVM, [ScriptPool.admin, "vm-new"]))
            #expect(retried["status"] == "available" && retried["error"] == nil)
        }
    }

    @Test func theWarmPoolCountsVMsBeingProvisionedAndIdleCleanupDeprovisions() async throws {
        try await withScriptPool { pool async throws in
            try await seedJobs(pool)
            func maintain(idle: String, minReady: Int) async throws -> [Int] {
                let candidates = (0..<6).flatMap { ["warm-\($0)-\(UUID().uuidString.prefix(8))", ""] }
                return try await pool.run(.maintainPool, [idle, String(minReady)] + candidates).array?.compactMap(\.int) ?? []
            }
            #expect(try await maintain(idle: "", minReady: 2) == [0, 2])
            #expect(try await pool.vmIDs(status: "provisioning").count == 2)
            #expect(try await maintain(idle: "", minReady: 2) == [0, 0], "two on their way already")
            for index in 1...2 {  // (two addresses: a provider's address that another VM has fails the job)
                let job = try #require(try await take(pool))
                _ = try await finish(pool, job.id, claim: job.claim, "done", ip: "10.0.0.\(index)")
            }
            // both idle for an hour, one to keep: the other is deprovisioned, not dropped
            for id in try await pool.vmIDs(status: "available") { try await pool.setVM(id, ["available_since": "1"]) }
            #expect(try await maintain(idle: "3600", minReady: 1) == [1, 0])
            #expect(try await pool.vmIDs(status: "deprovisioning").count == 1)
            #expect(try await take(pool)?.kind == "deprovision")
        }
    }

    @Test func refusesBadJobArgumentsAndSettings() async throws {
        try await withScriptPool { pool async throws in
            try await seedJobs(pool)
            _ = try await pool.run(.createVMs, [ScriptPool.admin, "1", "", "", "", "", "vm-a", ""])
            let job = try #require(try await take(pool))
            for arguments in [["vm-a", job.claim, "maybe"], ["", job.claim, "done"], ["vm-a", "", "done"]] {
                try await pool.expectFailure(.finishJob, arguments, code: "BAD_REQUEST")
            }
            for arguments in [["0", "w"], ["3600001", "w"], ["x", "w"], ["1000", ""]] {
                try await pool.expectFailure(.takeJob, arguments, code: "BAD_REQUEST")
            }
            try await pool.expectFailure(.extendJob, ["vm-a", job.claim, "-1"], code: "BAD_REQUEST")
            try await pool.expectFailure(.initPool, ["10", "", "", "sometimes", ""], code: "BAD_REQUEST")
            try await pool.expectFailure(.initPool, ["10", "", "", "", "recycle"], code: "BAD_REQUEST")
        }
    }
}
