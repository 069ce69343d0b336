import Foundation
import RedisClient
import Reservations
import Testing
import TestSupport

/// lua/take_job.lua: a provisioning worker takes and claims the first due job (with extend_job.lua and finish_job.lua on that claim).
@Suite struct TakeJobScriptTests: ScriptSuite {
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
