import RedisClient
import Reservations
import Testing
import TestSupport

/// IP pools in the scripts: addresses from the block, lowest free first, never twice, reused
/// after a delete, and a clear error when the block is full.
@Suite struct IPPoolScriptTests {
    /// Creates `count` VMs with candidate ids `c-<start>...` (their proposed IPs are ignored
    /// when a block is set) and answers the IPs they got, in order.
    private func create(_ pool: ScriptPool, _ count: Int, start: Int = 0) async throws -> [String] {
        var arguments = [ScriptPool.admin, String(count), "", "", "", ""]
        for index in start..<(start + count + 4) { arguments += ["c-\(index)", "11.9.\(index / 256).\(index % 256)"] }
        let reply = try await pool.run(.createVMs, arguments).array ?? []
        return reply.dropFirst().compactMap { fields($0)["ip"] }
    }

    @Test func addressesComeFromTheBlockLowestFirstUntilItIsFull() async throws {
        try await withScriptPool { pool async throws in
            try await pool.seed(cap: 100)
            let stats = try await pool.run(.setPool, [ScriptPool.admin, "", "10.1.2.0/29"])
            #expect(stats == poolStatsReply([100, 0, 0, 0, 0, 0, 0], ipPool: "10.1.2.0/29", free: 6), "network and broadcast are not handed out")
            #expect(try await create(pool, 4) == ["10.1.2.1", "10.1.2.2", "10.1.2.3", "10.1.2.4"])
            #expect(try await create(pool, 5, start: 10) == ["10.1.2.5", "10.1.2.6"], "as many as the block has room for")
            let error = try await pool.expectFailure(.createVMs, [ScriptPool.admin, "1", "", "", "", "", "c-99", "11.9.9.9"], code: "IP_POOL_EXHAUSTED")
            #expect(error?.message == "no free address is left in the IP pool 10.1.2.0/29")
            #expect(try await pool.run(.poolStats, [ScriptPool.admin]) == poolStatsReply([100, 6, 0, 6, 0, 0, 0], ipPool: "10.1.2.0/29", free: 0))

            // a deleted VM's address is the next one handed out
            let third = try #require(try await pool.ipIndex()["10.1.2.3"])
            _ = try await pool.run(.deleteVM, [ScriptPool.admin, third, ""])
            #expect(try await create(pool, 1, start: 20) == ["10.1.2.3"])
            #expect(Set(try await pool.ipIndex().keys).count == 6)
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

    @Test func initPoolSeedsTheBlockOnlyWhenThePoolHasNone() async throws {
        try await withScriptPool { pool async throws in
            _ = try await pool.run(.initPool, ["10", "192.168.7.0/24"])
            _ = try await pool.run(.initPool, ["10", "192.168.8.0/24"])
            #expect(try await pool.hash("pool")["ip_pool"] == "192.168.7.0/24")
            #expect(try await create(pool, 1) == ["192.168.7.1"])
        }
    }
}
