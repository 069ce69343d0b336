import RedisClient
import Reservations
import Testing
import TestSupport

/// maintain_pool.lua: idle cleanup never below the minimum ready count, and the warm pool.
@Suite struct PoolUpkeepScriptTests {
    private func maintain(_ pool: ScriptPool, idle: String, minReady: Int, candidates: Int = 10) async throws -> [Int] {
        var arguments = [idle, String(minReady)]
        for index in 0..<candidates { arguments += ["warm-\(index)-\(Int.random(in: 0..<1_000_000))", "11.7.\(index).\(Int.random(in: 1..<250))"] }
        return try await pool.run(.maintainPool, arguments).array?.compactMap(\.int) ?? []
    }

    @Test func idleVMsAreDeletedTheLongestIdleFirstNeverBelowTheMinimum() async throws {
        try await withScriptPool { pool async throws in
            try await pool.seed(cap: 10)
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
            try await pool.seed(cap: 4)
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
}
