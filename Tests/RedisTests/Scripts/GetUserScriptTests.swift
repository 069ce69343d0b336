import Foundation
import RedisClient
import Reservations
import Testing
import TestSupport

/// lua/get_user.lua: one user and the VMs they hold.
@Suite struct GetUserScriptTests: ScriptSuite {
    @Test func getUserAnswersTheRecordAndTheHeldVMsSortedById() async throws {
        try await withScriptPool { pool async throws in
            try await pool.seed(cap: 5)
            try await pool.addVMs(1...5)
            let alice = try await pool.addUser("alice", quota: 3)
            var held: [String] = []
            for _ in 0..<3 { held.append(try await pool.checkout(alice)) }
            let elements = try #require(try await pool.run(.getUser, [admin, "alice"]).array)
            #expect(elements.count == 2)
            let user = fields(elements[0])
            #expect(user["name"] == "alice" && user["quota"] == "3" && user["held"] == "3" && user["role"] == "user")
            #expect(user["token"] == nil)
            let vms = try #require(elements[1].array)
            #expect(vms.map { fields($0)["vm_id"] } == held.sorted())
            _ = try await pool.addUser("bob")
            #expect(try await pool.run(.getUser, [admin, "bob"]).array?.last == .array([]))
        }
    }

    @Test func getUserFailsForUnknownOrMissingNames() async throws {
        try await withScriptPool { pool async throws in
            _ = try await pool.addUser("alice")
            try await pool.expectFailure(.getUser, [admin, "bob"], code: "USER_NOT_FOUND", message: "no user named bob")
            try await pool.expectFailure(.getUser, [admin, ""], code: "BAD_REQUEST", message: "name is required")
            try await pool.expectFailure(.getUser, [admin], code: "BAD_REQUEST")
        }
    }
}
