import Foundation
import RedisClient
import Reservations
import Testing
import TestSupport

/// Idempotency-Key in the scripts: a retried checkout or create answers what the first request
/// got instead of taking a second VM; only success is kept; keys are per caller and per window.
@Suite struct IdempotencyScriptTests {
    private static let window = "60000"

    private func checkout(_ pool: ScriptPool, _ identity: String, key: String, size: String = "", lease: String = "",
                          window: String = window) async throws -> [String: String] {
        fields(try await pool.run(.checkout, [identity, "5", lease, "", "604800", size, key, window]))
    }

    private func held(_ pool: ScriptPool, _ name: String) async throws -> Int {
        try await pool.command("SCARD", pool.key("held:" + name)).int ?? -1
    }

    @Test func aRetriedCheckoutAnswersTheFirstVMAndTakesNoSecond() async throws {
        try await withScriptPool { pool async throws in
            try await pool.seed(cap: 10)
            try await pool.addVMs(1...3)
            let alice = try await pool.addUser("alice", quota: 3)
            let first = try await checkout(pool, alice, key: "retry-1", lease: "60")
            let again = try await checkout(pool, alice, key: "retry-1", lease: "60")
            #expect(first["vm_id"] != nil && again == first, "the first answer, word for word")
            #expect(try await held(pool, "alice") == 1)
            #expect(try await pool.events().filter { $0["action"] == "checkout" }.count == 1, "one change, one event")
            let other = try await checkout(pool, alice, key: "retry-2", lease: "60")
            #expect(other["vm_id"] != first["vm_id"])
            #expect(try await held(pool, "alice") == 2)
            // the same key for a different request is refused and changes nothing
            try await pool.expectFailure(.checkout, [alice, "5", "120", "", "604800", "", "retry-1", Self.window],
                                         code: "IDEMPOTENCY_MISMATCH",
                                         message: "this Idempotency-Key was already used for a different request")
            // keys are the caller's own: bob's "retry-1" is another request
            let bob = try await pool.addUser("bob", quota: 1)
            #expect(try await checkout(pool, bob, key: "retry-1", lease: "60")["user"] == "bob")
        }
    }

    @Test func aRefusedRequestIsNotKeptAndAKeyEndsWithItsWindow() async throws {
        try await withScriptPool { pool async throws in
            try await pool.seed(cap: 10)
            let alice = try await pool.addUser("alice", quota: 2)
            try await pool.expectFailure(.checkout, [alice, "5", "", "", "604800", "", "k", Self.window], code: "NO_VM_AVAILABLE")
            #expect(try await pool.exists("user:alice:idem:k") == false)
            try await pool.addVMs(1...2)
            let first = try await checkout(pool, alice, key: "k", window: "100")
            #expect(first["user"] == "alice")
            let ttl = try await pool.command("PTTL", pool.key("user:alice:idem:k")).int ?? 0
            #expect(ttl <= 100 && ttl != -1, "kept for the window, no longer (-2: gone already, on a slow machine)")
            try await waitUntil("the window of 100 ms ends") { (try? await pool.exists("user:alice:idem:k")) == false }
            #expect(try await checkout(pool, alice, key: "k")["vm_id"] != first["vm_id"], "a new request after the window")
        }
    }

    @Test func aRetriedCreateAnswersTheSameVMsAndAContinuationAddsToThem() async throws {
        try await withScriptPool { pool async throws in
            try await pool.seed(cap: 10)
            let create = { (count: String, key: String, more: String, candidates: [String]) in
                try await pool.run(.createVMs, [ScriptPool.admin, count, "", key, Self.window, more] + candidates).array ?? []
            }
            // the first call falls short (a candidate's address is taken), a continuation adds the rest
            try await pool.addVMs(1...1)
            let taken = ScriptPool.candidate(1).ip
            let first = try await create("2", "c-1", "", ["a", taken, "b", "12.0.0.2"])
            #expect(first.first == .integer(1) && first.count == 2)
            let rest = try await create("1", "c-1", "more", ["c", "12.0.0.3"])
            #expect(rest.first == .integer(0) && rest.count == 2)
            let replay = try await create("2", "c-1", "", ["d", "12.0.0.4", "e", "12.0.0.5"])
            #expect(replay.first == .integer(0))
            #expect(replay.dropFirst().map { fields($0)["vm_id"] } == ["b", "c"], "both calls' VMs, and nothing more")
            #expect(try await pool.vmIDs().count == 3)
            try await pool.expectFailure(.createVMs, [ScriptPool.admin, "3", "", "c-1", Self.window, "", "x", "12.0.0.9"],
                                         code: "IDEMPOTENCY_MISMATCH")
        }
    }

    @Test func aWaitingCheckoutHoldsItsKeyUntilItIsServedOrGivesUp() async throws {
        try await withScriptPool { pool async throws in
            try await pool.seed(cap: 10)
            try await pool.addVMs(1...1)
            let holder = try await pool.addUser("holder", quota: 1)
            let id = try await pool.checkout(holder)
            let alice = try await pool.addUser("alice", quota: 1)
            let waitArguments = [alice, "5", "", "", "604800", "60000", "gw1", "ticket-1", "", "w", Self.window]
            #expect(try await pool.run(.waitCheckout, waitArguments).array?.first?.string == "queued")
            // a retry while the first still waits
            try await pool.expectFailure(.waitCheckout, [alice, "5", "", "", "604800", "60000", "gw1", "ticket-2", "", "w", Self.window],
                                         code: "IDEMPOTENCY_IN_PROGRESS")
            try await pool.expectFailure(.checkout, [alice, "5", "", "", "604800", "", "w", Self.window], code: "IDEMPOTENCY_IN_PROGRESS")
            _ = try await pool.run(.checkin, [holder, id, ""])
            let claimed = fields(try await pool.run(.claim, [alice, "ticket-1", "", "", "604800", "w", Self.window]))
            #expect(claimed["vm_id"] == id && claimed["user"] == "alice")
            #expect(try await checkout(pool, alice, key: "w") == claimed, "a retry now gets the VM the wait got")
            let retried = try await pool.run(.waitCheckout, [alice, "5", "", "", "604800", "60000", "gw1", "ticket-3", "", "w", Self.window])
            #expect(retried.array?.first?.string == "vm" && retried.array.map { fields($0[1]) } == claimed)

            // a wait that ends without a VM frees its key
            let bob = try await pool.addUser("bob", quota: 1)
            #expect(try await pool.run(.waitCheckout, [bob, "5", "", "", "604800", "60000", "gw1", "ticket-4", "", "b", Self.window])
                .array?.first?.string == "queued")
            #expect(try await pool.exists("user:bob:idem:b"))
            _ = try await pool.run(.leaveQueue, [bob, "ticket-4", "keep", "b", Self.window])
            #expect(try await pool.exists("user:bob:idem:b") == false)
        }
    }

    @Test func refusesKeysThatAreNotVisibleASCII() async throws {
        try await withScriptPool { pool async throws in
            try await pool.seed(cap: 10)
            try await pool.addVMs(1...1)
            for key in ["has space", String(repeating: "k", count: 256), "tab\t", "é"] {
                try await pool.expectFailure(.checkout, [ScriptPool.admin, "5", "", "", "604800", "", key, Self.window], code: "BAD_REQUEST")
            }
            for window in ["0", "604800001", "x", ""] {
                try await pool.expectFailure(.checkout, [ScriptPool.admin, "5", "", "", "604800", "", "key", window], code: "BAD_REQUEST")
            }
        }
    }
}
