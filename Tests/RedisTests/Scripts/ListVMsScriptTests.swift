import Foundation
import RedisClient
import Reservations
import Testing
import TestSupport

/// lua/list_vms.lua: one page of all VMs in id order, optionally of one status.
@Suite struct ListVMsScriptTests: ScriptSuite {
    private func page(_ pool: ScriptPool, status: String = "", cursor: String = "", limit: Int) async throws -> (ids: [String], next: String) {
        let elements = try #require(try await pool.run(.listVMs, [admin, status, cursor, String(limit)]).array)
        return (elements.dropFirst().compactMap { fields($0)["vm_id"] }, elements.first?.string ?? "?")
    }

    @Test func pagesThroughAllVMsInIdOrder() async throws {
        try await withScriptPool { pool async throws in
            try await pool.seed(cap: 10)
            try await pool.addVMs(1...5)
            var result = try await page(pool, limit: 2)
            #expect(result.ids == ["vm-00001", "vm-00002"] && result.next == "vm-00002")
            result = try await page(pool, cursor: result.next, limit: 2)
            #expect(result.ids == ["vm-00003", "vm-00004"] && result.next == "vm-00004")
            result = try await page(pool, cursor: result.next, limit: 2)
            #expect(result.ids == ["vm-00005"] && result.next == "")
            // whole records
            let first = try #require(try await pool.run(.listVMs, [admin, "", "", "1"]).array)
            #expect(fields(first[1]) == (try await pool.vm("vm-00001")))
        }
    }

    @Test func aFullLastPageHasAnEmptyCursor() async throws {
        try await withScriptPool { pool async throws in
            try await pool.seed(cap: 10)
            try await pool.addVMs(1...4)
            let first = try await page(pool, limit: 2)
            #expect(first.next == "vm-00002")
            let second = try await page(pool, cursor: first.next, limit: 2)
            #expect(second.ids == ["vm-00003", "vm-00004"] && second.next == "")
            #expect(try await page(pool, limit: 4) == (["vm-00001", "vm-00002", "vm-00003", "vm-00004"], ""))
        }
    }

    @Test func anEmptyPoolIsOneEmptyPage() async throws {
        try await withScriptPool { pool async throws in
            #expect(try await pool.run(.listVMs, [admin, "", "", "10"]) == .array([.bulkString([])]))
            #expect(try await pool.run(.listVMs, [admin, "available", "", "10"]) == .array([.bulkString([])]))
        }
    }

    @Test func filtersByStatusAcrossPages() async throws {
        try await withScriptPool { pool async throws in
            try await pool.seed(cap: 10)
            try await pool.addVMs(1...6)
            let alice = try await pool.addUser("alice", quota: 2)
            let held = [try await pool.checkout(alice), try await pool.checkout(alice)].sorted()
            #expect(try await page(pool, status: "checked-out", limit: 10) == (held, ""))
            var available: [String] = []
            var cursor = ""
            repeat {
                let result = try await page(pool, status: "available", cursor: cursor, limit: 3)
                #expect(result.ids.count <= 3)
                available += result.ids
                cursor = result.next
            } while !cursor.isEmpty
            #expect(available == (1...6).map { ScriptPool.candidate($0).id }.filter { !held.contains($0) })
            #expect(try await page(pool, status: "error", limit: 10) == ([], ""))
        }
    }

    @Test func aFilteredPageStopsAfterExaminingTenThousandIds() async throws {
        try await withScriptPool { pool async throws in
            try await pool.seed(cap: 10_050)
            try await pool.addVMs(1...10_050)
            try await pool.setVM("vm-10040", ["status": "error"])
            let first = try await page(pool, status: "error", limit: 10)
            #expect(first == ([], "vm-10000"))
            let second = try await page(pool, status: "error", cursor: first.next, limit: 10)
            #expect(second == (["vm-10040"], ""))
        }
    }

    @Test func rejectsBadFiltersAndLimits() async throws {
        try await withScriptPool { pool async throws in
            try await pool.seed(cap: 10)
            try await pool.addVMs(1...2)
            try await pool.expectFailure(.listVMs, [admin, "bogus", "", "10"], code: "BAD_REQUEST",
                                         message: "status must be one of provisioning, available, checked-out, error, deprovisioning, set-aside")
            for limit in ["0", "1001", "", "x", "-1"] {
                try await pool.expectFailure(.listVMs, [admin, "", "", limit], code: "BAD_REQUEST")
            }
            try await pool.expectFailure(.listVMs, [admin], code: "BAD_REQUEST")
        }
    }
}
