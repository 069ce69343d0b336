import Foundation
import RedisClient
import Reservations
import Testing
import TestSupport

/// lua/create_vms.lua: creates VMs under the cap from candidates (addresses from the IP pool, idempotently, provisioning with jobs).
@Suite struct CreateVMsScriptTests: ScriptSuite {
    @Test func createsAvailableVMsAndIndexesThemByIdStatusAndIP() async throws {
        try await withScriptPool { pool async throws in
            try await pool.seed(cap: 10)
            let before = try await pool.now()
            let candidates = (1...3).map(ScriptPool.candidate)
            let reply = try await pool.run(.createVMs, [admin, "3", "", "", "", ""] + candidates.flatMap { [$0.id, $0.ip] })
            let after = try await pool.now()
            let elements = try #require(reply.array)
            #expect(elements.count == 4)
            #expect(elements.first == .integer(0))
            for (element, candidate) in zip(elements.dropFirst(), candidates) {
                let record = fields(element)
                #expect(record["vm_id"] == candidate.id)
                #expect(record["ip"] == candidate.ip)
                #expect(record["status"] == "available")
                let created = try #require(record["created_at"].flatMap { Int($0) })
                #expect((before...after).contains(created))
                #expect(try await pool.vm(candidate.id) == record)
            }
            #expect(try await pool.vmIDs() == candidates.map(\.id))
            #expect(try await pool.vmIDs(status: "available") == Set(candidates.map(\.id)))
            #expect(try await pool.ipIndex() == Dictionary(uniqueKeysWithValues: candidates.map { ($0.ip, $0.id) }))
        }
    }

    @Test func usesTheCandidatesInOrderAndOnlyAsManyAsAskedFor() async throws {
        try await withScriptPool { pool async throws in
            try await pool.seed(cap: 10)
            let candidates = (1...4).map(ScriptPool.candidate)
            let reply = try await pool.run(.createVMs, [admin, "2", "", "", "", ""] + candidates.flatMap { [$0.id, $0.ip] })
            #expect(reply.array?.first == .integer(0))
            #expect(try await pool.vmIDs() == ["vm-00001", "vm-00002"])
            #expect(try await pool.ipIndex().count == 2)
        }
    }

    @Test func neverCreatesMoreThanTheCapAllows() async throws {
        try await withScriptPool { pool async throws in
            try await pool.seed(cap: 5)
            try await pool.addVMs(1...3)
            let candidates = (4...7).map(ScriptPool.candidate)
            let reply = try await pool.run(.createVMs, [admin, "4", "", "", "", ""] + candidates.flatMap { [$0.id, $0.ip] })
            let elements = try #require(reply.array)
            #expect(elements.first == .integer(0)) // the cap limits, candidates did not run out
            #expect(elements.dropFirst().map { fields($0)["vm_id"] } == ["vm-00004", "vm-00005"])
            #expect(try await pool.vmIDs().count == 5)
            #expect(try await pool.count("available") == 5)
            #expect(try await pool.ipIndex().count == 5)
            let next = ScriptPool.candidate(8)
            try await pool.expectFailure(.createVMs, [admin, "1", "", "", "", "", next.id, next.ip], code: "MAX_VM_COUNT", message: maxVMCountMessage)
        }
    }

    @Test func skipsCandidatesWhoseIPOrIdIsTakenAndReportsTheShortfall() async throws {
        try await withScriptPool { pool async throws in
            try await pool.seed(cap: 10)
            try await pool.addVMs(1...1) // vm-00001 at 11.0.0.1
            let reply = try await pool.run(.createVMs, [
                admin, "2", "", "", "", "",
                "vm-new-a", "11.0.0.1", // ip taken
                "vm-00001", "11.0.0.9", // id taken
                "vm-new-b", "11.0.0.2",
            ])
            let elements = try #require(reply.array)
            #expect(elements.first == .integer(1))
            #expect(elements.dropFirst().map { fields($0)["vm_id"] } == ["vm-new-b"])
            #expect(try await pool.ipIndex() == ["11.0.0.1": "vm-00001", "11.0.0.2": "vm-new-b"])
            #expect(try await pool.vm("vm-00001")["ip"] == "11.0.0.1")
            #expect(try await pool.vm("vm-new-a").isEmpty)
            #expect(try await pool.vmIDs() == ["vm-00001", "vm-new-b"])
        }
    }

    @Test func skipsCandidatesThatRepeatAnEarlierOneOfTheSameCall() async throws {
        try await withScriptPool { pool async throws in
            try await pool.seed(cap: 10)
            let reply = try await pool.run(.createVMs, [admin, "3", "", "", "", "", "a", "12.0.0.1", "b", "12.0.0.1", "a", "12.0.0.2"])
            #expect(reply.array?.first == .integer(2))
            #expect(try await pool.ipIndex() == ["12.0.0.1": "a"])
            #expect(try await pool.vmIDs() == ["a"])
        }
    }

    @Test func failsWithMaxVMCountWhenThePoolIsFullOrHasNoCap() async throws {
        try await withScriptPool { pool async throws in
            // no max_vm_count at all: a cap of 0
            try await pool.expectFailure(.createVMs, [admin, "1", "", "", "", "", "a", "12.0.0.1"], code: "MAX_VM_COUNT", message: maxVMCountMessage)
            try await pool.seed(cap: 2)
            try await pool.addVMs(1...2)
            try await pool.expectFailure(.createVMs, [admin, "1", "", "", "", "", "a", "12.0.0.1"], code: "MAX_VM_COUNT", message: maxVMCountMessage)
            try await pool.expectFailure(.createVMs, [admin, "1000", "", "", "", "", "a", "12.0.0.1"], code: "BAD_REQUEST")
        }
    }

