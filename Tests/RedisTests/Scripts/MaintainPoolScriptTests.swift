import Foundation
import RedisClient
import Reservations
import Testing
import TestSupport

/// lua/maintain_pool.lua: idle cleanup never below the minimum ready count, and the warm pool.
@Suite struct MaintainPoolScriptTests: ScriptSuite {
    @Test func idleVMsAreDeletedTheLongestIdleFirstNeverBelowTheMinimum() async throws {
        try await withScriptPool { pool async throws in
            try await pool.seed(cap: 10, idleCleanup: true)
            let vms = try await pool.addVMs(1...5)
            let alice = try await pool.addUser("alice", quota: 1)
            let held = try await pool.checkout(alice)
            // four are available; make three of them idle for an hour, oldest vm-00001
            var idle: [String] = []
            for (rank, vm) in vms.map(\.id).filter({ $0 != held }).prefix(3).enumerated() {
                try await pool.setVM(vm, ["available_since": String(rank + 1)])
                idle.append(vm)
            }
            #expect(try await maintain(pool, idle: "3600", minReady: 2) == [2, 0])
            let left = try await pool.vmIDs(status: "available")
            #expect(left.count == 2 && !left.contains(idle[0]) && !left.contains(idle[1]) && left.contains(idle[2]))
            #expect(try await pool.vm(held)["status"] == "checked-out", "a checked-out VM is never idle")
            #expect(try await pool.events().last?["detail"] == "idle for 3600 s or more")
            #expect(try await pool.events().last?["actor"] == "system")
            #expect(try await maintain(pool, idle: "3600", minReady: 2) == [0, 0], "the minimum holds")
            #expect(try await maintain(pool, idle: "", minReady: 0) == [0, 0], "no idle cleanup without idle seconds")
        }
    }

    @Test func theWarmPoolCreatesUpToTheMinimumWithinTheCap() async throws {
        try await withScriptPool { pool async throws in
            try await pool.seed(cap: 4, idleCleanup: true)
            #expect(try await maintain(pool, idle: "", minReady: 3) == [0, 3])
            #expect(try await pool.count("available") == 3)
            _ = try await pool.checkout("p:taker", defaultQuota: 5)
            _ = try await pool.checkout("p:taker", defaultQuota: 5)
            #expect(try await maintain(pool, idle: "", minReady: 3) == [0, 1], "the cap of 4 stops it")
            #expect(try await pool.vmIDs().count == 4)
            #expect(try await maintain(pool, idle: "3600", minReady: 0) == [0, 0], "none idle for an hour")
            #expect(try await pool.count("available") == 2)
        }
    }

    @Test func refusesBadSettings() async throws {
        try await withScriptPool { pool async throws in
            try await pool.seed(cap: 4)
            for (idle, minReady) in [("0", "1"), ("x", "1"), ("", "-1"), ("", "1000001"), ("", "")] {
                try await pool.expectFailure(.maintainPool, [idle, minReady], code: "BAD_REQUEST")
            }
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
}
