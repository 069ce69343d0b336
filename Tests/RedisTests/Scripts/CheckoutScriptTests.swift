import Foundation
import RedisClient
import Reservations
import Testing
import TestSupport

/// lua/checkout.lua: checks out an available VM (of a size) within the caller's quotas, with a lease, returning leases that ran out, idempotently.
@Suite struct CheckoutScriptTests: ScriptSuite {
    private func held(_ pool: ScriptPool, _ name: String) async throws -> Int {
        try await pool.command("SCARD", pool.key("held:" + name)).int ?? -1
    }

    private func lengthOfLease(_ record: [String: String]) -> Int? {
        guard let start = record["checked_out_at"].flatMap({ Int($0) }), let end = record["lease_expires_at"].flatMap({ Int($0) }) else {
            return nil
        }
        return end - start
    }

    @Test func movesAnAvailableVMToCheckedOutAndIntoTheHoldersSet() async throws {
        try await withScriptPool { pool async throws in
            try await pool.seed(cap: 5)
            try await pool.addVMs(1...3)
            let alice = try await pool.addUser("alice", quota: 1)
            let before = try await pool.now()
            let record = fields(try await pool.run(.checkout, [alice, "0", ""] + gatewayLeases))
            let after = try await pool.now()
            let id = try #require(record["vm_id"])
            #expect(record["status"] == "checked-out")
            #expect(record["user"] == "alice")
            #expect(record["lease_expires_at"] == nil)
            let checkedOutAt = try #require(record["checked_out_at"].flatMap { Int($0) })
            #expect((before...after).contains(checkedOutAt))
            #expect(try await pool.vm(id) == record)
            #expect(try await pool.vmIDs(status: "checked-out") == [id])
            #expect(try await pool.vmIDs(status: "available") == Set(["vm-00001", "vm-00002", "vm-00003"]).subtracting([id]))
            #expect(try await pool.members("held:alice") == [id])
            #expect(try await pool.command("ZCARD", pool.key("leases")) == .integer(0))
        }
    }

    @Test func aLeaseIsRecordedOnTheVMAndInTheLeaseIndex() async throws {
        try await withScriptPool { pool async throws in
            try await pool.seed(cap: 5)
            try await pool.addVMs(1...1)
            let alice = try await pool.addUser("alice", quota: 1)
            let record = fields(try await pool.run(.checkout, [alice, "0", "60"] + gatewayLeases))
            let checkedOutAt = try #require(record["checked_out_at"].flatMap { Int($0) })
            #expect(record["lease_expires_at"] == String(checkedOutAt + 60_000))
            #expect(record["lease_seconds"] == "60")
            #expect(try await pool.command("ZSCORE", pool.key("leases"), "vm-00001").int == checkedOutAt + 60_000)
        }
    }

    @Test func failsWithNoVMAvailableWhenEveryVMIsCheckedOut() async throws {
        try await withScriptPool { pool async throws in
            try await pool.seed(cap: 5)
            let alice = try await pool.addUser("alice", quota: 5)
            try await pool.expectFailure(.checkout, [alice, "0", ""] + gatewayLeases, code: "NO_VM_AVAILABLE", message: noVMAvailableMessage)
            try await pool.addVMs(1...2)
            _ = try await pool.checkout(alice)
            _ = try await pool.checkout(alice)
            try await pool.expectFailure(.checkout, [alice, "0", ""] + gatewayLeases, code: "NO_VM_AVAILABLE", message: noVMAvailableMessage)
            #expect(try await pool.members("held:alice") == ["vm-00001", "vm-00002"])
        }
    }

