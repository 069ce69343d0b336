import RedisClient
import Reservations
import Testing
import TestSupport

/// lua/renew_reservation.lua: every VM of a reservation gets one new lease, from now.
@Suite struct RenewReservationScriptTests: ScriptSuite {
    @Test func everyVMGetsTheSameNewLease() async throws {
        try await withScriptPool { pool async throws in
            let (alice, _) = try await aliceReserved(pool, ":3", lease: "3600")
            let before = try await pool.now()
            let renewed = try ScriptReservation(try await pool.run(.renewReservation, [alice, "r-1", "900"] + gatewayLeases))
            let end = try #require(renewed.fields["lease_expires_at"].flatMap { Int($0) })
            #expect(end >= before + 900_000 && renewed.fields["lease_seconds"] == "900")
            #expect(renewed.vms.count == 3 && renewed.vms.allSatisfy { $0["lease_expires_at"] == String(end) && $0["lease_seconds"] == "900" })
            for id in renewed.vmIDs { #expect(try await pool.command("ZSCORE", pool.key("leases"), id).int == end) }
            let renewals = try await pool.events().suffix(3)
            #expect(renewals.allSatisfy { $0["action"] == "renew" && $0["reservation_id"] == "r-1" && $0["detail"] == "lease 900 s" })
            // without a length: its own again
            let again = try ScriptReservation(try await pool.run(.renewReservation, [alice, "r-1", ""] + gatewayLeases))
            #expect(again.fields["lease_seconds"] == "900")
        }
    }

    @Test func onlyTheHolderRenewsOthersLearnNothing() async throws {
        try await withScriptPool { pool async throws in
            let (alice, _) = try await aliceReserved(pool, ":2", lease: "3600")
            let bob = try await pool.addUser("bob", quota: 5)
            let hidden = try await pool.expectFailure(.renewReservation, [bob, "r-1", "60"] + gatewayLeases, code: "RESERVATION_NOT_FOUND")
            let absent = try await pool.expectFailure(.renewReservation, [bob, "r-9", "60"] + gatewayLeases, code: "RESERVATION_NOT_FOUND")
            #expect(hidden?.message == absent?.message)
            try await pool.expectFailure(.renewReservation, [admin, "r-1", "60"] + gatewayLeases, code: "FORBIDDEN")
            try await pool.expectFailure(.renewReservation, [alice, "r-1", "99999999"] + gatewayLeases, code: "BAD_REQUEST")
        }
    }

    @Test func aReservationWithoutALeaseNeedsALength() async throws {
        try await withScriptPool { pool async throws in
            try await sizedPool(pool)
            let alice = try await pool.addUser("alice", quota: 5)
            _ = try await pool.run(.reserve, reserve(pool, alice, ":2"))
            try await pool.expectFailure(.renewReservation, [alice, "r-1", ""] + gatewayLeases, code: "BAD_REQUEST",
                                         message: "this reservation has no lease: give lease_seconds")
        }
    }
}
