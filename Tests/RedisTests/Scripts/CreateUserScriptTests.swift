import Foundation
import RedisClient
import Reservations
import Testing
import TestSupport

/// lua/create_user.lua: creates a user with a token (given as its SHA-256 hex).
@Suite struct CreateUserScriptTests: ScriptSuite {
    @Test func createUserStoresTheUserItsTokenHashAndTheIndex() async throws {
        try await withScriptPool { pool async throws in
            let hash = newTokenHash()
            let before = try await pool.now()
            let record = fields(try await pool.run(.createUser, [admin, "alice", "user", "3", hash]))
            let after = try await pool.now()
            let created = try #require(record["created_at"].flatMap { Int($0) })
            #expect((before...after).contains(created))
            #expect(record == ["name": "alice", "role": "user", "quota": "3", "created_at": String(created), "held": "0", "max_lease": "",
                              "size_quotas": ""])
            #expect(try await pool.storedUser("alice") == ["role": "user", "quota": "3", "token": hash, "created_at": String(created)])
            #expect(try await pool.tokenIndex() == [hash: "alice"])
            #expect(try await pool.userNames() == ["alice"])
            // the token authenticates
            #expect(try await pool.run(.listMine, ["t:" + hash]) == .array([]))
        }
    }

    @Test func theNamesOfTheGatewaysOwnAdminsAreReserved() async throws {
        try await withScriptPool { pool async throws in
            for name in ["admin", "anonymous"] {
                try await pool.expectFailure(.createUser, [admin, name, "admin", "1", newTokenHash()], code: "INVALID_STATE",
                                             message: "the name \(name) is reserved for the gateway's own admins")
            }
        }
    }

    @Test func anAdminUserMayCreateUsersAndActAsAdmin() async throws {
        try await withScriptPool { pool async throws in
            let boss = try await pool.addUser("boss", role: "admin", quota: 0)
            let record = fields(try await pool.run(.createUser, [boss, "alice", "user", "1", newTokenHash()]))
            #expect(record["name"] == "alice")
            #expect(try await pool.userNames() == ["alice", "boss"])
        }
    }

    @Test func createUserAcceptsNamesOfUpTo64AllowedCharacters() async throws {
        try await withScriptPool { pool async throws in
            for name in [String(repeating: "n", count: 64), "a", "A.b_c-9"] {
                #expect(fields(try await pool.run(.createUser, [admin, name, "admin", "1000000", newTokenHash()]))["name"] == name)
            }
        }
    }

    @Test func createUserRejectsBadNamesRolesQuotasAndHashes() async throws {
        try await withScriptPool { pool async throws in
            let good = ["alice", "user", "1", newTokenHash()]
            var cases: [[String]] = []
            for name in ["", String(repeating: "n", count: 65), "a b", "a/b", "a:b", "ü", "a{b}", "*"] {
                cases.append([name] + good.dropFirst())
            }
            for role in ["", "root", "Admin"] { cases.append([good[0], role, good[2], good[3]]) }
            for quota in ["", "-1", "x", "1000001", "1.0"] { cases.append([good[0], good[1], quota, good[3]]) }
            for hash in ["", String(newTokenHash().dropLast()), newTokenHash() + "0", String(repeating: "g", count: 64)] {
                cases.append([good[0], good[1], good[2], hash])
            }
            cases.append(["alice", "user", "1"])
            for arguments in cases {
                try await pool.expectFailure(.createUser, [admin] + arguments, code: "BAD_REQUEST")
            }
            #expect(try await pool.dump().isEmpty)
        }
    }

    @Test func createUserRefusesATakenNameOrTokenHash() async throws {
        try await withScriptPool { pool async throws in
            let alice = try await pool.addUser("alice")
            try await pool.expectFailure(.createUser, [admin, "alice", "user", "1", newTokenHash()], code: "INVALID_STATE",
                                         message: "user alice already exists")
            try await pool.expectFailure(.createUser, [admin, "bob", "user", "1", String(alice.dropFirst(2))], code: "INVALID_STATE",
                                         message: "this token hash is already in use")
        }
    }
}