    @Test func aUserAtQuotaGetsQuotaExceededEvenWhenThePoolIsEmpty() async throws {
        try await withScriptPool { pool async throws in
            try await pool.seed(cap: 5)
            let nobody = try await pool.addUser("nobody", quota: 0)
            try await pool.expectFailure(.checkout, [nobody, "5", ""] + gatewayLeases, code: "QUOTA_EXCEEDED", message: "quota of 0 VMs reached")
            try await pool.addVMs(1...1)
            let alice = try await pool.addUser("alice", quota: 1)
            _ = try await pool.checkout(alice)
            // the pool is empty now; quota is checked first
            try await pool.expectFailure(.checkout, [alice, "5", ""] + gatewayLeases, code: "QUOTA_EXCEEDED", message: "quota of 1 VM reached")
            try await pool.expectFailure(.checkout, [nobody, "5", ""] + gatewayLeases, code: "QUOTA_EXCEEDED")
        }
    }

    @Test func theUsersOwnQuotaWinsOverTheDefault() async throws {
        try await withScriptPool { pool async throws in
            try await pool.seed(cap: 5)
            try await pool.addVMs(1...3)
            let alice = try await pool.addUser("alice", quota: 2)
            _ = try await pool.checkout(alice, defaultQuota: 0)
            _ = try await pool.checkout(alice, defaultQuota: 0)
            try await pool.expectFailure(.checkout, [alice, "100", ""] + gatewayLeases, code: "QUOTA_EXCEEDED", message: "quota of 2 VMs reached")
        }
    }

    @Test func principalsWithoutAUserRecordGetTheDefaultQuota() async throws {
        try await withScriptPool { pool async throws in
            try await pool.seed(cap: 5)
            try await pool.addVMs(1...3)
            try await pool.expectFailure(.checkout, [admin, "0", ""] + gatewayLeases, code: "QUOTA_EXCEEDED")
            let id = try await pool.checkout(admin, defaultQuota: 1)
            #expect(try await pool.members("held:admin") == [id])
            #expect(try await pool.vm(id)["user"] == "admin")
            try await pool.expectFailure(.checkout, [admin, "1", ""] + gatewayLeases, code: "QUOTA_EXCEEDED", message: "quota of 1 VM reached")
        }
    }

    @Test func rejectsBadDefaultQuotasAndLeases() async throws {
        try await withScriptPool { pool async throws in
            try await pool.seed(cap: 5)
            try await pool.addVMs(1...2)
            let alice = try await pool.addUser("alice", quota: 2)
            for arguments in [["", ""], ["-1", ""], ["x", ""], ["1000001", ""], ["1", "0"], ["1", "604801"],
                              ["1", "1.5"], ["1", "-3"], ["1", "soon"], []] {
                try await pool.expectFailure(.checkout, [alice] + arguments + gatewayLeases, code: "BAD_REQUEST")
            }
            #expect(fields(try await pool.run(.checkout, [alice, "1", "604800"] + gatewayLeases))["status"] == "checked-out")
        }
    }

    @Test func anExpiredLeaseIsReclaimedByTheNextCheckout() async throws {
        try await withScriptPool { pool async throws in
            try await pool.seed(cap: 5)
            try await pool.addVMs(1...1)
            let alice = try await pool.addUser("alice", quota: 1)
            let bob = try await pool.addUser("bob", quota: 1)
            let id = try await pool.checkout(alice, lease: "3600")
            // an unexpired lease stays
            try await pool.expectFailure(.checkout, [bob, "0", ""] + gatewayLeases, code: "NO_VM_AVAILABLE", message: noVMAvailableMessage)
            // expire it without waiting
            let now = try await pool.now()
            try await pool.command("ZADD", pool.key("leases"), "XX", String(now - 1), id)
            let record = fields(try await pool.run(.checkout, [bob, "0", ""] + gatewayLeases))
            #expect(record["vm_id"] == id)
            #expect(record["user"] == "bob")
            #expect(record["lease_expires_at"] == nil)
            #expect(try await pool.members("held:alice").isEmpty)
            #expect(try await pool.members("held:bob") == [id])
            #expect(try await pool.command("ZCARD", pool.key("leases")) == .integer(0))
            // alice's token still works; she just does not hold the VM any more
            #expect(try await pool.run(.listMine, [alice]) == .array([]))
            try await pool.expectFailure(.checkin, [alice, id, ""], code: "FORBIDDEN")
        }
    }

