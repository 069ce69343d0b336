import RedisClient
import Reservations
import Testing
import TestSupport

/// Leases in the scripts: their length (asked, default, maximum, a user's own maximum), renewal,
/// the reaper's script, and the conversion of pools from before times were milliseconds.
@Suite struct LeaseScriptTests {
    /// A checkout's arguments after the identity: default quota 5, then the lease settings.
    private func checkout(_ pool: ScriptPool, _ identity: String, lease: String = "", default: String = "", max: String = "604800")
        async throws -> [String: String]
    {
        fields(try await pool.run(.checkout, [identity, "5", lease, `default`, max]))
    }

    private func lengthOfLease(_ record: [String: String]) -> Int? {
        guard let start = record["checked_out_at"].flatMap({ Int($0) }), let end = record["lease_expires_at"].flatMap({ Int($0) }) else {
            return nil
        }
        return end - start
    }

    @Test func theDefaultLeaseAppliesWhenACheckoutAsksForNone() async throws {
        try await withScriptPool { pool async throws in
            try await pool.seed(cap: 5)
            try await pool.addVMs(1...3)
            let alice = try await pool.addUser("alice", quota: 3)
            #expect(lengthOfLease(try await checkout(pool, alice, default: "300")) == 300_000)
            #expect(lengthOfLease(try await checkout(pool, alice, lease: "20", default: "300")) == 20_000)
            let unleased = try await checkout(pool, alice)
            #expect(unleased["lease_expires_at"] == nil && unleased["lease_seconds"] == nil)
        }
    }

    @Test func aLeaseOverTheMaximumIsRefusedAndAUsersOwnMaximumWins() async throws {
        try await withScriptPool { pool async throws in
            try await pool.seed(cap: 5)
            try await pool.addVMs(1...4)
            let alice = try await pool.addUser("alice", quota: 4)
            let error = try await pool.expectFailure(.checkout, [alice, "5", "3601", "", "3600"], code: "BAD_REQUEST")
            #expect(error?.message == "the longest lease you may ask for is 3600 seconds")
            #expect(lengthOfLease(try await checkout(pool, alice, lease: "3600", max: "3600")) == 3_600_000)
            // an admin gives alice a longer maximum of her own
            _ = try await pool.run(.updateUser, [ScriptPool.admin, "alice", "", "", "86400"])
            #expect(lengthOfLease(try await checkout(pool, alice, lease: "86400", max: "3600")) == 86_400_000)
            // or a shorter one; a default above it is cut to it, an explicit ask refused
            _ = try await pool.run(.updateUser, [ScriptPool.admin, "alice", "", "", "60"])
            #expect(lengthOfLease(try await checkout(pool, alice, default: "300", max: "3600")) == 60_000)
            try await pool.expectFailure(.checkout, [alice, "5", "61", "", "3600"], code: "BAD_REQUEST",
                                         message: "the longest lease you may ask for is 60 seconds")
            // and removes it: the gateway's maximum applies again
            _ = try await pool.run(.updateUser, [ScriptPool.admin, "alice", "", "", "none"])
            #expect(try await pool.storedUser("alice")?["max_lease"] == nil)
            #expect(lengthOfLease(try await checkout(pool, alice, lease: "3000", max: "3600")) == 3_000_000)
        }
    }

    @Test func updateUserRefusesAMaximumLeaseOutOfRange() async throws {
        try await withScriptPool { pool async throws in
            try await pool.seed(cap: 5)
            _ = try await pool.addUser("alice")
            for bad in ["0", "-1", "31536001", "1.5", "forever", "None"] {
                try await pool.expectFailure(.updateUser, [ScriptPool.admin, "alice", "", "", bad], code: "BAD_REQUEST")
            }
            let record = fields(try await pool.run(.updateUser, [ScriptPool.admin, "alice", "", "", "31536000"]))
            #expect(record["max_lease"] == "31536000")
            #expect(fields(try await pool.run(.updateUser, [ScriptPool.admin, "alice", "2", "", ""]))["max_lease"] == "31536000")
        }
    }

