import Foundation
import RedisClient
import Reservations
import Testing
import TestSupport

/// Waiting checkouts in the scripts: the queue, handing a freed VM to the first waiter in the
/// same script that frees it, claiming, leaving, and what happens to VMs nobody claims.
@Suite struct WaitScriptTests {
    /// wait_checkout.lua for `identity`, waiting `wait` ms on gateway `gw`; answers the reply's first word.
    @discardableResult
    private func wait(_ pool: ScriptPool, _ identity: String, ticket: String, wait: Int = 60_000, gateway: String = "gw1")
        async throws -> [RESPValue]
    {
        try await pool.run(.waitCheckout, [identity, "5", "", "", "604800", String(wait), gateway, ticket]).array ?? []
    }

    private func handoffs(_ pool: ScriptPool, _ gateway: String = "gw1") async throws -> [String] {
        (try await pool.command("LRANGE", pool.key("handoff:" + gateway), "0", "-1")).array?.compactMap(\.string) ?? []
    }

    @Test func aFreeVMIsTakenAtOnceWithoutQueueing() async throws {
        try await withScriptPool { pool async throws in
            try await pool.seed(cap: 5)
            try await pool.addVMs(1...1)
            let alice = try await pool.addUser("alice", quota: 1)
            let reply = try await wait(pool, alice, ticket: "t1")
            #expect(reply.first?.string == "vm" && fields(reply[1])["user"] == "alice")
            #expect(try await pool.command("ZCARD", pool.key("waiters")) == .integer(0))
        }
    }

    @Test func aFreedVMGoesToTheFirstWaiterInTheScriptThatFreesIt() async throws {
        try await withScriptPool { pool async throws in
            try await pool.seed(cap: 5)
            try await pool.addVMs(1...1)
            let holder = try await pool.addUser("holder", quota: 1)
            let id = try await pool.checkout(holder)
            var waiters: [String] = []
            for (index, name) in ["ann", "ben", "cat"].enumerated() {
                let identity = try await pool.addUser(name, quota: 1)
                waiters.append(identity)
                #expect(try await wait(pool, identity, ticket: "t\(index)", gateway: "gw\(index % 2)").first?.string == "queued")
            }
            #expect(try await pool.zmembers("waiters") == ["t0", "t1", "t2"])
            // someone else's checkout finds nothing: the queue is not jumped
            let late = try await pool.addUser("late", quota: 1)
            try await pool.expectFailure(.checkout, [late, "5", ""] + gatewayLeases, code: "NO_VM_AVAILABLE")

            _ = try await pool.run(.checkin, [holder, id, ""])
            let vm = try await pool.vm(id)
            #expect(vm["user"] == "ann" && vm["status"] == "checked-out" && vm["claim_ticket"] == "t0")
            #expect(vm["lease_seconds"] == "30", "a claim lease, returned by the reaper if nobody claims it")
            #expect(try await handoffs(pool, "gw0") == ["t0 \(id)"])
            #expect(try await pool.zmembers("waiters") == ["t1", "t2"])
            #expect(try await pool.events().last?["detail"] == "handed to a waiting checkout")

            let claimed = fields(try await pool.run(.claim, [waiters[0], "t0", "120", "", "604800"]))
            #expect(claimed["vm_id"] == id && claimed["lease_seconds"] == "120" && claimed["claim_ticket"] == nil)
            #expect(try await pool.hash("waiting")["t0"] == nil)
            // a claim of nothing, or of someone else's ticket, gets nothing
            try await pool.expectFailure(.claim, [waiters[1], "t0", "", "", "604800"], code: "NO_VM_AVAILABLE")
        }
    }

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

    @Test func waitersPastTheirDeadlineOrAtTheirQuotaAreNotHandedAVM() async throws {
        try await withScriptPool { pool async throws in
            try await pool.seed(cap: 5)
            let gone = try await pool.addUser("gone", quota: 1)
            let full = try await pool.addUser("full", quota: 1)
            let ann = try await pool.addUser("ann", quota: 1)
            try await wait(pool, gone, ticket: "t0", wait: 1)
            try await wait(pool, full, ticket: "t1")
            try await wait(pool, ann, ticket: "t2")
            try await Task.sleep(for: .milliseconds(5))  // t0's one millisecond is over
            // `full` reaches its quota by other means meanwhile (an admin lowers it to 0)
            _ = try await pool.run(.updateUser, [ScriptPool.admin, "full", "0", "", ""])
            let (id, _) = try await pool.addVMs(1...1)[0]
            #expect(try await handoffs(pool) == ["t1 QUOTA", "t2 \(id)"])
            #expect(try await pool.vm(id)["user"] == "ann")
            #expect(try await pool.hash("waiting").keys.sorted() == ["t2"])
        }
    }

    @Test func leavingTheQueueBeforeOrAfterTheHandoff() async throws {
        try await withScriptPool { pool async throws in
            try await pool.seed(cap: 5)
            let ann = try await pool.addUser("ann", quota: 1)
            let ben = try await pool.addUser("ben", quota: 1)
            try await wait(pool, ann, ticket: "t0")
            #expect(try await pool.run(.leaveQueue, [ann, "t0", "keep"]).array?.compactMap(\.string) == ["left"])
            #expect(try await pool.zmembers("waiters").isEmpty)
            #expect(try await pool.hash("waiting").isEmpty)

            // handed, then the wait ends: "keep" leaves it for claim
            try await wait(pool, ann, ticket: "t1")
            let (id, _) = try await pool.addVMs(1...1)[0]
            #expect(try await pool.run(.leaveQueue, [ann, "t1", "keep"]).array?.compactMap(\.string) == ["handed", id])
            #expect(fields(try await pool.run(.claim, [ann, "t1", "", "", "604800"]))["user"] == "ann")
            _ = try await pool.run(.checkin, [ann, id, ""])

            // handed, then the client goes away: the VM goes back, to the next waiter if any
            try await pool.command("DEL", pool.key("handoff:gw1"))
            _ = try await pool.checkout(ann)
            try await wait(pool, ben, ticket: "t2")
            let bob = try await pool.addUser("bob", quota: 1)
            try await wait(pool, bob, ticket: "t3")
            _ = try await pool.run(.checkin, [ann, id, ""])
            #expect(try await pool.vm(id)["user"] == "ben")
            #expect(try await pool.run(.leaveQueue, [ben, "t2", "give back"]).array?.compactMap(\.string) == ["returned", id])
            #expect(try await pool.vm(id)["user"] == "bob", "given back, and handed on to the next waiter")
            #expect(try await pool.events().suffix(2).first?["action"] == "abandoned")
            #expect(try await pool.members("held:ben").isEmpty)
            try await pool.expectFailure(.leaveQueue, [ben, "t2", "maybe"], code: "BAD_REQUEST")
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

    @Test func waitCheckoutRefusesBadArguments() async throws {
        try await withScriptPool { pool async throws in
            try await pool.seed(cap: 5)
            let ann = try await pool.addUser("ann", quota: 1)
            for (wait, gateway, ticket) in [("0", "gw", "t"), ("3600001", "gw", "t"), ("x", "gw", "t"), ("10", "", "t"),
                                            ("10", "gw", ""), ("10", "g w", "t"), ("10", "gw", "t:1")] {
                try await pool.expectFailure(.waitCheckout, [ann, "5", "", "", "604800", wait, gateway, ticket], code: "BAD_REQUEST")
            }
            try await wait(pool, ann, ticket: "same")
            try await pool.expectFailure(.waitCheckout, [ann, "5", "", "", "604800", "10", "gw", "same"], code: "BAD_REQUEST")
        }
    }
}
