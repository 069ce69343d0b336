import Foundation
import RedisClient
import Reservations
import Testing
import TestSupport

// The VM record buckets of lua/_prelude.lua ("VMs"): a bucket that holds more than the pool's
// bucket_split_at VMs is split by the fourth character of their ids, and every script still finds,
// lists and removes every VM.

private let admin = ScriptPool.admin

/// An id that starts with `start` and then the hex digit of `number`, unique by `number`.
private func id(_ start: String, _ number: Int) -> String {
    start + String(number % 16, radix: 16) + String(format: "%05d", number) + "-0000-4000-8000-000000000000"
}

@Suite struct BucketScriptTests {
    /// Creates `ids` as the admin, `batch` per call (addresses 12.0.x.y by position).
    private func create(_ pool: ScriptPool, _ ids: [String], offset: Int = 0, batch: Int = 8) async throws {
        for start in stride(from: 0, to: ids.count, by: batch) {
            let part = ids[start..<min(ids.count, start + batch)]
            let candidates = part.enumerated().flatMap { index, id in
                let number = offset + start + index
                return [id, "12.0.\(number >> 8).\(number & 0xFF)"]
            }
            let reply = try await pool.run(.createVMs, [admin, String(part.count), "", "", "", ""] + candidates)
            #expect(reply.array?.count == part.count + 1, "\(reply)")
        }
    }

    private func listed(_ pool: ScriptPool, limit: Int) async throws -> [String] {
        var ids: [String] = [], cursor = ""
        repeat {
            let page = try #require(try await pool.run(.listVMs, [admin, "", cursor, String(limit)]).array)
            cursor = page[0].string ?? ""
            ids += page.dropFirst().compactMap { fields($0)["vm_id"] }
        } while !cursor.isEmpty
        return ids
    }

    @Test func aBucketPastItsLimitIsSplitByTheNextCharacterAndEveryVMIsStillFoundListedHeldAndReturned() async throws {
        try await withScriptPool { pool async throws in
            try await pool.seed(cap: 1000)
            try await pool.command("HSET", pool.key("pool"), "bucket_split_at", "4")
            let crowded = (0..<48).map { id("abc", $0) }, few = (0..<3).map { id("abd", $0) }
            try await create(pool, crowded + few)
            #expect(try await pool.exists("records:abc") == false, "the crowded bucket was split")
            let buckets = try await pool.zmembers("buckets")
            #expect(buckets == (0..<16).map { "abc" + String($0, radix: 16) } + ["abd"])
            for bucket in buckets {
                let size = try await pool.command("HLEN", pool.key("records:" + bucket)).int ?? 0
                #expect(size == 3, "\(bucket) holds \(size)")
            }
            let all = (crowded + few).sorted()
            #expect(try await listed(pool, limit: 7) == all, "every VM once, in id order")
            #expect(try await pool.count("available") == all.count)

            let user = try await pool.addUser("alice", quota: 100)
            var held: [String] = []
            for _ in all { held.append(try await pool.checkout(user, defaultQuota: 100)) }
            #expect(held.sorted() == all, "each VM handed out once")
            try await pool.expectFailure(.checkout, [user, "100", ""] + gatewayLeases, code: "NO_VM_AVAILABLE")
            for vm in all {
                #expect(fields(try await pool.run(.getVM, [user, vm]))["status"] == "checked-out")
                _ = try await pool.run(.checkin, [user, vm, ""])
            }
            #expect(try await pool.vmIDs(status: "available") == Set(all))
            #expect(try await pool.count("available") == all.count)
        }
    }

    @Test func newVMsOfASplitBucketGoToItsPartsUntilTheyAreEmptyAgain() async throws {
        try await withScriptPool { pool async throws in
            try await pool.seed(cap: 1000)
            try await pool.command("HSET", pool.key("pool"), "bucket_split_at", "4")
            let first = (0..<6).map { id("abc", $0) }
            try await create(pool, first, batch: 6)
            #expect(try await pool.exists("records:abc") == false)
            let later = id("abc", 99)
            try await create(pool, [later], offset: 50)
            #expect(try await pool.exists("records:abc") == false, "not written to the split bucket")
            #expect(try await pool.record(later)?.bucket == pool.key("records:abc3"))

            for vm in first + [later] { _ = try await pool.run(.deleteVM, [admin, vm, ""]) }
            #expect(try await pool.zmembers("buckets") == [])
            #expect(try await pool.command("KEYS", pool.key("records:*")).array?.count == 0, "no bucket left behind")
            let again = id("abc", 7)
            try await create(pool, [again], offset: 60)
            #expect(try await pool.record(again)?.bucket == pool.key("records:abc"), "a fresh start in the short bucket")
            #expect(try await pool.zmembers("buckets") == ["abc"])
        }
    }

    @Test func withoutTheSettingABucketSplitsPast128VMs() async throws {
        try await withScriptPool { pool async throws in
            try await pool.seed(cap: 1000)
            let ids = (0..<129).map { id("abc", $0) }
            try await create(pool, Array(ids.prefix(128)), batch: 128)
            #expect(try await pool.exists("records:abc"), "128 VMs fit")
            try await create(pool, [ids[128]], offset: 128)
            #expect(try await pool.exists("records:abc") == false, "the 129th splits it")
            #expect(try await pool.vmIDs() == ids.sorted())
        }
    }
}

@Suite struct AddressBucketScriptTests {
    @Test func anAddressBucketPastItsLimitIsSplitAndEveryAddressStaysUniqueAndFound() async throws {
        try await withScriptPool { pool async throws in
            try await pool.seed(cap: 1000)
            try await pool.command("HSET", pool.key("pool"), "bucket_split_at", "4")
            // addresses whose last twelve bits are alike (3.7: bucket 3 * 256 + 7), by sixteens of the third number
            let addresses = (0..<10).map { "11.0.\($0 * 16 + 3).7" }
            let ids = (0..<10).map { String(format: "%08x-0000-4000-8000-000000000000", $0 * 4099) }
            for (id, ip) in zip(ids, addresses) {
                _ = try await pool.run(.createVMs, [admin, "1", "", "", "", "", id, ip])
            }
            #expect(try await pool.exists("ips:775") == false, "the crowded bucket was split")
            #expect(try await pool.exists("ips:775:9"))
            #expect(try await pool.ipIndex() == Dictionary(uniqueKeysWithValues: zip(addresses, ids)))
            let taken = try await pool.run(.createVMs, [admin, "1", "", "", "", "", "ffffffff-0000-4000-8000-000000000000", addresses[9]])
            #expect(taken.array?.count == 1, "an address in a part is still taken: \(taken)")

            let user = try await pool.addUser("alice", quota: 10)
            for _ in ids { _ = try await pool.checkout(user, defaultQuota: 10) }
            for ip in addresses {
                #expect(fields(try await pool.run(.checkin, [user, "", ip]))["ip"] == ip, "found by its address")
            }
            for id in ids { _ = try await pool.run(.deleteVM, [admin, id, ""]) }
            #expect(try await pool.ipIndex().isEmpty)
            #expect(try await pool.command("KEYS", pool.key("ips:*")).array?.count == 0, "no bucket left behind")
        }
    }
}
