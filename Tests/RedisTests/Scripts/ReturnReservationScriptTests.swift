import RedisClient
import Reservations
import Testing
import TestSupport

/// lua/return_reservation.lua: every VM of a reservation checked in, in one step.
@Suite struct ReturnReservationScriptTests: ScriptSuite {
    @Test func everyVMIsCheckedInAndTheReservationEnds() async throws {
        try await withScriptPool { pool async throws in
            let (alice, _) = try await aliceReserved(pool, ":3", lease: "3600")
            let count = try await pool.events().count
            let returned = try ScriptReservation(try await pool.run(.returnReservation, [alice, "r-1"]))
            #expect(returned.id == "r-1" && returned.fields["user"] == "alice" && returned.vms.count == 3)
            #expect(returned.vms.allSatisfy { $0["status"] == "available" && $0["user"] == nil && $0["reservation"] == nil })
            #expect(try await !pool.exists("reservation:r-1"))
            #expect(try await pool.members("held:alice").isEmpty)
            #expect(try await pool.zmembers("leases").isEmpty)
            let checkins = try await pool.events().dropFirst(count)
            #expect(checkins.count == 3 && checkins.allSatisfy { $0["action"] == "checkin" && $0["reservation_id"] == "r-1" })
            try await pool.expectFailure(.returnReservation, [alice, "r-1"], code: "RESERVATION_NOT_FOUND")
            #expect(try await poolInconsistencies(pool.client, prefix: pool.keys.prefix) == [])
        }
    }

    @Test func anotherUserCannotAndAnAdminMay() async throws {
        try await withScriptPool { pool async throws in
            try await sizedPool(pool)
            let alice = try await pool.addUser("alice", quota: 5)
            let bob = try await pool.addUser("bob", quota: 5)
            _ = try await pool.run(.reserve, reserve(pool, alice, ":2"))
            try await pool.expectFailure(.returnReservation, [bob, "r-1"], code: "RESERVATION_NOT_FOUND")
            let returned = try ScriptReservation(try await pool.run(.returnReservation, [admin, "r-1"]))
            #expect(returned.vms.allSatisfy { $0["status"] == "available" })
            #expect(try await pool.events().last?["actor"] == "admin")
        }
    }
}