    @Test func aOneSecondLeaseRunsOutOnTheRedisClock() async throws {
        try await withScriptPool { pool async throws in
            try await pool.seed(cap: 5)
            try await pool.addVMs(1...1)
            let alice = try await pool.addUser("alice", quota: 1)
            let bob = try await pool.addUser("bob", quota: 1)
            let id = try await pool.checkout(alice, lease: "1")
            try await Task.sleep(for: .milliseconds(2100))
            #expect(try await pool.checkout(bob) == id)
        }
    }

    @Test func aUserWhoseOwnLeaseExpiredIsNoLongerAtQuota() async throws {
        try await withScriptPool { pool async throws in
            try await pool.seed(cap: 5)
            try await pool.addVMs(1...2)
            let alice = try await pool.addUser("alice", quota: 1)
            let first = try await pool.checkout(alice, lease: "3600")
            try await pool.command("ZADD", pool.key("leases"), "XX", "1", first)
            let second = try await pool.checkout(alice, lease: "3600")
            #expect(try await pool.members("held:alice") == [second])
            #expect(try await pool.vmIDs(status: "checked-out") == [second])
            #expect(try await pool.count("available") == 1)
        }
    }

    @Test func reclamationStandsEvenWhenTheCheckoutItselfFails() async throws {
        try await withScriptPool { pool async throws in
            try await pool.seed(cap: 5)
            try await pool.addVMs(1...1)
            let alice = try await pool.addUser("alice", quota: 1)
            let nobody = try await pool.addUser("nobody", quota: 0)
            let id = try await pool.checkout(alice, lease: "3600")
            try await pool.command("ZADD", pool.key("leases"), "XX", "1", id)
            try await pool.expectFailure(.checkout, [nobody, "0", ""] + gatewayLeases, code: "QUOTA_EXCEEDED", changesState: true)
            #expect(try await pool.vmIDs(status: "available") == [id])
            #expect(try await pool.members("held:alice").isEmpty)
            #expect(try await pool.vm(id)["status"] == "available")
        }
    }

