import Foundation
import RedisClient
import Reservations
import Testing
import TestSupport

/// lua/rotate_token.lua: gives a user a new token; the old one stops working.
@Suite struct RotateTokenScriptTests: ScriptSuite {
    @Test func rotateTokenRevokesTheOldTokenAndKeepsTheHoldings() async throws {
        try await withScriptPool { pool async throws in
            try await pool.seed(cap: 5)
            try await pool.addVMs(1...1)
            let old = try await pool.addUser("alice", quota: 1)
            let id = try await pool.checkout(old)
            let hash = newTokenHash()
            let record = fields(try await pool.run(.rotateToken, [admin, "alice", hash]))
            #expect(record["name"] == "alice" && record["held"] == "1")
            #expect(try await pool.tokenIndex() == [hash: "alice"])
            #expect(try await pool.storedUser("alice")?["token"] == hash)
            try await pool.expectFailure(.listMine, [old], code: "UNAUTHORIZED", message: "missing, unknown or revoked token")
            try await pool.expectFailure(.checkin, [old, id, ""], code: "UNAUTHORIZED")
            let mine = try #require(try await pool.run(.listMine, ["t:" + hash]).array)
            #expect(mine.map { fields($0)["vm_id"] } == [id])
            _ = try await pool.run(.checkin, ["t:" + hash, id, ""])
        }
    }

    @Test func rotateTokenRefusesAHashInUseBadHashesAndUnknownUsers() async throws {
        try await withScriptPool { pool async throws in
            let alice = String(try await pool.addUser("alice").dropFirst(2))
            let bob = String(try await pool.addUser("bob").dropFirst(2))
            for taken in [alice, bob] {
                try await pool.expectFailure(.rotateToken, [admin, "alice", taken], code: "INVALID_STATE",
                                             message: "this token hash is already in use")
            }
            for bad in ["", "abc", String(repeating: "z", count: 64), alice + "0"] {
                try await pool.expectFailure(.rotateToken, [admin, "alice", bad], code: "BAD_REQUEST")
            }
            try await pool.expectFailure(.rotateToken, [admin, "", newTokenHash()], code: "BAD_REQUEST")
            try await pool.expectFailure(.rotateToken, [admin, "carol", newTokenHash()], code: "USER_NOT_FOUND",
                                         message: "no user named carol")
        }
    }
}
