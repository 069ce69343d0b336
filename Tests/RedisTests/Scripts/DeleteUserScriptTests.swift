import Foundation
import RedisClient
import Reservations
import Testing
import TestSupport

/// lua/delete_user.lua: removes a user who holds no VMs; their token stops working.
@Suite struct DeleteUserScriptTests: ScriptSuite {
    @Test func deleteUserRemovesTheUserAndRevokesTheToken() async throws {
        try await withScriptPool { pool async throws in
            try await pool.seed(cap: 5)
            try await pool.addVMs(1...1)
            let alice = try await pool.addUser("alice", quota: 2)
            _ = try await pool.addUser("bob")
            let id = try await pool.checkout(alice)
            _ = try await pool.run(.checkin, [alice, id, ""])
            let record = fields(try await pool.run(.deleteUser, [admin, "alice"]))
            #expect(record["name"] == "alice" && record["quota"] == "2" && record["held"] == "0")
            #expect(try await pool.storedUser("alice") == nil)
            #expect(try await pool.exists("held:alice") == false)
            #expect(try await pool.userNames() == ["bob"])
            #expect(try await pool.tokenIndex().values.sorted() == ["bob"])
            try await pool.expectFailure(.listMine, [alice], code: "UNAUTHORIZED")
            try await pool.expectFailure(.deleteUser, [admin, "alice"], code: "USER_NOT_FOUND", message: "no user named alice")
        }
    }

    @Test func deleteUserRefusesAUserWhoHoldsVMs() async throws {
        try await withScriptPool { pool async throws in
            try await pool.seed(cap: 5)
            try await pool.addVMs(1...2)
            let alice = try await pool.addUser("alice", quota: 2)
            _ = try await pool.checkout(alice)
            _ = try await pool.checkout(alice)
            try await pool.expectFailure(.deleteUser, [admin, "alice"], code: "INVALID_STATE",
                                         message: "user alice holds 2 VMs; check them in first")
            try await pool.expectFailure(.deleteUser, [admin, ""], code: "BAD_REQUEST")
            try await pool.expectFailure(.deleteUser, [admin], code: "BAD_REQUEST")
        }
    }
}
