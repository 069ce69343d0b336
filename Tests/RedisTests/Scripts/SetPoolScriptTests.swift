import Foundation
import RedisClient
import Reservations
import Testing
import TestSupport

/// lua/set_pool.lua: sets the VM cap and the IP pool (a CIDR block) new VMs take their addresses from.
@Suite struct SetPoolScriptTests: ScriptSuite {
    @Test func setPoolChangesTheCapAndAnswersTheStats() async throws {
        try await withScriptPool { pool async throws in
            try await pool.seed(cap: 3)
            try await pool.addVMs(1...2)
            #expect(try await pool.run(.setPool, [admin, "7"]) == poolStatsReply([7, 2, 0, 2, 0, 0, 0]))
            #expect(try await pool.hash("pool") == ["max_vm_count": "7", "layout": "hashes", "vm_count": "2", "count:available": "2"])
            // init_pool no longer changes it
            #expect(try await pool.run(.initPool, ["100"]) == .integer(7))
        }
    }

    @Test func setPoolBelowTheCurrentCountKeepsTheVMsButRefusesNewOnes() async throws {
        try await withScriptPool { pool async throws in
            try await pool.seed(cap: 5)
            try await pool.addVMs(1...4)
            #expect(try await pool.run(.setPool, [admin, "2"]) == poolStatsReply([2, 4, 0, 4, 0, 0, 0]))
            #expect(try await pool.vmIDs().count == 4)
            let candidate = ScriptPool.candidate(9)
            try await pool.expectFailure(.createVMs, [admin, "1", "", "", "", "", candidate.id, candidate.ip], code: "MAX_VM_COUNT", message: maxVMCountMessage)
        }
    }

    @Test func setPoolRejectsBadCaps() async throws {
        try await withScriptPool { pool async throws in
            try await pool.seed(cap: 5)
            for bad in ["", "-1", "x", "2.5", "1000001"] {
                try await pool.expectFailure(.setPool, [admin, bad], code: "BAD_REQUEST")
            }
            try await pool.expectFailure(.setPool, [admin], code: "BAD_REQUEST")
            #expect(try await pool.hash("pool") == ["max_vm_count": "5", "layout": "hashes"])
        }
    }

    @Test func aBlockSetLaterKnowsTheAddressesAlreadyInUseAndNoneGoesBackToRandom() async throws {
        try await withScriptPool { pool async throws in
            try await pool.seed(cap: 100)
            #expect(try await create(pool, 1) == ["11.9.0.0"], "no block: the proposed address")
            _ = try await pool.run(.setPool, [ScriptPool.admin, "", "11.9.0.0/30"])
            #expect(try await create(pool, 2, start: 5) == ["11.9.0.1", "11.9.0.2"])
            let full = try await pool.run(.poolStats, [ScriptPool.admin])
            #expect(full == poolStatsReply([100, 3, 0, 3, 0, 0, 0], ipPool: "11.9.0.0/30", free: 0))
            // a /32 and a /31 have no network or broadcast address to keep out
            _ = try await pool.run(.setPool, [ScriptPool.admin, "", "11.10.0.0/31"])
            #expect(try await create(pool, 3, start: 10) == ["11.10.0.0", "11.10.0.1"])
            _ = try await pool.run(.setPool, [ScriptPool.admin, "", "none"])
            #expect(try await create(pool, 1, start: 30) == ["11.9.0.30"])
            #expect(try await pool.exists("ipbits") == false)
        }
    }

    @Test func onlyNetworkAddressesWithAPrefixFromTwelveToThirtyTwo() async throws {
        try await withScriptPool { pool async throws in
            try await pool.seed(cap: 100)
            for bad in ["10.0.0.1/24", "10.0.0.0/8", "10.0.0.0/33", "10.0.0.0", "x/24", "10.0.0/24", "10.0.0.0/-1"] {
                try await pool.expectFailure(.setPool, [ScriptPool.admin, "", bad], code: "BAD_REQUEST")
            }
            try await pool.expectFailure(.setPool, [ScriptPool.admin, "", ""], code: "BAD_REQUEST", message: "give max_vm_count, ip_pool or both")
            #expect(try await pool.run(.setPool, [ScriptPool.admin, "", "10.16.0.0/12"]) == poolStatsReply([100, 0, 0, 0, 0, 0, 0], ipPool: "10.16.0.0/12", free: 1_048_574))
        }
    }
}
