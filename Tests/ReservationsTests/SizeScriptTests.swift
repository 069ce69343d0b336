import RedisClient
import Reservations
import Testing
import TestSupport

/// Sizes in the scripts: VMs created with a size from the catalog, checkouts of one size, quotas
/// per size, and waiting checkouts for a size.
@Suite struct SizeScriptTests {
    /// A pool with the default catalog, and VMs of each size: 2 small, 2 large.
    private func sizedPool(_ pool: ScriptPool) async throws {
        _ = try await pool.run(.initPool, ["10", "", "small=1:2048,medium=2:4096,large=4:8192"])
        _ = try await pool.run(.createVMs, [ScriptPool.admin, "2", "", "", "", "", "s-1", "11.1.0.1", "s-2", "11.1.0.2"])
        _ = try await pool.run(.createVMs, [ScriptPool.admin, "2", "large", "", "", "", "l-1", "11.1.1.1", "l-2", "11.1.1.2"])
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

    @Test func aWaiterForASizeKeepsItsPlaceWhileOthersAreServed() async throws {
        try await withScriptPool { pool async throws in
            try await sizedPool(pool)
            let taker = "p:taker"
            for _ in 0..<4 { _ = try await pool.checkout(taker, defaultQuota: 10) }
            let wantsLarge = try await pool.addUser("wants-large", quota: 1)
            let anyone = try await pool.addUser("anyone", quota: 1)
            _ = try await pool.run(.waitCheckout, [wantsLarge, "5", "", "", "604800", "60000", "gw", "t-large", "large"])
            _ = try await pool.run(.waitCheckout, [anyone, "5", "", "", "604800", "60000", "gw", "t-any", ""])
            _ = try await pool.run(.checkin, [taker, "s-1", ""])  // small: not for the first waiter
            #expect(try await pool.vm("s-1")["user"] == "anyone")
            #expect(try await pool.zmembers("waiters") == ["t-large"])
            _ = try await pool.run(.checkin, [taker, "l-2", ""])
            #expect(try await pool.vm("l-2")["user"] == "wants-large")
        }
    }
}
