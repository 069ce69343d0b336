import RedisClient
import Reservations
import Testing
import TestSupport

/// A reservation as the scripts answer it: its id, fields, and VMs (each as `fields`).
struct ScriptReservation {
    let id: String
    let fields: [String: String]
    let vms: [[String: String]]

    /// A reservation, or reserve.lua's `{'reservation', reservation}`.
    init(_ reply: RESPValue) throws {
        var elements = try #require(reply.array)
        if elements.first?.string == "reservation", elements.count == 2 { elements = try #require(elements[1].array) }
        id = try #require(elements.first?.string)
        var fields: [String: String] = [:]
        for index in stride(from: 1, to: elements.count - 1, by: 2) {
            fields[elements[index].string ?? ""] = elements[index + 1].string
        }
        self.fields = fields
        vms = try #require(elements.last?.array).map { RedisTests.fields($0) }
    }

    var vmIDs: [String] { vms.compactMap { $0["vm_id"] } }
}

extension ScriptSuite {
    /// reserve.lua for `identity` (default quota 5): `groups` as "size:count,…", reservation `id`.
    func reserve(_ pool: ScriptPool, _ identity: String, _ groups: String, lease: String = "", key: String = "",
                 id: String = "r-1") -> [String] {
        [identity, "5", lease, "", "604800", groups, key, Self.window, id]
    }

    /// `sizedPool`, then alice (quota 5) reserving `groups` with a lease of `lease` seconds, as
    /// reservation r-1: her identity and the reservation.
    func aliceReserved(_ pool: ScriptPool, _ groups: String, lease: String) async throws -> (alice: String, reservation: ScriptReservation) {
        try await sizedPool(pool)
        let alice = try await pool.addUser("alice", quota: 5)
        return (alice, try ScriptReservation(try await pool.run(.reserve, reserve(pool, alice, groups, lease: lease))))
    }
}

/// lua/reserve.lua: several VMs checked out as one reservation, all or none.
@Suite struct ReserveScriptTests: ScriptSuite {
    @Test func everyVMAskedForIsTakenWithOneLease() async throws {
        try await withScriptPool { pool async throws in
            try await sizedPool(pool)  // 2 small, 2 large
            let alice = try await pool.addUser("alice", quota: 5)
            let before = try await pool.now()
            let reservation = try ScriptReservation(try await pool.run(.reserve, reserve(pool, alice, "large:2,:1", lease: "600")))
            #expect(reservation.id == "r-1" && reservation.fields["user"] == "alice" && reservation.fields["lease_seconds"] == "600")
            #expect(reservation.vms.map { $0["size"] } .sorted { ($0 ?? "") < ($1 ?? "") } == ["large", "large", "small"])
            let end = try #require(reservation.fields["lease_expires_at"].flatMap { Int($0) })
            #expect(end >= before + 600_000)
            for vm in reservation.vms {
                #expect(vm["status"] == "checked-out" && vm["user"] == "alice" && vm["reservation"] == "r-1")
                #expect(vm["lease_expires_at"] == String(end), "one lease for all")
            }
            #expect(try await pool.members("reservation_vms:r-1") == Set(reservation.vmIDs))
            #expect(try await pool.members("reservations:alice") == ["r-1"])
            #expect(try await pool.members("held:alice") == Set(reservation.vmIDs))
            let events = try await pool.events().suffix(3)
            #expect(events.allSatisfy { $0["action"] == "checkout" && $0["reservation_id"] == "r-1" }, "\(events)")
            #expect(try await poolInconsistencies(pool.client, prefix: pool.keys.prefix) == [])
        }
    }

    /// Too few VMs: nothing is taken and nothing recorded (expectFailure compares every key).
    @Test func tooFewAvailableTakesNothing() async throws {
        try await withScriptPool { pool async throws in
            try await sizedPool(pool)
            let alice = try await pool.addUser("alice", quota: 10)
            try await pool.expectFailure(.reserve, reserve(pool, alice, ":5"), code: "NO_VM_AVAILABLE")
            try await pool.expectFailure(.reserve, reserve(pool, alice, "large:3"), code: "NO_VM_AVAILABLE")
            try await pool.expectFailure(.reserve, reserve(pool, alice, "large:2,small:1,medium:1"), code: "NO_VM_AVAILABLE")
            _ = try await pool.run(.reserve, reserve(pool, alice, ":4"))
        }
    }

