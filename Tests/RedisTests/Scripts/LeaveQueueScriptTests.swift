import Foundation
import RedisClient
import Reservations
import Testing
import TestSupport

/// lua/leave_queue.lua: a waiting checkout stops waiting, and a VM handed to a client that is gone goes back.
@Suite struct LeaveQueueScriptTests: ScriptSuite {
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
}
