import Foundation
import RedisClient
import Reservations
import Testing
import TestSupport

/// lua/get_vm.lua: one VM, for an admin or its current holder.
@Suite struct GetVMScriptTests: ScriptSuite {
    @Test func getVMShowsAnyVMToAnAdminAndItsOwnVMToTheHolder() async throws {
        try await withScriptPool { pool async throws in
            try await pool.seed(cap: 2)
            try await pool.addVMs(1...2)
            let alice = try await pool.addUser("alice")
            let id = try await pool.checkout(alice)
            let record = try await pool.vm(id)
            #expect(fields(try await pool.run(.getVM, [alice, id])) == record)
            #expect(fields(try await pool.run(.getVM, [admin, id])) == record)
            #expect(fields(try await pool.run(.getVM, [admin, "vm-00002"]))["vm_id"] == "vm-00002")
        }
    }

    @Test func getVMHidesOtherPeoplesVMsAsNotFound() async throws {
        try await withScriptPool { pool async throws in
            try await pool.seed(cap: 2)
            try await pool.addVMs(1...2)
            let alice = try await pool.addUser("alice")
            let bob = try await pool.addUser("bob")
            let held = try await pool.checkout(alice)
            let free = try #require(try await pool.vmIDs(status: "available").first)
            for id in [held, free, "nope"] {
                try await pool.expectFailure(.getVM, [bob, id], code: "VM_NOT_FOUND", message: vmNotFoundMessage)
            }
            try await pool.expectFailure(.getVM, [admin, "nope"], code: "VM_NOT_FOUND", message: vmNotFoundMessage)
            try await pool.expectFailure(.getVM, [alice, ""], code: "BAD_REQUEST", message: "vm_id is required")
        }
    }
}
