import Foundation
import RedisClient
import Reservations
import Testing
import TestSupport

/// lua/init_pool.lua: seeds the cap and the IP pool only when the pool has none, and builds the idle index in parts.
@Suite struct InitPoolScriptTests: ScriptSuite {
    @Test func initPoolSeedsTheCapOnlyWhenThePoolHasNone() async throws {
        try await withScriptPool { pool async throws in
            #expect(try await pool.run(.initPool, ["5"]) == .integer(5))
            #expect(try await pool.run(.initPool, ["9"]) == .integer(5))
            #expect(try await pool.hash("pool") == ["max_vm_count": "5", "layout": "hashes"])
        }
    }

    @Test func initPoolAcceptsTheBoundsOfItsRange() async throws {
        try await withScriptPool { pool async throws in
            #expect(try await pool.run(.initPool, ["0"]) == .integer(0))
        }
        try await withScriptPool { pool async throws in
            #expect(try await pool.run(.initPool, ["1000000"]) == .integer(1_000_000))
        }
    }

    @Test func initPoolRejectsAnythingButAWholeNumberFromZeroToAMillion() async throws {
        try await withScriptPool { pool async throws in
            for bad in ["", "-1", "abc", "1.5", "1e3", " 5", "1000001", "99999999999999999999"] {
                let error = try await pool.expectFailure(.initPool, [bad], code: "BAD_REQUEST")
                #expect(error?.message == "max_vm_count must be a whole number from 0 to 1000000")
            }
            try await pool.expectFailure(.initPool, [], code: "BAD_REQUEST")
            #expect(try await pool.exists("pool") == false)
        }
    }

    @Test func initPoolSeedsTheBlockOnlyWhenThePoolHasNone() async throws {
        try await withScriptPool { pool async throws in
            _ = try await pool.run(.initPool, ["10", "192.168.7.0/24"])
            _ = try await pool.run(.initPool, ["10", "192.168.8.0/24"])
            #expect(try await pool.hash("pool")["ip_pool"] == "192.168.7.0/24")
            #expect(try await create(pool, 1) == ["192.168.7.1"])
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
}