    @Test func renewExtendsTheHoldersLeaseFromNow() async throws {
        try await withScriptPool { pool async throws in
            try await pool.seed(cap: 5)
            try await pool.addVMs(1...1)
            let alice = try await pool.addUser("alice", quota: 1)
            let checkedOut = try await checkout(pool, alice, lease: "60")
            let id = try #require(checkedOut["vm_id"])
            let before = try await pool.now()
            let renewed = fields(try await pool.run(.renew, [alice, id, "120"] + gatewayLeases))
            let after = try await pool.now()
            let expiry = try #require(renewed["lease_expires_at"].flatMap { Int($0) })
            #expect((before + 120_000...after + 120_000).contains(expiry))
            #expect(renewed["checked_out_at"] == checkedOut["checked_out_at"], "still the same checkout")
            #expect(renewed["user"] == "alice" && renewed["lease_seconds"] == "120")
            #expect(try await pool.command("ZSCORE", pool.key("leases"), id).int == expiry)
            // without a length: the lease's own again
            let again = fields(try await pool.run(.renew, [alice, id, ""] + gatewayLeases))
            #expect(again["lease_seconds"] == "120")
            #expect(try #require(again["lease_expires_at"].flatMap { Int($0) }) >= expiry)
        }
    }

    @Test func onlyTheHolderRenewsOthersLearnNothing() async throws {
        try await withScriptPool { pool async throws in
            try await pool.seed(cap: 5)
            try await pool.addVMs(1...1)
            let alice = try await pool.addUser("alice", quota: 1)
            let bob = try await pool.addUser("bob", quota: 1)
            let id = try await pool.checkout(alice, lease: "60")
            let hidden = try await pool.expectFailure(.renew, [bob, id, "60"] + gatewayLeases, code: "VM_NOT_FOUND")
            let absent = try await pool.expectFailure(.renew, [bob, "vm-99999", "60"] + gatewayLeases, code: "VM_NOT_FOUND")
            #expect(hidden?.message == absent?.message, "the same answer as for a VM that does not exist")
            try await pool.expectFailure(.renew, [ScriptPool.admin, id, "60"] + gatewayLeases, code: "FORBIDDEN",
                                         message: "only the holder of a VM can renew its lease")
            try await pool.expectFailure(.renew, [alice, id, "604801"] + gatewayLeases, code: "BAD_REQUEST")
            try await pool.expectFailure(.renew, [alice, id, "0"] + gatewayLeases, code: "BAD_REQUEST")
            try await pool.expectFailure(.renew, [alice, "", "60"] + gatewayLeases, code: "BAD_REQUEST")
        }
    }

    @Test func aVMWithoutALeaseGetsOneOnlyWhenALengthIsKnown() async throws {
        try await withScriptPool { pool async throws in
            try await pool.seed(cap: 5)
            try await pool.addVMs(1...1)
            let alice = try await pool.addUser("alice", quota: 1)
            let id = try await pool.checkout(alice)
            try await pool.expectFailure(.renew, [alice, id, ""] + gatewayLeases, code: "BAD_REQUEST",
                                         message: "this VM has no lease: give lease_seconds")
            #expect(fields(try await pool.run(.renew, [alice, id, "", "90", "604800"]))["lease_seconds"] == "90", "the default")
        }
    }

    @Test func aLeaseThatRanOutCannotBeRenewed() async throws {
        try await withScriptPool { pool async throws in
            try await pool.seed(cap: 5)
            try await pool.addVMs(1...1)
            let alice = try await pool.addUser("alice", quota: 1)
            let id = try await pool.checkout(alice, lease: "60")
            try await pool.command("ZADD", pool.key("leases"), "XX", "1", id)
            try await pool.setVM(id, ["lease_expires_at": "1"])
            try await pool.expectFailure(.renew, [alice, id, "60"] + gatewayLeases, code: "VM_NOT_FOUND", changesState: true)
            #expect(try await pool.vm(id)["status"] == "available")
            #expect(try await pool.members("held:alice").isEmpty)
        }
    }

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

