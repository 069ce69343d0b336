import Foundation
import RedisClient
import Reservations
import Testing
import TestSupport

/// lua/init_pool.lua: moving a pool of the bucketed layout (Tests/Fixtures/bucketed-layout, vmreserve up to commit c78e0e9) into hashes, refusing layouts it cannot read.
@Suite struct InitPoolUpgradeTests {
    /// The bucketed layout's scripts, loaded as that version loaded them: its prelude, then each
    /// script as a function `bucketed_<name>`.
    static let bucketedLibrary: RedisFunctionLibrary = {
        let folder = repositoryRoot.appending(path: "Tests/Fixtures/bucketed-layout")
        var code = try! String(contentsOf: folder.appending(path: "_prelude.lua"), encoding: .utf8)
        for file in try! FileManager.default.contentsOfDirectory(atPath: folder.path).sorted()
        where file.hasSuffix(".lua") && file != "_prelude.lua" {
            let body = try! String(contentsOf: folder.appending(path: file), encoding: .utf8)
            code += "\nredis.register_function('bucketed_\(file.dropLast(4))', function(keys, args)\nenter(keys, args)\n\(body)\nend)\n"
        }
        return RedisFunctionLibrary(name: "bucketed", code: code)
    }()

    /// The bucketed layout's 18 record fields, in their order.
    static let recordFields = ["status", "ip", "created_at", "size", "cpu", "memory_mb", "user", "checked_out_at", "lease_expires_at",
                               "lease_seconds", "claim_ticket", "available_since", "job", "job_claim", "job_worker", "failures",
                               "machine_id", "error"]

    /// A pool's scripts of the bucketed layout, called on the same pool as `pool`'s.
    struct BucketedPool {
        let client: RedisClient
        let pool: ScriptPool

        @discardableResult
        func run(_ script: String, _ arguments: [String]) async throws -> RESPValue {
            try await client.call(function: "bucketed_" + script, keys: [pool.key("pool"), pool.key("records:")], arguments: arguments)
        }

        /// Every VM as that layout's list_vms answers it: id → its fields (machine_id unescaped).
        func vms() async throws -> [String: [String: String]] {
            var vms: [String: [String: String]] = [:]
            for pair in try await run("list_vms", [ScriptPool.admin, "", "", "1000"]).array?.dropFirst() ?? [] {
                let id = pair.array?[0].string ?? "?", text = pair.array?[1].string ?? ""
                let values = text.split(separator: "|", maxSplits: recordFields.count - 1, omittingEmptySubsequences: false)
                var vm = ["vm_id": id]
                for (field, value) in zip(recordFields, values) where !value.isEmpty { vm[field] = String(value) }
                vm["machine_id"] = vm["machine_id"]?.replacingOccurrences(of: "%7C", with: "|").replacingOccurrences(of: "%25", with: "%")
                vms[id] = vm
            }
            return vms
        }
    }

    func withBucketedPool(_ body: @Sendable (BucketedPool, ScriptPool) async throws -> Void) async throws {
        try await withRedisClient(.test(try await SharedRedis.url()), library: Self.bucketedLibrary) { old in
            try await withScriptPool { pool in try await body(BucketedPool(client: old, pool: pool), pool) }
        }
    }

    /// Calls init_pool (as a gateway that runs idle cleanup, with `idle`) until it answers
    /// something other than AGAIN; answers every answer.
    static func upgrade(_ pool: ScriptPool, cap: String, idle: Bool = false) async throws -> [RESPValue] {
        var answers: [RESPValue] = []
        repeat {
            answers.append(try await pool.run(.initPool, [cap, "", "", "", "", idle ? "idle" : ""]))
        } while answers.last == .again && answers.count < 20
        return answers
    }

