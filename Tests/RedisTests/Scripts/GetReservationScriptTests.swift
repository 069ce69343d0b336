import RedisClient
import Reservations
import Testing
import TestSupport

/// lua/get_reservation.lua and lua/list_reservations.lua: a reservation, and the caller's.
@Suite struct GetReservationScriptTests: ScriptSuite {
    @Test func theHolderAndAdminsSeeItOthersLearnNothing() async throws {
        try await withScriptPool { pool async throws in
            try await sizedPool(pool)
            let alice = try await pool.addUser("alice", quota: 5)
            let bob = try await pool.addUser("bob", quota: 5)
            let made = try #require(try await pool.run(.reserve, reserve(pool, alice, ":2", lease: "3600")).array?.last)
            #expect(try await pool.run(.getReservation, [alice, "r-1"]) == made)
            #expect(try await pool.run(.getReservation, [admin, "r-1"]) == made)
            let hidden = try await pool.expectFailure(.getReservation, [bob, "r-1"], code: "RESERVATION_NOT_FOUND")
            let absent = try await pool.expectFailure(.getReservation, [bob, "r-9"], code: "RESERVATION_NOT_FOUND")
            #expect(hidden?.message == absent?.message)
        }
    }

    @Test func aCallersReservationsOldestFirstAndNoOneElses() async throws {
        try await withScriptPool { pool async throws in
            try await sizedPool(pool)
            let alice = try await pool.addUser("alice", quota: 5)
            let bob = try await pool.addUser("bob", quota: 5)
            _ = try await pool.run(.reserve, reserve(pool, alice, ":1", id: "r-b"))
            _ = try await pool.run(.reserve, reserve(pool, bob, ":1", id: "r-x"))
            _ = try await pool.run(.reserve, reserve(pool, alice, ":2", id: "r-a"))
            let mine = try #require(try await pool.run(.listReservations, [alice]).array).map { try ScriptReservation($0) }
            #expect(mine.map(\.id) == ["r-b", "r-a"] && mine.map(\.vms.count) == [1, 2])
            #expect(try await pool.run(.listReservations, [bob]).array?.count == 1)
        }
    }

    /// A reservation whose lease ran out is gone before any of them answers.
    @Test func anExpiredReservationIsReturnedBeforeTheyAnswer() async throws {
        try await withScriptPool { pool async throws in
            let (alice, made) = try await aliceReserved(pool, ":2", lease: "3600")
            try await pool.command("ZADD", pool.key("leases"), "XX", "1", made.vmIDs[0])
            #expect(try await pool.run(.listReservations, [alice]).array?.isEmpty == true)
            try await pool.expectFailure(.getReservation, [alice, "r-1"], code: "RESERVATION_NOT_FOUND")
            for id in made.vmIDs { #expect(try await pool.vm(id)["status"] == "available") }
        }
    }
}
