import Foundation
import RedisClient
import Reservations
import Testing
import TestSupport

/// lua/claim.lua: a waiting checkout takes the VM handed to it.
@Suite struct ClaimScriptTests: ScriptSuite {
    @Test func newVMsGoToWaitersAndAClaimWithoutALeaseHasNone() async throws {
        try await withScriptPool { pool async throws in
            try await pool.seed(cap: 5)
            let ann = try await pool.addUser("ann", quota: 1)
            try await wait(pool, ann, ticket: "t0")
            let (id, _) = try await pool.addVMs(1...1)[0]
            #expect(try await handoffs(pool) == ["t0 \(id)"])
            let claimed = fields(try await pool.run(.claim, [ann, "t0", "", "", "604800"]))
            #expect(claimed["lease_expires_at"] == nil && claimed["user"] == "ann")
            #expect(try await pool.zmembers("leases").isEmpty)
        }
    }
}
