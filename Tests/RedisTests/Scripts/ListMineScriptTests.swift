import Foundation
import RedisClient
import Reservations
import Testing
import TestSupport

/// lua/list_mine.lua: the VMs the caller holds.
@Suite struct ListMineScriptTests: ScriptSuite {
    @Test func listMineAnswersTheCallersVMsSortedById() async throws {
        try await withScriptPool { pool async throws in
            try await pool.seed(cap: 6)
            try await pool.addVMs(1...6)
            let alice = try await pool.addUser("alice", quota: 3)
            let bob = try await pool.addUser("bob", quota: 3)
            #expect(try await pool.run(.listMine, [alice]) == .array([]))
            var mine: [String] = []
            for _ in 0..<3 { mine.append(try await pool.checkout(alice)) }
            _ = try await pool.checkout(bob)
            let reply = try #require(try await pool.run(.listMine, [alice]).array)
            #expect(reply.map { fields($0)["vm_id"] } == mine.sorted())
            #expect(reply.allSatisfy { fields($0)["user"] == "alice" })
            #expect(try await pool.run(.listMine, [admin]) == .array([]))
        }
    }

    @Test func listMineSkipsHeldIdsWithoutAVM() async throws {
        try await withScriptPool { pool async throws in
            let alice = try await pool.addUser("alice")
            try await pool.command("SADD", pool.key("held:alice"), "ghost")
            #expect(try await pool.run(.listMine, [alice]) == .array([]))
        }
    }
}
