import Foundation
import RedisClient
import Reservations
import Testing
import TestSupport

/// lua/wait_checkout.lua: checks out a VM or queues the caller; a freed VM goes to the first waiter.
@Suite struct WaitCheckoutScriptTests: ScriptSuite {
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

    @Test func aWaiterForASizeKeepsItsPlaceWhileOthersAreServed() async throws {
        try await withScriptPool { pool async throws in
            try await sizedPool(pool)
            let taker = "p:taker"
            for _ in 0..<4 { _ = try await pool.checkout(taker, defaultQuota: 10) }
            let wantsLarge = try await pool.addUser("wants-large", quota: 1)
            let anyone = try await pool.addUser("anyone", quota: 1)
            _ = try await pool.run(.waitCheckout, [wantsLarge, "5", "", "", "604800", "3600000", "gw", "t-large", "large"])
            _ = try await pool.run(.waitCheckout, [anyone, "5", "", "", "604800", "3600000", "gw", "t-any", ""])
            _ = try await pool.run(.checkin, [taker, "s-1", ""])  // small: not for the first waiter
            #expect(try await pool.vm("s-1")["user"] == "anyone")
            #expect(try await pool.zmembers("waiters") == ["t-large"])
            _ = try await pool.run(.checkin, [taker, "l-2", ""])
            #expect(try await pool.vm("l-2")["user"] == "wants-large")
        }
    }

    @Test func aWaitingCheckoutHoldsItsKeyUntilItIsServedOrGivesUp() async throws {
        try await withScriptPool { pool async throws in
            try await pool.seed(cap: 10)
            try await pool.addVMs(1...1)
            let holder = try await pool.addUser("holder", quota: 1)
            let id = try await pool.checkout(holder)
            let alice = try await pool.addUser("alice", quota: 1)
            // (an hour's wait: a slow machine must not see it run out)
            let waitArguments = [alice, "5", "", "", "604800", "3600000", "gw1", "ticket-1", "", "w", Self.window]
            #expect(try await pool.run(.waitCheckout, waitArguments).array?.first?.string == "queued")
            // a retry while the first still waits
            try await pool.expectFailure(.waitCheckout, [alice, "5", "", "", "604800", "60000", "gw1", "ticket-2", "", "w", Self.window],
                                         code: "IDEMPOTENCY_IN_PROGRESS")
            try await pool.expectFailure(.checkout, [alice, "5", "", "", "604800", "", "w", Self.window], code: "IDEMPOTENCY_IN_PROGRESS")
            _ = try await pool.run(.checkin, [holder, id, ""])
            let claimed = fields(try await pool.run(.claim, [alice, "ticket-1", "", "", "604800", "w", Self.window]))
            #expect(claimed["vm_id"] == id && claimed["user"] == "alice")
            #expect(try await checkout(pool, alice, key: "w") == claimed, "a retry now gets the VM the wait got")
            let retried = try await pool.run(.waitCheckout, [alice, "5", "", "", "604800", "60000", "gw1", "ticket-3", "", "w", Self.window])
            #expect(retried.array?.first?.string == "vm" && retried.array.map { fields($0[1]) } == claimed)

            // a wait that ends without a VM frees its key
            let bob = try await pool.addUser("bob", quota: 1)
            #expect(try await pool.run(.waitCheckout, [bob, "5", "", "", "604800", "60000", "gw1", "ticket-4", "", "b", Self.window])
                .array?.first?.string == "queued")
            #expect(try await pool.exists("user:bob:idem:b"))
            _ = try await pool.run(.leaveQueue, [bob, "ticket-4", "keep", "b", Self.window])
            #expect(try await pool.exists("user:bob:idem:b") == false)
        }
    }
}
