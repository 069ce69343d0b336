import Foundation
import RedisClient
import Reservations
import Testing
import TestSupport

/// lua/reap_leases.lua: returns the VMs whose leases ran out (claim leases included), the first to expire first.
@Suite struct ReapLeasesScriptTests: ScriptSuite {
    @Test func theReaperReturnsExpiredLeasesOnlyAndSaysWhenTheNextEnds() async throws {
        try await withScriptPool { pool async throws in
            try await pool.seed(cap: 10)
            try await pool.addVMs(1...5)
            var ids: [String] = []
            for index in 0..<4 { ids.append(try await pool.checkout("p:holder\(index)", lease: "600")) }
            _ = try await pool.checkout("p:unleased")
            // two ran out (by their scores); the other two end at known times
            try await pool.command("ZADD", pool.key("leases"), "XX", "1", ids[0])
            try await pool.command("ZADD", pool.key("leases"), "XX", "2", ids[1])
            let later = try await pool.now() + 500_000
            try await pool.command("ZADD", pool.key("leases"), "XX", String(later), ids[2])

            let first = try await pool.run(.reapLeases, ["1"]).array?.compactMap(\.int) ?? []
            #expect(first.count == 3 && first[0] == 1 && first[1] == 2, "one of a batch of 1: \(first)")
            let second = try await pool.run(.reapLeases, ["1000"]).array?.compactMap(\.int) ?? []
            #expect(second.count == 3 && second[0] == 1 && second[1] == later, "\(second)")
            #expect(abs(second[2] - (try await pool.now())) < 60_000, "Redis' time, in ms")
            #expect(try await pool.vmIDs(status: "checked-out") == Set(ids[2...3]).union(try await pool.members("held:unleased")))
            #expect(try await pool.vm(ids[0])["user"] == nil)
            #expect(try await pool.members("held:holder0").isEmpty)
            #expect(try await pool.members("held:holder1").isEmpty)
            #expect(try await pool.run(.reapLeases, ["1000"]).array?.first?.int == 0, "again: nothing to do")
            for bad in ["0", "10001", "x", ""] { try await pool.expectFailure(.reapLeases, [bad], code: "BAD_REQUEST") }
        }
    }

    @Test func aVMNobodyClaimsComesBackWhenItsClaimLeaseEnds() async throws {
        try await withScriptPool { pool async throws in
            try await pool.seed(cap: 5)
            let ann = try await pool.addUser("ann", quota: 1)
            try await wait(pool, ann, ticket: "t0", gateway: "dead")
            let (id, _) = try await pool.addVMs(1...1)[0]
            #expect(try await pool.vm(id)["user"] == "ann")
            try await pool.command("ZADD", pool.key("leases"), "XX", "1", id)  // the claim lease runs out
            _ = try await pool.run(.reapLeases, ["10"])
            let vm = try await pool.vm(id)
            #expect(vm["status"] == "available" && vm["user"] == nil && vm["claim_ticket"] == nil)
            try await pool.expectFailure(.claim, [ann, "t0", "", "", "604800"], code: "NO_VM_AVAILABLE", changesState: true)
        }
    }
}
