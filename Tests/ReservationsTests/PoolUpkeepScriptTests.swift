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

    /// The idle index costs every checkout and checkin (BENCHMARKS.md): a pool keeps one only
    /// once a gateway that runs idle cleanup has started on it, which builds it from the VMs
    /// available then, in parts of about 1,000 per call; idle cleanup deletes nothing before.
    @Test func theIdleIndexIsKeptOnlyOnceAGatewayRunsIdleCleanupAndIsBuiltInParts() async throws {
        try await withScriptPool { pool async throws in
            try await pool.seed(cap: 3000)
            try await pool.addVMs(1...2500)
            let first = try await pool.checkout("p:alice")
            _ = try await pool.run(.checkin, ["p:alice", first, ""])
            #expect(try await pool.exists("idle") == false, "no index: no checkout or checkin pays for one")
            #expect(try await maintain(pool, idle: "1", minReady: 0) == [0, 0], "and idle cleanup finds none")
            var answers: [RESPValue] = []
            repeat {
                answers.append(try await pool.run(.initPool, ["3000", "", "", "", "", "idle"]))
                if answers.count == 1 {
                    let part = try await pool.command("ZCARD", pool.key("idle")).int ?? 0
                    #expect(part >= 1000 && part < 2500, "a first part: \(part)")
                    #expect(try await maintain(pool, idle: "1", minReady: 0) == [0, 0], "nothing deleted from half an index")
                }
            } while answers.last == .again && answers.count < 10
            #expect(answers.count >= 2 && answers.dropLast().allSatisfy { $0 == .again } && answers.last == .integer(3000), "\(answers)")
            #expect(try await pool.hash("pool")["idle_index"] == "on")
            #expect(try await pool.command("ZCARD", pool.key("idle")) == .integer(2500))
            #expect(try await poolInconsistencies(pool.client, prefix: pool.keys.prefix) == [])
            // kept by every change from now on, and used by idle cleanup
            let taken = try await pool.checkout("p:alice")
            #expect(try await pool.command("ZSCORE", pool.key("idle"), taken) == .null)
            let oldest = ["vm-00007", "vm-00008", "vm-00009"].filter { $0 != taken }
            for id in oldest { try await pool.setVM(id, ["available_since": "1"]) }
            #expect(try await maintain(pool, idle: "3600", minReady: 0) == [oldest.count, 0])
            #expect(try await pool.vmIDs().filter(oldest.contains).isEmpty)
            #expect(try await poolInconsistencies(pool.client, prefix: pool.keys.prefix) == [])
            try await pool.expectFailure(.initPool, ["3000", "", "", "", "", "sometimes"], code: "BAD_REQUEST")
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