    @Test func rejectsBadCountsAndCandidateLists() async throws {
        try await withScriptPool { pool async throws in
            try await pool.seed(cap: 2000)
            let cases: [[String]] = [
                ["0", "a", "12.0.0.1"],
                ["1001"] + (1...1001).flatMap { ["id\($0)", "ip\($0)"] },
                ["x", "a", "12.0.0.1"],
                ["", "a", "12.0.0.1"],
                ["-1", "a", "12.0.0.1"],
                ["2", "a", "12.0.0.1"], // fewer pairs than asked for
                ["1", "a", "12.0.0.1", "b"], // not pairs
                ["1"],
                ["1", "", "12.0.0.1"],
                ["1", "a", "12.0.0.1", "", "12.0.0.2"], // an empty id in a spare candidate too
            ]
            for arguments in cases {
                // (the size, "" for the default, goes after the count)
                try await pool.expectFailure(.createVMs, [admin] + arguments.prefix(1) + ["", "", "", ""] + arguments.dropFirst(), code: "BAD_REQUEST")
            }
            #expect(try await pool.vmIDs().isEmpty)
        }
    }

    @Test func anAdminUserWithATokenMayCreate() async throws {
        try await withScriptPool { pool async throws in
            try await pool.seed(cap: 2)
            let boss = try await pool.addUser("boss", role: "admin")
            let reply = try await pool.run(.createVMs, [boss, "1", "", "", "", "", "a", "12.0.0.1"])
            #expect(reply.array?.count == 2)
        }
    }

    @Test func addressesComeFromTheBlockLowestFirstUntilItIsFull() async throws {
        try await withScriptPool { pool async throws in
            try await pool.seed(cap: 100)
            let stats = try await pool.run(.setPool, [ScriptPool.admin, "", "10.1.2.0/29"])
            #expect(stats == poolStatsReply([100, 0, 0, 0, 0, 0, 0], ipPool: "10.1.2.0/29", free: 6), "network and broadcast are not handed out")
            #expect(try await create(pool, 4) == ["10.1.2.1", "10.1.2.2", "10.1.2.3", "10.1.2.4"])
            #expect(try await create(pool, 5, start: 10) == ["10.1.2.5", "10.1.2.6"], "as many as the block has room for")
            let error = try await pool.expectFailure(.createVMs, [ScriptPool.admin, "1", "", "", "", "", "c-99", "11.9.9.9"], code: "IP_POOL_EXHAUSTED")
            #expect(error?.message == "no free address is left in the IP pool 10.1.2.0/29")
            #expect(try await pool.run(.poolStats, [ScriptPool.admin]) == poolStatsReply([100, 6, 0, 6, 0, 0, 0], ipPool: "10.1.2.0/29", free: 0))

            // a deleted VM's address is the next one handed out
            let third = try #require(try await pool.ipIndex()["10.1.2.3"])
            _ = try await pool.run(.deleteVM, [ScriptPool.admin, third, ""])
            #expect(try await create(pool, 1, start: 20) == ["10.1.2.3"])
            #expect(Set(try await pool.ipIndex().keys).count == 6)
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

    @Test func createdVMsAreProvisioningQueuedAndCountedByTheCap() async throws {
        try await withScriptPool { pool async throws in
            try await seedJobs(pool, cap: 2)
            let reply = try await pool.run(.createVMs, [ScriptPool.admin, "2", "large", "", "", "", "vm-a", "", "vm-b", ""])
            #expect(reply.array?.first == .integer(0))
            for id in ["vm-a", "vm-b"] {
                let vm = try await pool.vm(id)
                #expect(vm["status"] == "provisioning" && vm["job"] == "provision" && vm["ip"] == nil && vm["size"] == "large")
            }
            #expect(try await pool.vmIDs(status: "provisioning") == ["vm-a", "vm-b"])
            #expect(try await pool.vmIDs(status: "available").isEmpty)
            #expect(Set(try await pool.zmembers("jobs")) == ["vm-a", "vm-b"])
            try await pool.expectFailure(.createVMs, [ScriptPool.admin, "1", "", "", "", "", "vm-c", ""], code: "MAX_VM_COUNT")
            try await pool.expectFailure(.checkout, ["p:alice", "1", "", "", "604800", ""], code: "NO_VM_AVAILABLE")
        }
    }

    @Test func withAnInstantProviderVMsAreReadyAtOnceAndOnlyReturnsMakeJobs() async throws {
        try await withScriptPool { pool async throws in
            _ = try await pool.run(.initPool, ["10", "", "", "instant", "replace"])
            try await pool.addVMs(1...1)
            let id = ScriptPool.candidate(1).id
            #expect(try await pool.vm(id)["status"] == "available")
            #expect(try await pool.zmembers("jobs").isEmpty)
            #expect(try await pool.checkout("p:alice") == id)
            _ = try await pool.run(.checkin, ["p:alice", id, ""])
            let job = try #require(try await take(pool))
            #expect(job.kind == "replace")
            let done = try await finish(pool, id, claim: job.claim, "done", candidates: ["vm-new", "11.9.9.9"])
            let fresh = fields(done[2])
            #expect(fresh["vm_id"] == "vm-new" && fresh["status"] == "available" && fresh["ip"] == "11.9.9.9")
            // an error VM (left by a provider that needed jobs) comes back at once
            try await pool.setVM("vm-new", ["status": "error", "error": "boom"])
            let retried = fields(try await pool.run(.retryVM, [ScriptPool.admin, "vm-new"]))
            #expect(retried["status"] == "available" && retried["error"] == nil)
        }
    }
}
