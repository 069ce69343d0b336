import Foundation
import RedisClient
import Reservations
import Testing
import TestSupport

/// lua/list_users.lua: every user in name order.
@Suite struct ListUsersScriptTests: ScriptSuite {
    @Test func listUsersAnswersEveryUserInNameOrder() async throws {
        try await withScriptPool { pool async throws in
            #expect(try await pool.run(.listUsers, [admin]) == .array([]))
            for name in ["carol", "alice", "bob"] { _ = try await pool.addUser(name) }
            let names = try #require(try await pool.run(.listUsers, [admin]).array).map { fields($0)["name"] }
            #expect(names == ["alice", "bob", "carol"])
        }
    }
}