    @Test func oneCallReclaimsAtMost100ExpiredLeasesButAllOfTheCallersOwn() async throws {
        try await withScriptPool { pool async throws in
            try await pool.seed(cap: 330)
            try await pool.addVMs(1...320)
            for index in 1...320 {
                _ = try await pool.checkout("p:holder\(index)", lease: "3600")
            }
            for id in try await pool.zmembers("leases") {  // every lease ended long ago
                try await pool.command("ZADD", pool.key("leases"), "XX", "1", id)
                try await pool.command("ZADD", pool.key("held_leases:" + (try await pool.vm(id)["user"] ?? "?")), "XX", "1", id)
            }
            _ = try await pool.checkout("p:late")
            #expect(try await pool.command("ZCARD", pool.key("leases")) == .integer(220))
            #expect(try await pool.count("available") == 99)
            // the batch takes the earliest (here: the first ids); the holders of the last two get
            // exact answers at once, beyond the 100 their own call reclaims
            let leftOver = try await pool.zmembers("leases")
            let (last, nextToLast) = (leftOver[leftOver.count - 1], leftOver[leftOver.count - 2])
            let first = try #require(try await pool.vm(last)["user"])
            let second = try #require(try await pool.vm(nextToLast)["user"])
            _ = try await pool.checkout("p:" + first)  // a quota of 1, no longer taken by the expired lease
            #expect(try await pool.members("held:" + first).count == 1)
            #expect(try await pool.command("ZCARD", pool.key("leases")) == .integer(119))
            #expect(try await pool.run(.listMine, ["p:" + second]) == .array([]))
            #expect(try await pool.vm(nextToLast)["status"] == "available")
            #expect(try await pool.command("ZCARD", pool.key("leases")) == .integer(18))
            // the next call drains the rest
            #expect(try await pool.run(.poolStats, [admin]) == poolStatsReply([330, 320, 0, 318, 2, 0, 0]))
            #expect(try await pool.command("ZCARD", pool.key("leases")) == .integer(0))
        }
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
            #expect(try await pool.storedUser("alice")?.keys.contains("max_lease_seconds") == false)
            #expect(lengthOfLease(try await checkout(pool, alice, lease: "3000", max: "3600")) == 3_000_000)
        }
    }

    @Test func vmsCarryTheirSizeAndACheckoutForASizeGetsOnlyThatSize() async throws {
        try await withScriptPool { pool async throws in
            try await sizedPool(pool)
            let small = try await pool.vm("s-1")
            #expect(small["size"] == "small" && small["cpu"] == "1" && small["memory_mb"] == "2048")
            #expect(try await pool.vm("l-2")["cpu"] == "4")
            #expect(try await pool.vmIDs(status: "available", size: "large") == ["l-1", "l-2"])
            let alice = try await pool.addUser("alice", quota: 5)
            let large = fields(try await pool.run(.checkout, [alice, "5", ""] + gatewayLeases + ["large"]))
            #expect(large["size"] == "large")
            #expect(try await pool.vmIDs(status: "available", size: "large").count == 1)
            #expect(try await pool.vmIDs(status: "available").count == 3)
            _ = try await pool.run(.checkout, [alice, "5", ""] + gatewayLeases + ["large"])
            try await pool.expectFailure(.checkout, [alice, "5", ""] + gatewayLeases + ["large"], code: "NO_VM_AVAILABLE")
            try await pool.expectFailure(.checkout, [alice, "5", ""] + gatewayLeases + ["medium"], code: "NO_VM_AVAILABLE")
            try await pool.expectFailure(.checkout, [alice, "5", ""] + gatewayLeases + ["huge"], code: "BAD_REQUEST",
                                         message: "size must be one of small, medium, large")
            // a checkin puts it back in its size's set
            _ = try await pool.run(.checkin, [alice, large["vm_id"]!, ""])
            #expect(try await pool.vmIDs(status: "available", size: "large") == [large["vm_id"]!])
            try await pool.expectFailure(.createVMs, [ScriptPool.admin, "1", "huge", "", "", "", "h-1", "11.1.2.1"], code: "BAD_REQUEST")
        }
    }

    @Test func aCheckoutOfAnySizeTakesAVMOfTheCatalogsFirstSizeThatHasOne() async throws {
        try await withScriptPool { pool async throws in
            try await sizedPool(pool)
            let alice = try await pool.addUser("alice", quota: 5)
            func any() async throws -> String { fields(try await pool.run(.checkout, [alice, "5", ""] + gatewayLeases + [""]))["vm_id"] ?? "" }
            #expect(Set([try await any(), try await any()]) == ["s-1", "s-2"])
            _ = try await pool.run(.checkin, [alice, "s-1", ""])
            #expect(try await any() == "s-1", "small before large, whatever was available longer")
            #expect(Set([try await any(), try await any()]) == ["l-1", "l-2"])
            try await pool.expectFailure(.checkout, [alice, "5", ""] + gatewayLeases + [""], code: "NO_VM_AVAILABLE")
        }
    }

    @Test func quotasPerSizeHoldBesidesTheTotal() async throws {
        try await withScriptPool { pool async throws in
            try await sizedPool(pool)
            let alice = try await pool.addUser("alice", quota: 3)
            _ = try await pool.run(.updateUser, [ScriptPool.admin, "alice", "", "", "", "large=1"])
            #expect(fields(try await pool.run(.getUser, [ScriptPool.admin, "alice"]).array?[0] ?? .null)["size_quotas"] == "large=1")
            _ = try await pool.run(.checkout, [alice, "5", ""] + gatewayLeases + ["large"])
            try await pool.expectFailure(.checkout, [alice, "5", ""] + gatewayLeases + ["large"], code: "QUOTA_EXCEEDED",
                                         message: "quota of 1 large VM reached")
            // a checkout of any size skips the sizes at their quota
            for _ in 0..<2 {
                #expect(fields(try await pool.run(.checkout, [alice, "5", ""] + gatewayLeases + [""]))["size"] == "small")
            }
            try await pool.expectFailure(.checkout, [alice, "5", ""] + gatewayLeases + [""], code: "QUOTA_EXCEEDED",
                                         message: "quota of 3 VMs reached")
            _ = try await pool.run(.updateUser, [ScriptPool.admin, "alice", "", "", "", "none"])
            #expect(try await pool.storedUser("alice")?.keys.filter { $0.hasPrefix("quota:") } == [])
            for bad in ["large", "huge=1", "large=x", "large=1,", "=1"] {
                try await pool.expectFailure(.updateUser, [ScriptPool.admin, "alice", "", "", "", bad], code: "BAD_REQUEST")
            }
        }
    }

    @Test func aRetriedCheckoutAnswersTheFirstVMAndTakesNoSecond() async throws {
        try await withScriptPool { pool async throws in
            try await pool.seed(cap: 10)
            try await pool.addVMs(1...3)
            let alice = try await pool.addUser("alice", quota: 3)
            let first = try await checkout(pool, alice, key: "retry-1", lease: "3600")
            let again = try await checkout(pool, alice, key: "retry-1", lease: "3600")
            #expect(first["vm_id"] != nil && again == first, "the first answer, word for word")
            #expect(try await held(pool, "alice") == 1)
            #expect(try await pool.events().filter { $0["action"] == "checkout" }.count == 1, "one change, one event")
            let other = try await checkout(pool, alice, key: "retry-2", lease: "3600")
            #expect(other["vm_id"] != first["vm_id"])
            #expect(try await held(pool, "alice") == 2)
            // the same key for a different request is refused and changes nothing
            try await pool.expectFailure(.checkout, [alice, "5", "120", "", "604800", "", "retry-1", Self.window],
                                         code: "IDEMPOTENCY_MISMATCH",
                                         message: "this Idempotency-Key was already used for a different request")
            // keys are the caller's own: bob's "retry-1" is another request
            let bob = try await pool.addUser("bob", quota: 1)
            #expect(try await checkout(pool, bob, key: "retry-1", lease: "3600")["user"] == "bob")
        }
    }

    @Test func aRefusedRequestIsNotKeptAndAKeyEndsWithItsWindow() async throws {
        try await withScriptPool { pool async throws in
            try await pool.seed(cap: 10)
            let alice = try await pool.addUser("alice", quota: 2)
            try await pool.expectFailure(.checkout, [alice, "5", "", "", "604800", "", "k", Self.window], code: "NO_VM_AVAILABLE")
            #expect(try await pool.exists("user:alice:idem:k") == false)
            try await pool.addVMs(1...2)
            let first = try await checkout(pool, alice, key: "k", window: "100")
            #expect(first["user"] == "alice")
            let ttl = try await pool.command("PTTL", pool.key("user:alice:idem:k")).int ?? 0
            #expect(ttl <= 100 && ttl != -1, "kept for the window, no longer (-2: gone already, on a slow machine)")
            try await waitUntil("the window of 100 ms ends") { (try? await pool.exists("user:alice:idem:k")) == false }
            #expect(try await checkout(pool, alice, key: "k")["vm_id"] != first["vm_id"], "a new request after the window")
        }
    }

    @Test func refusesKeysThatAreNotVisibleASCII() async throws {
        try await withScriptPool { pool async throws in
            try await pool.seed(cap: 10)
            try await pool.addVMs(1...1)
            for key in ["has space", String(repeating: "k", count: 256), "tab\t", "é"] {
                try await pool.expectFailure(.checkout, [ScriptPool.admin, "5", "", "", "604800", "", key, Self.window], code: "BAD_REQUEST")
            }
            for window in ["0", "604800001", "x", ""] {
                try await pool.expectFailure(.checkout, [ScriptPool.admin, "5", "", "", "604800", "", "key", window], code: "BAD_REQUEST")
            }
        }
    }
}
