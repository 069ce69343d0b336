import Foundation
import RedisClient
import Reservations
import Testing
import TestSupport

/// lua/checkin.lua: returns a checked-out VM to the pool (or to the provider first, on a reset return).
@Suite struct CheckinScriptTests: ScriptSuite {
    @Test func returnsTheVMToThePoolAndClearsTheHolder() async throws {
        try await withScriptPool { pool async throws in
            try await pool.seed(cap: 5, idleCleanup: true)
            let vms = try await pool.addVMs(1...2)
            let alice = try await pool.addUser("alice", quota: 2)
            let id = try await pool.checkout(alice, lease: "3600")
            let created = try #require(try await pool.vm(id)["created_at"])
            let ip = try #require(vms.first { $0.id == id }?.ip)
            let reply = fields(try await pool.run(.checkin, [alice, id, ""]))
            let since = try #require(try await pool.command("ZSCORE", pool.key("idle"), id).string.flatMap { Int($0) })
            #expect(try await pool.now() - since < 60_000, "available since the checkin")
            let expected = ["vm_id": id, "ip": ip, "status": "available", "created_at": created]
            #expect(reply == expected)
            #expect(try await pool.vm(id) == expected)
            #expect(try await pool.vmIDs(status: "available") == Set(vms.map(\.id)))
            #expect(try await pool.vmIDs(status: "checked-out").isEmpty)
            #expect(try await pool.members("held:alice").isEmpty)
            #expect(try await pool.command("ZCARD", pool.key("leases")) == .integer(0))
        }
    }

    @Test func findsTheVMByIPOrByIdAndIPTogether() async throws {
        try await withScriptPool { pool async throws in
            try await pool.seed(cap: 5)
            let vms = try await pool.addVMs(1...2)
            let ipOf = Dictionary(uniqueKeysWithValues: vms.map { ($0.id, $0.ip) })
            let alice = try await pool.addUser("alice", quota: 2)
            let first = try await pool.checkout(alice)
            let second = try await pool.checkout(alice)
            #expect(fields(try await pool.run(.checkin, [alice, "", ipOf[first]!]))["vm_id"] == first)
            #expect(fields(try await pool.run(.checkin, [alice, second, ipOf[second]!]))["vm_id"] == second)
            #expect(try await pool.members("held:alice").isEmpty)
            #expect(try await pool.count("available") == 2)
        }
    }

    @Test func anAdminMayCheckInAnyonesVM() async throws {
        try await withScriptPool { pool async throws in
            try await pool.seed(cap: 5)
            try await pool.addVMs(1...2)
            let alice = try await pool.addUser("alice", quota: 2)
            let boss = try await pool.addUser("boss", role: "admin")
            let first = try await pool.checkout(alice)
            let second = try await pool.checkout(alice)
            #expect(fields(try await pool.run(.checkin, [admin, first, ""]))["status"] == "available")
            #expect(fields(try await pool.run(.checkin, [boss, second, ""]))["status"] == "available")
            #expect(try await pool.members("held:alice").isEmpty)
        }
    }

    @Test func needsAnIdOrAnIP() async throws {
        try await withScriptPool { pool async throws in
            try await pool.seed(cap: 5)
            try await pool.addVMs(1...1)
            let alice = try await pool.addUser("alice")
            _ = try await pool.checkout(alice)
            try await pool.expectFailure(.checkin, [alice, "", ""], code: "BAD_REQUEST", message: "give vm_id, ip or both")
            try await pool.expectFailure(.checkin, [alice], code: "BAD_REQUEST")
        }
    }

    @Test func failsWithVMNotFoundForUnknownOrMismatchedDetails() async throws {
        try await withScriptPool { pool async throws in
            try await pool.seed(cap: 5)
            try await pool.addVMs(1...2)
            let alice = try await pool.addUser("alice", quota: 2)
            let first = try await pool.checkout(alice)
            let second = try await pool.checkout(alice)
            let ipOfSecond = try #require(try await pool.vm(second)["ip"])
            for arguments in [["nope", ""], ["", "1.1.1.1"], [first, ipOfSecond], [first, "1.1.1.1"], ["nope", ipOfSecond]] {
                try await pool.expectFailure(.checkin, [alice] + arguments, code: "VM_NOT_FOUND", message: vmNotFoundMessage)
                try await pool.expectFailure(.checkin, [admin] + arguments, code: "VM_NOT_FOUND", message: vmNotFoundMessage)
            }
        }
    }

    @Test func aUserCannotCheckInAVMTheyDoNotHold() async throws {
        try await withScriptPool { pool async throws in
            try await pool.seed(cap: 5)
            try await pool.addVMs(1...2)
            let alice = try await pool.addUser("alice")
            let bob = try await pool.addUser("bob")
            let held = try await pool.checkout(alice)
            let free = try #require(try await pool.vmIDs(status: "available").first)
            try await pool.expectFailure(.checkin, [bob, held, ""], code: "FORBIDDEN", message: "you do not hold this VM")
            try await pool.expectFailure(.checkin, [bob, free, ""], code: "FORBIDDEN")
            try await pool.expectFailure(.checkin, [alice, free, ""], code: "FORBIDDEN")
        }
    }

    @Test func anAdminGetsInvalidStateForAVMThatIsNotCheckedOut() async throws {
        try await withScriptPool { pool async throws in
            try await pool.seed(cap: 5)
            try await pool.addVMs(1...1)
            try await pool.expectFailure(.checkin, [admin, "vm-00001", ""], code: "INVALID_STATE", message: "VM is available, not checked out")
            let alice = try await pool.addUser("alice")
            let id = try await pool.checkout(alice)
            _ = try await pool.run(.checkin, [alice, id, ""])
            try await pool.expectFailure(.checkin, [admin, id, ""], code: "INVALID_STATE")
        }
    }

    @Test func aResetReturnIsProvisioningUntilTheProviderIsDone() async throws {
        try await withScriptPool { pool async throws in
            try await seedJobs(pool, onReturn: "reset")
            _ = try await pool.run(.createVMs, [ScriptPool.admin, "1", "", "", "", "", "vm-a", ""])
            let provision = try #require(try await take(pool))
            _ = try await finish(pool, "vm-a", claim: provision.claim, "done", ip: "10.0.0.1")
            let alice = try await pool.addUser("alice")
            #expect(try await pool.checkout(alice) == "vm-a")
            let back = fields(try await pool.run(.checkin, [alice, "vm-a", ""]))
            #expect(back["status"] == "provisioning" && back["job"] == "reset" && back["user"] == nil)
            #expect(try await pool.members("held:alice").isEmpty)
            try await pool.expectFailure(.checkout, [alice, "1", "", "", "604800", ""], code: "NO_VM_AVAILABLE")
            let reset = try #require(try await take(pool))
            #expect(reset.kind == "reset")
            _ = try await finish(pool, "vm-a", claim: reset.claim, "done")
            #expect(try await pool.vm("vm-a")["status"] == "available")
            #expect(try await pool.events().last?["action"] == "reset")
            #expect(try await pool.checkout(alice) == "vm-a")
        }
    }
}