    @Test func aPoolFromBeforeMillisecondsAndBucketsIsConvertedOnce() async throws {
        try await withScriptPool { pool async throws in
            // a pool as an older gateway left it: times in seconds (no time_unit), a hash per VM
            // and per user, sets per status, the addresses in one hash, an idle index, the
            // token hashes in one hash, the names in a zset
            let now = try await pool.now() / 1000
            let (aliceHash, bobHash) = (newTokenHash(), newTokenHash())
            let (alice, bob) = ("t:" + aliceHash, "t:" + bobHash)
            try await pool.command("HSET", pool.key("user:alice"), "name", "alice", "role", "user", "quota", "2", "token", aliceHash,
                                   "created_at", String(now - 20), "max_lease", "600")
            try await pool.command("HSET", pool.key("user:bob"), "name", "bob", "role", "admin", "quota", "1", "token", bobHash,
                                   "created_at", String(now - 20), "size_quotas", "small=1")
            // carol is in both layouts (made by a new gateway meanwhile): the present one wins;
            // dave has no token, so never authenticated: dropped
            let carol = try await pool.addUser("carol", quota: 4)
            try await pool.command("HSET", pool.key("user:carol"), "name", "carol", "role", "user", "quota", "1", "token", newTokenHash(),
                                   "created_at", String(now - 20))
            try await pool.command("HSET", pool.key("user:dave"), "name", "dave", "role", "user", "quota", "1", "created_at", String(now - 20))
            try await pool.command("ZADD", pool.key("users"), "0", "alice", "0", "bob", "0", "carol", "0", "dave")
            try await pool.command("HSET", pool.key("tokens"), aliceHash, "alice", bobHash, "bob")
            try await pool.command("HSET", pool.key("pool"), "max_vm_count", "5", "sizes", "small=1:2048")
            try await pool.command("HDEL", pool.key("pool"), "time_unit")
            try await pool.command("HSET", pool.key("vm:vm-1"), "vm_id", "vm-1", "status", "checked-out", "ip", "11.0.0.1",
                                   "user", "alice", "checked_out_at", String(now), "lease_expires_at", String(now + 60),
                                   "lease_seconds", "60", "created_at", String(now - 10), "size", "small", "cpu", "1", "memory_mb", "2048")
            try await pool.command("HSET", pool.key("vm:vm-2"), "vm_id", "vm-2", "status", "available", "ip", "11.0.0.2",
                                   "created_at", String(now - 10), "size", "small", "cpu", "1", "memory_mb", "2048")
            try await pool.command("HSET", pool.key("vm:vm-3"), "vm_id", "vm-3", "status", "error", "created_at", String(now - 10),
                                   "error", "boom | with a bar", "machine_id", "m|1%")
            try await pool.command("ZADD", pool.key("vms"), "0", "vm-1", "0", "vm-2", "0", "vm-3")
            try await pool.command("SADD", pool.key("status:checked-out"), "vm-1")
            try await pool.command("SADD", pool.key("status:available"), "vm-2")
            try await pool.command("SADD", pool.key("status:available:small"), "vm-2")
            try await pool.command("SADD", pool.key("status:error"), "vm-3")
            try await pool.command("HSET", pool.key("ips"), "11.0.0.1", "vm-1", "11.0.0.2", "vm-2")
            try await pool.command("ZADD", pool.key("idle"), "1", "vm-2")
            try await pool.command("ZADD", pool.key("leases"), String(now + 60), "vm-1")
            try await pool.command("SADD", pool.key("held:alice"), "vm-1")

            // the VMs in one part, the users in the next (called again while it answers AGAIN)
            #expect(try await pool.run(.initPool, ["5"]) == .again)
            #expect(try await pool.run(.initPool, ["5"]) == .integer(5))
            #expect(try await pool.command("ZSCORE", pool.key("leases"), "vm-1").int == (now + 60) * 1000)
            #expect(try await pool.hash("pool")["time_unit"] == "ms")
            let held = try await pool.vm("vm-1")
            #expect(held["status"] == "checked-out" && held["user"] == "alice" && held["lease_expires_at"] == String((now + 60) * 1000))
            #expect(held["ip"] == "11.0.0.1" && held["size"] == "small" && held["created_at"] == String(now - 10))
            let failed = try await pool.vm("vm-3")
            #expect(failed["error"] == "boom | with a bar" && failed["machine_id"] == "m|1%", "text from outside, kept exactly")
            #expect(try await pool.vmIDs() == ["vm-1", "vm-2", "vm-3"])
            #expect(try await pool.ipIndex() == ["11.0.0.1": "vm-1", "11.0.0.2": "vm-2"])
            #expect(try await pool.run(.poolStats, [ScriptPool.admin]) == poolStatsReply([5, 3, 0, 1, 1, 1, 0]))
            #expect(try await pool.storedUser("alice") == ["name": "alice", "role": "user", "quota": "2", "token": aliceHash,
                                                         "created_at": String(now - 20), "max_lease": "600"])
            #expect(try await pool.storedUser("bob") == ["name": "bob", "role": "admin", "quota": "1", "token": bobHash,
                                                       "created_at": String(now - 20), "size_quotas": "small=1"])
            #expect(try await pool.tokenIndex() == [aliceHash: "alice", bobHash: "bob", String(carol.dropFirst(2)): "carol"])
            #expect(try await pool.storedUser("carol")?["quota"] == "4")
            #expect(try await pool.events().contains {
                $0["detail"] == "2 users moved to bucketed records, 1 already there, 1 without a token dropped"
            })
            for old in ["vms", "vm:vm-1", "vm:vm-2", "vm:vm-3", "ips", "idle", "status:available", "status:available:small",
                        "status:checked-out", "status:error", "users", "tokens", "user:alice", "user:bob", "user:carol", "user:dave"] {
                #expect(try await pool.exists(old) == false, "\(old) is gone")
            }
            #expect(try await pool.events().suffix(2).map { $0["action"] } == ["migrate", "migrate"])

            let before = try await pool.dump().filter { !$0.key.hasSuffix(":events") }
            _ = try await pool.run(.initPool, ["5"])
            #expect(try await pool.dump().filter { !$0.key.hasSuffix(":events") } == before, "once only")
            // and the pool serves on: the available VM is checked out, the held one checked in
            #expect(try await pool.checkout(bob) == "vm-2")
            #expect(fields(try await pool.run(.checkin, [alice, "vm-1", ""]))["status"] == "available")
            #expect(try await pool.run(.reapLeases, ["10"]).array?.first?.int == 0)
        }
    }

    /// A large pool of the earlier layouts moves a part of 1,000 per call, so that Redis serves
    /// others between the parts: init_pool answers AGAIN while parts are left, and sums each
    /// migration up in one event when it is done.
    @Test func anEarlierLayoutMovesInPartsOfAThousandPerCall() async throws {
        try await withScriptPool { pool async throws in
            let now = try await pool.now() / 1000
            try await withThrowingTaskGroup { group in  // commands sent together are pipelined
                for index in 0..<2500 {
                    group.addTask {
                        let id = String(format: "vm-%05d", index)
                        _ = try await pool.command("HSET", pool.key("vm:" + id), "vm_id", id, "status", "available",
                                                   "ip", "11.0.\(index / 256).\(index % 256)", "created_at", String(now))
                        _ = try await pool.command("ZADD", pool.key("vms"), "0", id)
                    }
                }
                for index in 0..<1200 {
                    group.addTask {
                        let name = "user\(index)"
                        _ = try await pool.command("HSET", pool.key("user:" + name), "name", name, "role", "user", "quota", "1",
                                                   "token", newTokenHash(), "created_at", String(now))
                        _ = try await pool.command("ZADD", pool.key("users"), "0", name)
                    }
                }
                try await group.waitForAll()
            }
            try await pool.command("HDEL", pool.key("pool"), "time_unit")

            var answers: [RESPValue] = []
            repeat {
                answers.append(try await pool.run(.initPool, ["3000"]))
                if answers.count == 1 {
                    #expect(try await pool.vmIDs().count == 1000, "a first part of 1,000 VMs")
                    #expect(try await pool.command("ZCARD", pool.key("vms")).int == 1500, "the rest waits in the earlier layout")
                }
            } while answers.last == .again && answers.count < 10
            // 1,000 + 1,000 + 500 VMs, then 1,000 + 200 users
            #expect(answers == [.again, .again, .again, .again, .integer(3000)])
            #expect(try await pool.vmIDs().count == 2500)
            #expect(try await pool.userNames().count == 1200)
            #expect(try await pool.run(.poolStats, [ScriptPool.admin]) == poolStatsReply([3000, 2500, 0, 2500, 0, 0, 0]))
            let details = try await pool.events().filter { $0["action"] == "migrate" }.map { $0["detail"] }
            #expect(details == ["2500 VMs moved to bucketed records",
                                "1200 users moved to bucketed records, 0 already there, 0 without a token dropped"])
            for old in ["vms", "vm:vm-00000", "vm:vm-02499", "users", "user:user0", "user:user1199"] {
                #expect(try await pool.exists(old) == false, "\(old) is gone")
            }
            #expect(try await pool.hash("pool").keys.filter { $0.hasPrefix("migrated:") }.isEmpty, "no counts left behind")
            // a gateway of the one-call kind that finished a migration begun in parts leaves the counts: dropped
            try await pool.command("HSET", pool.key("pool"), "migrated:vms", "1000")
            #expect(try await pool.run(.initPool, ["3000"]) == .integer(3000))
            #expect(try await pool.hash("pool").keys.filter { $0.hasPrefix("migrated:") }.isEmpty)
        }
    }
}
