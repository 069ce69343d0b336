import Foundation
import RedisClient
import Reservations
import Testing
import TestSupport

/// lua/update_user.lua: changes a user's quota, role and maximum lease.
@Suite struct UpdateUserScriptTests: ScriptSuite {
    @Test func updateUserChangesQuotaRoleBothOrNothing() async throws {
        try await withScriptPool { pool async throws in
            _ = try await pool.addUser("alice", quota: 1)
            #expect(fields(try await pool.run(.updateUser, [admin, "alice", "5", ""]))["quota"] == "5")
            let promoted = fields(try await pool.run(.updateUser, [admin, "alice", "", "admin"]))
            #expect(promoted["role"] == "admin" && promoted["quota"] == "5")
            let both = fields(try await pool.run(.updateUser, [admin, "alice", "0", "user"]))
            #expect(both["role"] == "user" && both["quota"] == "0")
            let before = try await pool.dump()
            let unchanged = fields(try await pool.run(.updateUser, [admin, "alice", "", ""]))
            #expect(unchanged["role"] == "user" && unchanged["quota"] == "0")
            #expect(try await pool.dump() == before)
            let stored = try #require(try await pool.storedUser("alice"))
            #expect(stored["role"] == "user" && stored["quota"] == "0")
        }
    }

    @Test func aNewQuotaAppliesToTheNextCheckoutAndNeverFallsBelowWhatIsHeld() async throws {
        try await withScriptPool { pool async throws in
            try await pool.seed(cap: 5)
            try await pool.addVMs(1...5)
            let alice = try await pool.addUser("alice", quota: 1)
            _ = try await pool.checkout(alice)
            try await pool.expectFailure(.checkout, [alice, "9", ""] + gatewayLeases, code: "QUOTA_EXCEEDED")
            _ = try await pool.run(.updateUser, [admin, "alice", "2", ""])
            _ = try await pool.checkout(alice)
            try await pool.expectFailure(.checkout, [alice, "9", ""] + gatewayLeases, code: "QUOTA_EXCEEDED", message: "quota of 2 VMs reached")
            // a quota below what is held is refused and changes nothing
            let before = try await pool.dump()
            try await pool.expectFailure(.updateUser, [admin, "alice", "1", ""], code: "INVALID_STATE",
                                         message: "alice holds 2 VMs, more than a quota of 1; they must check some in first")
            #expect(try await pool.dump() == before)
            _ = try await pool.run(.updateUser, [admin, "alice", "2", "admin"])
            #expect(try await pool.storedUser("alice")?["role"] == "admin")
        }
    }

    @Test func aDemotedAdminLosesAdminRights() async throws {
        try await withScriptPool { pool async throws in
            let boss = try await pool.addUser("boss", role: "admin")
            #expect(try await pool.run(.listUsers, [boss]).array?.count == 1)
            _ = try await pool.run(.updateUser, [admin, "boss", "", "user"])
            try await pool.expectFailure(.listUsers, [boss], code: "FORBIDDEN", message: "this operation needs the admin role")
        }
    }

    @Test func updateUserRejectsBadValuesAndUnknownUsers() async throws {
        try await withScriptPool { pool async throws in
            _ = try await pool.addUser("alice")
            for arguments in [["alice", "-1", ""], ["alice", "x", ""], ["alice", "1000001", ""], ["alice", "", "root"],
                              ["alice", "2", "root"], ["", "1", ""], []] {
                try await pool.expectFailure(.updateUser, [admin] + arguments, code: "BAD_REQUEST")
            }
            try await pool.expectFailure(.updateUser, [admin, "bob", "1", ""], code: "USER_NOT_FOUND", message: "no user named bob")
            try await pool.expectFailure(.updateUser, [admin, "bob", "", ""], code: "USER_NOT_FOUND")
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
}