    @Test func theQuotaCountsTheWholeGroup() async throws {
        try await withScriptPool { pool async throws in
            try await sizedPool(pool)
            let alice = try await pool.addUser("alice", quota: 3)
            _ = try await pool.checkout(alice, defaultQuota: 3)
            try await pool.expectFailure(.reserve, reserve(pool, alice, ":3"), code: "QUOTA_EXCEEDED")
            _ = try await pool.run(.updateUser, [admin, "alice", "5", "", "", "large=1"])
            try await pool.expectFailure(.reserve, reserve(pool, alice, "large:2"), code: "QUOTA_EXCEEDED")
            // any size: the sizes she has room for (the small one left, and one large at most)
            try await pool.expectFailure(.reserve, reserve(pool, alice, ":3"), code: "NO_VM_AVAILABLE")
            let any = try ScriptReservation(try await pool.run(.reserve, reserve(pool, alice, ":2")))
            #expect(any.vms.compactMap { $0["size"] }.sorted() == ["large", "small"])
        }
    }

    @Test func moreThanTheCapCanHoldIsRefusedAtOnce() async throws {
        try await withScriptPool { pool async throws in
            try await pool.seed(cap: 3)
            try await pool.addVMs(1...3)
            let alice = try await pool.addUser("alice", quota: 10)
            try await pool.expectFailure(.reserve, reserve(pool, alice, ":4"), code: "INVALID_STATE",
                                         message: "4 VMs are more than the pool can ever hold (3)")
        }
    }

    @Test(arguments: ["", ":0", ":101", "huge:1", "small:1,small:1", "small", "small:x", ":60,:41"])
    func malformedGroupsAreRefused(groups: String) async throws {
        try await withScriptPool { pool async throws in
            try await sizedPool(pool)
            let alice = try await pool.addUser("alice", quota: 5)
            try await pool.expectFailure(.reserve, reserve(pool, alice, groups), code: "BAD_REQUEST")
        }
    }

    @Test func aRetryWithTheSameKeyGetsTheSameReservation() async throws {
        try await withScriptPool { pool async throws in
            try await sizedPool(pool)
            let alice = try await pool.addUser("alice", quota: 5)
            let first = try await pool.run(.reserve, reserve(pool, alice, ":2", key: "k1", id: "r-1"))
            let again = try await pool.run(.reserve, reserve(pool, alice, ":2", key: "k1", id: "r-2"))
            #expect(first == again)
            #expect(try await pool.members("held:alice").count == 2)
            try await pool.expectFailure(.reserve, reserve(pool, alice, ":1", key: "k1", id: "r-3"), code: "IDEMPOTENCY_MISMATCH")
        }
    }

    /// A VM checked in alone leaves the reservation, which ends with its last VM.
    @Test func aReservationEndsWithItsLastVM() async throws {
        try await withScriptPool { pool async throws in
            try await sizedPool(pool)
            let alice = try await pool.addUser("alice", quota: 5)
            let reservation = try ScriptReservation(try await pool.run(.reserve, reserve(pool, alice, ":2")))
            let (first, second) = (reservation.vmIDs[0], reservation.vmIDs[1])
            let returned = fields(try await pool.run(.checkin, [alice, first, ""]))
            #expect(returned["status"] == "available" && returned["reservation"] == nil)
            #expect(try await pool.members("reservation_vms:r-1") == [second])
            #expect(try await pool.events().last?["reservation_id"] == "r-1")
            _ = try await pool.run(.checkin, [alice, second, ""])
            #expect(try await !pool.exists("reservation:r-1"))
            #expect(try await !pool.exists("reservation_vms:r-1"))
            #expect(try await pool.members("reservations:alice").isEmpty)
            #expect(try await poolInconsistencies(pool.client, prefix: pool.keys.prefix) == [])
        }
    }

    /// A lease that runs out returns every VM of the reservation at once, each recorded.
    @Test func aLeaseThatRunsOutReturnsTheWholeReservation() async throws {
        try await withScriptPool { pool async throws in
            let (_, reservation) = try await aliceReserved(pool, ":3", lease: "600")
            // one VM's lease seen as over: the reservation's is, for all of them
            try await pool.command("ZADD", pool.key("leases"), "XX", "1", reservation.vmIDs[1])
            let count = try await pool.events().count
            let reaped = try await pool.run(.reapLeases, ["10"]).array?.first?.int
            #expect(reaped == 1)
            for id in reservation.vmIDs { #expect(try await pool.vm(id)["status"] == "available") }
            #expect(try await pool.zmembers("leases").isEmpty)
            #expect(try await !pool.exists("reservation:r-1"))
            let recorded = try await pool.events().dropFirst(count)
            #expect(recorded.count == 3 && recorded.allSatisfy { $0["action"] == "lease_expired" && $0["reservation_id"] == "r-1" })
            #expect(try await poolInconsistencies(pool.client, prefix: pool.keys.prefix) == [])
        }
    }
}