    @Test func aBucketedPoolIsMovedWithEveryVMUserLeaseWaiterJobAndEventKept() async throws {
        try await withBucketedPool { old, pool in
            let admin = ScriptPool.admin
            try await old.run("init_pool", ["40", "", "small=1:2048,large=4:8192", "jobs", "reuse"])
            try await pool.command("HSET", pool.key("pool"), "bucket_split_at", "4")  // split buckets too
            var identities: [String: String] = [:]
            for (name, role, quota) in [("alice", "user", "5"), ("bob", "admin", "2"), ("carol", "user", "1")] {
                let hash = newTokenHash()
                try await old.run("create_user", [admin, name, role, quota, hash])
                identities[name] = "t:" + hash
            }
            try await old.run("update_user", [admin, "alice", "", "", "600", "small=3"])
            try await old.run("create_vms", [admin, "12", "", "", "", ""] + (1...12).flatMap {
                [String(format: "vm-%05d", $0), "11.0.0.\($0)"]
            })
            try await old.run("create_vms", [admin, "2", "large", "", "", "", "lg-1", "11.0.1.1", "lg-2", "11.0.1.2"])
            // the provider's work: every VM provisioned, but one that fails and one still being made
            while let job = try await old.run("take_job", ["600000", "worker-1"]).array, job.first?.string == "job" {
                let id = job[1].string ?? "", claim = job[3].string ?? ""
                if id == "vm-00012" { continue }
                let failed = id == "vm-00011"
                try await old.run("finish_job", [id, claim, failed ? "failed" : "done", "", "i-\(id)|%", failed ? "no capacity | try later" : ""])
            }
            let (alice, bob, carol) = (identities["alice"]!, identities["bob"]!, identities["carol"]!)
            for lease in ["300", "300", ""] { try await old.run("checkout", [alice, "1", lease, "", "3600", "small", "", ""]) }
            try await old.run("checkout", [bob, "1", "", "", "3600", "large", "", ""])
            try await old.run("checkout", [admin, "1", "120", "", "3600", "large", "", ""])
            let queued = try await old.run("wait_checkout", [carol, "1", "", "", "3600", "600000", "gw-1", "ticket-1", "large", "", ""])
            #expect(queued.array?.first?.string == "queued")
            try await old.run("delete_vm", [admin, "vm-00010", ""])
            #expect(try await pool.exists("records:vm-0"), "the bucketed layout, its buckets split")

            let vmsBefore = try await old.vms(), usersBefore = try await old.run("list_users", [admin])
            let statsBefore = try await old.run("pool_stats", [admin])
            #expect(Set(vmsBefore.values.compactMap { $0["status"] })
                    == ["provisioning", "available", "checked-out", "error", "deprovisioning"], "VMs in every status")
            let eventsBefore = try await pool.events()
            var kept: [String: String] = [:]
            for key in ["leases", "jobs", "waiters", "waiting", "held:alice", "held:bob", "held:admin"] {
                kept[key] = try await pool.dump()[pool.key(key)]
            }

            let answers = try await Self.upgrade(pool, cap: "40", idle: true)
            #expect(answers == [.again, .integer(40)], "the users in one part, the VMs in the next")

            // every VM, with each field as it was; available_since is the VM's score in the idle index
            let vmsAfter = try await pool.allVMs()
            #expect(vmsAfter.count == 14)
            for (id, before) in vmsBefore {
                #expect(vmsAfter[id] == before.filter { $0.key != "available_since" }, "\(id)")
                if let since = before["available_since"] {
                    #expect(try await pool.command("ZSCORE", pool.key("idle"), id).string == since)
                }
            }
            #expect(try await pool.vm("vm-00011")["error"] == "no capacity | try later")
            #expect(try await pool.vm("vm-00001")["machine_id"] == "i-vm-00001|%")
            #expect(try await pool.run(.listUsers, [admin]) == usersBefore)
            // (the old layout knew no set-aside VMs: its stats have no count of them)
            var statsAfter = try #require(try await pool.run(.poolStats, [admin]).array)
            #expect(statsAfter.remove(at: 7) == .integer(0))
            #expect(RESPValue.array(statsAfter) == statsBefore)
            for (key, content) in kept { #expect(try await pool.dump()[pool.key(key)] == content, "\(key)") }
            let eventsAfter = try await pool.events()
            #expect(Array(eventsAfter.prefix(eventsBefore.count)) == eventsBefore)
            #expect(eventsAfter.dropFirst(eventsBefore.count).map { $0["detail"] } == ["14 VMs and 3 users moved to hashes of their own"])
            #expect(try await poolInconsistencies(pool.client, prefix: pool.keys.prefix) == [])
            #expect(try await pool.storedUser("alice")?["held:small"] == "3")
            let left = try await pool.command("KEYS", pool.keys.prefix + ":*").array?.compactMap(\.string) ?? []
            #expect(left.filter { ["records:", "buckets", "free:", "accounts:", "names", "ips:"].contains(where: $0.dropFirst(pool.keys.prefix.count + 1).hasPrefix) }
                    == [], "nothing of the bucketed layout is left")
            let poolHash = try await pool.hash("pool")
            #expect(poolHash["layout"] == "hashes" && poolHash["bucket_split_at"] == nil && poolHash["time_unit"] == nil)

            // once only, and the pool serves on: quotas by size count what was held, the waiter is served
            let before = try await pool.dump().filter { !$0.key.hasSuffix(":events") }
            #expect(try await pool.run(.initPool, ["40"]) == .integer(40))
            #expect(try await pool.dump().filter { !$0.key.hasSuffix(":events") } == before, "once only")
            try await pool.expectFailure(.checkout, [alice, "1", "", "", "3600", "small", "", ""], code: "QUOTA_EXCEEDED",
                                         message: "quota of 3 small VMs reached")
            let large = try #require(try await pool.members("held:bob").first)
            _ = try await pool.run(.checkin, [bob, large, ""])
            #expect(try await pool.command("LRANGE", pool.key("handoff:gw-1"), "0", "-1") == .array([.bulkString(Array("ticket-1 \(large)".utf8))]))
            #expect(try await poolInconsistencies(pool.client, prefix: pool.keys.prefix) == [])
        }
    }

    /// A large pool moves 1,000 users or VMs per call, so that Redis serves others between the
    /// parts, even from one bucket that holds more (ids with a common start fill one).
    @Test func aLargeBucketedPoolMovesInPartsOfAThousandPerCall() async throws {
        try await withBucketedPool { old, pool in
            try await old.run("init_pool", ["3000", "", "", "", ""])
            for start in stride(from: 0, to: 2500, by: 1000) {
                try await old.run("create_vms", [ScriptPool.admin, String(min(1000, 2500 - start)), "", "", "", ""]
                                  + (start..<min(start + 1000, 2500)).flatMap { [String(format: "vm-%05d", $0), "11.0.\($0 / 256).\($0 % 256)"] })
            }
            try await withThrowingTaskGroup { group in  // commands sent together are pipelined
                for index in 0..<1200 {
                    group.addTask { try await old.run("create_user", [ScriptPool.admin, "user\(index)", "user", "1", newTokenHash()]) }
                }
                try await group.waitForAll()
            }
            #expect(try await pool.run(.initPool, ["3000"]) == .again)
            #expect(try await pool.userNames().count == 1000, "a first part of 1,000 users")
            #expect(try await pool.run(.initPool, ["3000"]) == .again)
            #expect(try await pool.userNames().count == 1200)
            #expect(try await pool.run(.initPool, ["3000"]) == .again)
            #expect(try await pool.vmIDs().count == 1000, "then 1,000 VMs")
            #expect(try await Self.upgrade(pool, cap: "3000") == [.again, .integer(3000)])
            #expect(try await pool.vmIDs().count == 2500)
            #expect(try await pool.run(.poolStats, [ScriptPool.admin]) == poolStatsReply([3000, 2500, 0, 2500, 0, 0, 0]))
            #expect(try await pool.events().last?["detail"] == "2500 VMs and 1200 users moved to hashes of their own")
            #expect(try await pool.hash("pool").keys.filter { $0.hasPrefix("moved:") } == [], "no counts left behind")
            #expect(try await poolInconsistencies(pool.client, prefix: pool.keys.prefix) == [])
        }
    }

    @Test func aLayoutOlderThanTheBucketedOneOrFromANewerVersionIsRefusedAndLeftAsItIs() async throws {
        try await withScriptPool { pool async throws in
            // a pool from before milliseconds and buckets: no time_unit
            try await pool.command("HSET", pool.key("pool"), "max_vm_count", "5", "vm_count", "1")
            try await pool.command("ZADD", pool.key("vms"), "0", "vm-1")
            try await pool.expectFailure(.initPool, ["5"], code: "INVALID_STATE", message:
                "this pool was written by a vmreserve from before bucketed records (2026); start one gateway of the version of commit c78e0e9 on it once to move it, then this version")
        }
        try await withScriptPool { pool async throws in
            try await pool.command("HSET", pool.key("pool"), "layout", "columns")
            try await pool.expectFailure(.initPool, ["5"], code: "INVALID_STATE",
                                         message: "this pool has the layout columns, which a newer vmreserve wrote; run that version")
        }
    }
}
