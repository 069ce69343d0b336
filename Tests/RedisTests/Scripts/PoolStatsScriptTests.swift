import Foundation
import RedisClient
import Reservations
import Testing
import TestSupport

/// lua/pool_stats.lua: the cap and the VM counts by status, for admins.
@Suite struct PoolStatsScriptTests: ScriptSuite {
    @Test func poolStatsCountsVMsByStatus() async throws {
        try await withScriptPool { pool async throws in
            try await pool.seed(cap: 10)
            #expect(try await pool.run(.poolStats, [admin]) == poolStatsReply([10, 0, 0, 0, 0, 0, 0]))
            try await pool.addVMs(1...6)
            let alice = try await pool.addUser("alice", quota: 2)
            _ = try await pool.checkout(alice)
            _ = try await pool.checkout(alice)
            let spare = try #require(try await pool.vmIDs(status: "available").first)
            try await pool.setVM(spare, ["status": "error"])
            #expect(try await pool.run(.poolStats, [admin]) == poolStatsReply([10, 6, 0, 3, 2, 1, 0]))
        }
    }

    @Test func poolStatsIsOpenToAdminUsersWithATokenToo() async throws {
        try await withScriptPool { pool async throws in
            try await pool.seed(cap: 3)
            let boss = try await pool.addUser("boss", role: "admin")
            #expect(try await pool.run(.poolStats, [boss]) == poolStatsReply([3, 0, 0, 0, 0, 0, 0]))
        }
    }
}
