import Foundation
import RedisClient
import Reservations
import Testing
import TestSupport

// Every Lua script on its own, called with FCALL and raw ARGV against a real redis-server,
// with the pool's keys inspected by plain commands afterwards.

let maxVMCountMessage = "Error: Maximum VM Count reached"
let vmNotFoundMessage = "Could not find a vm with given details"
let noVMAvailableMessage = "No VMs currently available, please try after some time"

private let admin = ScriptPool.admin

/// The codes scripts fail with (lua/README.md).
private let codes: Set<String> = [
    "UNAUTHORIZED", "FORBIDDEN", "QUOTA_EXCEEDED", "NO_VM_AVAILABLE", "MAX_VM_COUNT", "VM_NOT_FOUND",
    "USER_NOT_FOUND", "INVALID_STATE", "BAD_REQUEST",
]

/// Scripts only an admin may run.
private let adminOnlyScripts: [Script] = [
    .createVMs, .deleteVM, .listVMs, .poolStats, .setPool, .createUser, .getUser, .listUsers,
    .updateUser, .deleteUser, .rotateToken,
]

@Suite struct CommonScriptTests {
    /// The scripts the gateway runs on its own behalf (start-up, the lease reaper, the pool keeper) take no identity.
    static let gatewayScripts: Set<Script> = [.initPool, .reapLeases, .maintainPool, .takeJob, .extendJob, .finishJob]

    @Test(arguments: Script.allCases.filter { !gatewayScripts.contains($0) })
    func everyCallersScriptRejectsMissingUnknownAndRevokedIdentities(script: Script) async throws {
        try await withScriptPool { pool async throws in
            try await pool.seed(cap: 10)
            try await pool.addVMs(1...2)
            let user = try await pool.addUser("alice", quota: 1)
            _ = try await pool.checkout(user)
            let revoked = try await pool.addUser("gone")
            _ = try await pool.run(.deleteUser, [admin, "gone"])
            let arguments = ["1", "vm-00001", "11.0.0.1", "1"]
            for identity in ["", "p:", "t:", "t:" + newTokenHash(), "x:admin", "admin", "P:admin", "T" + user.dropFirst(), revoked] {
                try await pool.expectFailure(script, [identity] + arguments, code: "UNAUTHORIZED")
            }
        }
    }

    @Test(arguments: adminOnlyScripts)
    func adminScriptsAreForbiddenToUsers(script: Script) async throws {
        try await withScriptPool { pool async throws in
            try await pool.seed(cap: 10)
            try await pool.addVMs(1...2)
            let user = try await pool.addUser("alice", quota: 1)
            _ = try await pool.checkout(user)
            try await pool.expectFailure(script, [user, "1", "vm-00002", "11.0.0.2", "1"], code: "FORBIDDEN")
        }
    }

    @Test(arguments: Script.allCases)
    func everyScriptRejectsOtherKeys(script: Script) async throws {
        try await withScriptPool { pool async throws in
            try await pool.seed(cap: 10)
            let other = PoolKeys(pool: "other").declared
            for keys in [Array(pool.keys.declared.dropLast()), pool.keys.declared + [pool.key("extra")],
                         [pool.keys.declared[0], other[1]], [pool.key("pool:x"), pool.key("vm:")], [other[1], other[0]]] {
                let before = try await pool.dump()
                let error = await #expect(throws: RedisError.self) {
                    try await pool.client.call(function: script.functionName, keys: keys, arguments: [admin, "1"])
                }
                #expect(error?.prefix == "BAD_REQUEST")
                #expect(error?.message == "expected the pool's keys P:pool and P:vm:")
                #expect(try await pool.dump() == before)
            }
        }
    }

    @Test func redisCommandErrorsInsideAScriptAreNotPassedOffAsCodes() async throws {
        try await withScriptPool { pool async throws in
            try await pool.command("SET", pool.key("pool"), "not a hash")
            let error = await #expect(throws: RedisError.self) { try await pool.run(.poolStats, [admin]) }
            // Redis 7.0 reports it as "ERR WRONGTYPE …"; what matters is that it is no script code
            #expect(error?.kind == .server)
            #expect(error.map { !codes.contains($0.prefix) } == true)
            #expect(error?.message.contains("WRONGTYPE") == true, "\(String(describing: error))")
        }
    }
}

@Suite struct PoolScriptTests {
    @Test func initPoolSeedsTheCapOnlyWhenThePoolHasNone() async throws {
        try await withScriptPool { pool async throws in
            #expect(try await pool.run(.initPool, ["5"]) == .integer(5))
            #expect(try await pool.run(.initPool, ["9"]) == .integer(5))
            #expect(try await pool.hash("pool") == ["max_vm_count": "5", "layout": "hashes"])
        }
    }

    @Test func initPoolAcceptsTheBoundsOfItsRange() async throws {
        try await withScriptPool { pool async throws in
            #expect(try await pool.run(.initPool, ["0"]) == .integer(0))
        }
        try await withScriptPool { pool async throws in
            #expect(try await pool.run(.initPool, ["1000000"]) == .integer(1_000_000))
        }
    }

    @Test func initPoolRejectsAnythingButAWholeNumberFromZeroToAMillion() async throws {
        try await withScriptPool { pool async throws in
            for bad in ["", "-1", "abc", "1.5", "1e3", " 5", "1000001", "99999999999999999999"] {
                let error = try await pool.expectFailure(.initPool, [bad], code: "BAD_REQUEST")
                #expect(error?.message == "max_vm_count must be a whole number from 0 to 1000000")
            }
            try await pool.expectFailure(.initPool, [], code: "BAD_REQUEST")
            #expect(try await pool.exists("pool") == false)
        }
    }

    @Test func poolStatsCountsVMsByStatus() async throws {
        try await withScriptPool { pool async throws in
            try await pool.seed(cap: 10)
            #expect(try await pool.run(.poolStats, [admin]) == poolStatsReply([10, 0, 0, 0, 0, 0, 0]))
            try await pool.addVMs(1...6)
            let alice = try await pool.addUser("alice", quota: 2)
            _ = try await pool.checkout(alice)
            _ = try await pool.checkout(alice)
            let spare = try #require(try await pool.vmIDs(status: "available").first)
            try await pool.setVM(spare, ["status": "error"])
            #expect(try await pool.run(.poolStats, [admin]) == poolStatsReply([10, 6, 0, 3, 2, 1, 0]))
        }
    }

    @Test func poolStatsIsOpenToAdminUsersWithATokenToo() async throws {
        try await withScriptPool { pool async throws in
            try await pool.seed(cap: 3)
            let boss = try await pool.addUser("boss", role: "admin")
            #expect(try await pool.run(.poolStats, [boss]) == poolStatsReply([3, 0, 0, 0, 0, 0, 0]))
        }
    }

    @Test func setPoolChangesTheCapAndAnswersTheStats() async throws {
        try await withScriptPool { pool async throws in
            try await pool.seed(cap: 3)
            try await pool.addVMs(1...2)
            #expect(try await pool.run(.setPool, [admin, "7"]) == poolStatsReply([7, 2, 0, 2, 0, 0, 0]))
            #expect(try await pool.hash("pool") == ["max_vm_count": "7", "layout": "hashes", "vm_count": "2", "count:available": "2"])
            // init_pool no longer changes it
            #expect(try await pool.run(.initPool, ["100"]) == .integer(7))
        }
    }

    @Test func setPoolBelowTheCurrentCountKeepsTheVMsButRefusesNewOnes() async throws {
        try await withScriptPool { pool async throws in
            try await pool.seed(cap: 5)
            try await pool.addVMs(1...4)
            #expect(try await pool.run(.setPool, [admin, "2"]) == poolStatsReply([2, 4, 0, 4, 0, 0, 0]))
            #expect(try await pool.vmIDs().count == 4)
            let candidate = ScriptPool.candidate(9)
            try await pool.expectFailure(.createVMs, [admin, "1", "", "", "", "", candidate.id, candidate.ip], code: "MAX_VM_COUNT", message: maxVMCountMessage)
        }
    }

    @Test func setPoolRejectsBadCaps() async throws {
        try await withScriptPool { pool async throws in
            try await pool.seed(cap: 5)
            for bad in ["", "-1", "x", "2.5", "1000001"] {
                try await pool.expectFailure(.setPool, [admin, bad], code: "BAD_REQUEST")
            }
            try await pool.expectFailure(.setPool, [admin], code: "BAD_REQUEST")
            #expect(try await pool.hash("pool") == ["max_vm_count": "5", "layout": "hashes"])
        }
    }
}

@Suite struct CreateVMsScriptTests {
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
}

@Suite struct CheckoutScriptTests {
    @Test func movesAnAvailableVMToCheckedOutAndIntoTheHoldersSet() async throws {
        try await withScriptPool { pool async throws in
            try await pool.seed(cap: 5)
            try await pool.addVMs(1...3)
            let alice = try await pool.addUser("alice", quota: 1)
            let before = try await pool.now()
            let record = fields(try await pool.run(.checkout, [alice, "0", ""] + gatewayLeases))
            let after = try await pool.now()
            let id = try #require(record["vm_id"])
            #expect(record["status"] == "checked-out")
            #expect(record["user"] == "alice")
            #expect(record["lease_expires_at"] == nil)
            let checkedOutAt = try #require(record["checked_out_at"].flatMap { Int($0) })
            #expect((before...after).contains(checkedOutAt))
            #expect(try await pool.vm(id) == record)
            #expect(try await pool.vmIDs(status: "checked-out") == [id])
            #expect(try await pool.vmIDs(status: "available") == Set(["vm-00001", "vm-00002", "vm-00003"]).subtracting([id]))
            #expect(try await pool.members("held:alice") == [id])
            #expect(try await pool.command("ZCARD", pool.key("leases")) == .integer(0))
        }
    }

    @Test func aLeaseIsRecordedOnTheVMAndInTheLeaseIndex() async throws {
        try await withScriptPool { pool async throws in
            try await pool.seed(cap: 5)
            try await pool.addVMs(1...1)
            let alice = try await pool.addUser("alice", quota: 1)
            let record = fields(try await pool.run(.checkout, [alice, "0", "60"] + gatewayLeases))
            let checkedOutAt = try #require(record["checked_out_at"].flatMap { Int($0) })
            #expect(record["lease_expires_at"] == String(checkedOutAt + 60_000))
            #expect(record["lease_seconds"] == "60")
            #expect(try await pool.command("ZSCORE", pool.key("leases"), "vm-00001").int == checkedOutAt + 60_000)
        }
    }

    @Test func failsWithNoVMAvailableWhenEveryVMIsCheckedOut() async throws {
        try await withScriptPool { pool async throws in
            try await pool.seed(cap: 5)
            let alice = try await pool.addUser("alice", quota: 5)
            try await pool.expectFailure(.checkout, [alice, "0", ""] + gatewayLeases, code: "NO_VM_AVAILABLE", message: noVMAvailableMessage)
            try await pool.addVMs(1...2)
            _ = try await pool.checkout(alice)
            _ = try await pool.checkout(alice)
            try await pool.expectFailure(.checkout, [alice, "0", ""] + gatewayLeases, code: "NO_VM_AVAILABLE", message: noVMAvailableMessage)
            #expect(try await pool.members("held:alice") == ["vm-00001", "vm-00002"])
        }
    }

    @Test func aUserAtQuotaGetsQuotaExceededEvenWhenThePoolIsEmpty() async throws {
        try await withScriptPool { pool async throws in
            try await pool.seed(cap: 5)
            let nobody = try await pool.addUser("nobody", quota: 0)
            try await pool.expectFailure(.checkout, [nobody, "5", ""] + gatewayLeases, code: "QUOTA_EXCEEDED", message: "quota of 0 VMs reached")
            try await pool.addVMs(1...1)
            let alice = try await pool.addUser("alice", quota: 1)
            _ = try await pool.checkout(alice)
            // the pool is empty now; quota is checked first
            try await pool.expectFailure(.checkout, [alice, "5", ""] + gatewayLeases, code: "QUOTA_EXCEEDED", message: "quota of 1 VM reached")
            try await pool.expectFailure(.checkout, [nobody, "5", ""] + gatewayLeases, code: "QUOTA_EXCEEDED")
        }
    }

    @Test func theUsersOwnQuotaWinsOverTheDefault() async throws {
        try await withScriptPool { pool async throws in
            try await pool.seed(cap: 5)
            try await pool.addVMs(1...3)
            let alice = try await pool.addUser("alice", quota: 2)
            _ = try await pool.checkout(alice, defaultQuota: 0)
            _ = try await pool.checkout(alice, defaultQuota: 0)
            try await pool.expectFailure(.checkout, [alice, "100", ""] + gatewayLeases, code: "QUOTA_EXCEEDED", message: "quota of 2 VMs reached")
        }
    }

    @Test func principalsWithoutAUserRecordGetTheDefaultQuota() async throws {
        try await withScriptPool { pool async throws in
            try await pool.seed(cap: 5)
            try await pool.addVMs(1...3)
            try await pool.expectFailure(.checkout, [admin, "0", ""] + gatewayLeases, code: "QUOTA_EXCEEDED")
            let id = try await pool.checkout(admin, defaultQuota: 1)
            #expect(try await pool.members("held:admin") == [id])
            #expect(try await pool.vm(id)["user"] == "admin")
            try await pool.expectFailure(.checkout, [admin, "1", ""] + gatewayLeases, code: "QUOTA_EXCEEDED", message: "quota of 1 VM reached")
        }
    }

    @Test func rejectsBadDefaultQuotasAndLeases() async throws {
        try await withScriptPool { pool async throws in
            try await pool.seed(cap: 5)
            try await pool.addVMs(1...2)
            let alice = try await pool.addUser("alice", quota: 2)
            for arguments in [["", ""], ["-1", ""], ["x", ""], ["1000001", ""], ["1", "0"], ["1", "604801"],
                              ["1", "1.5"], ["1", "-3"], ["1", "soon"], []] {
                try await pool.expectFailure(.checkout, [alice] + arguments + gatewayLeases, code: "BAD_REQUEST")
            }
            #expect(fields(try await pool.run(.checkout, [alice, "1", "604800"] + gatewayLeases))["status"] == "checked-out")
        }
    }

    @Test func anExpiredLeaseIsReclaimedByTheNextCheckout() async throws {
        try await withScriptPool { pool async throws in
            try await pool.seed(cap: 5)
            try await pool.addVMs(1...1)
            let alice = try await pool.addUser("alice", quota: 1)
            let bob = try await pool.addUser("bob", quota: 1)
            let id = try await pool.checkout(alice, lease: "60")
            // an unexpired lease stays
            try await pool.expectFailure(.checkout, [bob, "0", ""] + gatewayLeases, code: "NO_VM_AVAILABLE", message: noVMAvailableMessage)
            // expire it without waiting
            let now = try await pool.now()
            try await pool.command("ZADD", pool.key("leases"), "XX", String(now - 1), id)
            let record = fields(try await pool.run(.checkout, [bob, "0", ""] + gatewayLeases))
            #expect(record["vm_id"] == id)
            #expect(record["user"] == "bob")
            #expect(record["lease_expires_at"] == nil)
            #expect(try await pool.members("held:alice").isEmpty)
            #expect(try await pool.members("held:bob") == [id])
            #expect(try await pool.command("ZCARD", pool.key("leases")) == .integer(0))
            // alice's token still works; she just does not hold the VM any more
            #expect(try await pool.run(.listMine, [alice]) == .array([]))
            try await pool.expectFailure(.checkin, [alice, id, ""], code: "FORBIDDEN")
        }
    }

    @Test func aOneSecondLeaseRunsOutOnTheRedisClock() async throws {
        try await withScriptPool { pool async throws in
            try await pool.seed(cap: 5)
            try await pool.addVMs(1...1)
            let alice = try await pool.addUser("alice", quota: 1)
            let bob = try await pool.addUser("bob", quota: 1)
            let id = try await pool.checkout(alice, lease: "1")
            try await Task.sleep(for: .milliseconds(2100))
            #expect(try await pool.checkout(bob) == id)
        }
    }

    @Test func aUserWhoseOwnLeaseExpiredIsNoLongerAtQuota() async throws {
        try await withScriptPool { pool async throws in
            try await pool.seed(cap: 5)
            try await pool.addVMs(1...2)
            let alice = try await pool.addUser("alice", quota: 1)
            let first = try await pool.checkout(alice, lease: "60")
            try await pool.command("ZADD", pool.key("leases"), "XX", "1", first)
            let second = try await pool.checkout(alice, lease: "60")
            #expect(try await pool.members("held:alice") == [second])
            #expect(try await pool.vmIDs(status: "checked-out") == [second])
            #expect(try await pool.count("available") == 1)
        }
    }

    @Test func reclamationStandsEvenWhenTheCheckoutItselfFails() async throws {
        try await withScriptPool { pool async throws in
            try await pool.seed(cap: 5)
            try await pool.addVMs(1...1)
            let alice = try await pool.addUser("alice", quota: 1)
            let nobody = try await pool.addUser("nobody", quota: 0)
            let id = try await pool.checkout(alice, lease: "60")
            try await pool.command("ZADD", pool.key("leases"), "XX", "1", id)
            try await pool.expectFailure(.checkout, [nobody, "0", ""] + gatewayLeases, code: "QUOTA_EXCEEDED", changesState: true)
            #expect(try await pool.vmIDs(status: "available") == [id])
            #expect(try await pool.members("held:alice").isEmpty)
            #expect(try await pool.vm(id)["status"] == "available")
        }
    }

    @Test func oneCallReclaimsAtMost100ExpiredLeasesButAllOfTheCallersOwn() async throws {
        try await withScriptPool { pool async throws in
            try await pool.seed(cap: 330)
            try await pool.addVMs(1...320)
            for index in 1...320 {
                _ = try await pool.checkout("p:holder\(index)", lease: "60")
            }
            for id in try await pool.zmembers("leases") {  // every lease ended long ago
                try await pool.command("ZADD", pool.key("leases"), "XX", "1", id)
                try await pool.command("ZADD", pool.key("held_leases:" + (try await pool.vm(id)["user"] ?? "?")), "XX", "1", id)
            }
            _ = try await pool.checkout("p:late")
            #expect(try await pool.command("ZCARD", pool.key("leases")) == .integer(220))
            #expect(try await pool.count("available") == 99)
            // the batch takes the earliest (here: the first ids); the holders of the last two get
            // exact answers at once, beyond the 100 their own call reclaims
            let leftOver = try await pool.zmembers("leases")
            let (last, nextToLast) = (leftOver[leftOver.count - 1], leftOver[leftOver.count - 2])
            let first = try #require(try await pool.vm(last)["user"])
            let second = try #require(try await pool.vm(nextToLast)["user"])
            _ = try await pool.checkout("p:" + first)  // a quota of 1, no longer taken by the expired lease
            #expect(try await pool.members("held:" + first).count == 1)
            #expect(try await pool.command("ZCARD", pool.key("leases")) == .integer(119))
            #expect(try await pool.run(.listMine, ["p:" + second]) == .array([]))
            #expect(try await pool.vm(nextToLast)["status"] == "available")
            #expect(try await pool.command("ZCARD", pool.key("leases")) == .integer(18))
            // the next call drains the rest
            #expect(try await pool.run(.poolStats, [admin]) == poolStatsReply([330, 320, 0, 318, 2, 0, 0]))
            #expect(try await pool.command("ZCARD", pool.key("leases")) == .integer(0))
        }
    }

    /// Every script that shows or changes reservations sees an expired lease as returned, without
    /// waiting for a checkout to reclaim it.
    @Test(arguments: [
        Script.listMine, .getVM, .checkin, .deleteVM, .getUser, .updateUser, .deleteUser, .listUsers, .listVMs,
        .poolStats, .setPool,
    ])
    func anExpiredLeaseIsReturnedBeforeAnyScriptAnswers(_ script: Script) async throws {
        try await withScriptPool { pool async throws in
            try await pool.seed(cap: 5)
            try await pool.addVMs(1...2)
            let alice = try await pool.addUser("alice", quota: 2)
            let expired = try await pool.checkout(alice, lease: "60")
            let live = try await pool.checkout(alice, lease: "60")
            try await pool.command("ZADD", pool.key("leases"), "XX", "1", expired)
            let argumentsOf: [Script: [String]] = [
                .listMine: [alice], .getVM: [admin, expired], .checkin: [alice, expired, ""],
                .deleteVM: [admin, expired, ""], .getUser: [admin, "alice"], .updateUser: [admin, "alice", "1", ""],
                .deleteUser: [admin, "alice"], .listUsers: [admin], .listVMs: [admin, "checked-out", "", "10"],
                .poolStats: [admin], .setPool: [admin, "5"],
            ]
            let arguments = try #require(argumentsOf[script])
            switch script {
            case .checkin:  // no longer hers to check in
                try await pool.expectFailure(.checkin, arguments, code: "FORBIDDEN", changesState: true)
            case .deleteUser:  // she still holds the live one
                try await pool.expectFailure(.deleteUser, arguments, code: "INVALID_STATE",
                                             message: "user alice holds 1 VMs; check them in first", changesState: true)
            default:
                let reply = try await pool.run(script, arguments)
                switch script {
                case .listMine: #expect(reply.array?.map { fields($0)["vm_id"] } == [live])
                case .getVM: #expect(fields(reply)["status"] == "available")
                case .deleteVM: #expect(fields(reply)["vm_id"] == expired)
                case .getUser: #expect(fields(reply.array?[0] ?? .null)["held"] == "1")
                case .updateUser: #expect(fields(reply)["quota"] == "1")
                case .listUsers: #expect(reply.array?.map { fields($0)["held"] } == ["1"])
                case .listVMs: #expect(reply.array?.dropFirst().map { fields($0)["vm_id"] } == [live])
                default: #expect(reply == poolStatsReply([5, 2, 0, 1, 1, 0, 0]))
                }
            }
            #expect(try await pool.members("held:alice") == [live])
            #expect(try await pool.zmembers("leases") == [live])
            #expect(try await pool.vmIDs(status: "checked-out") == [live])
        }
    }
}

@Suite struct CheckinScriptTests {
    @Test func returnsTheVMToThePoolAndClearsTheHolder() async throws {
        try await withScriptPool { pool async throws in
            try await pool.seed(cap: 5, idleCleanup: true)
            let vms = try await pool.addVMs(1...2)
            let alice = try await pool.addUser("alice", quota: 2)
            let id = try await pool.checkout(alice, lease: "60")
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
}

@Suite struct VMScriptTests {
    @Test func deleteVMRemovesAnAvailableVMEverywhereAndFreesItsIP() async throws {
        try await withScriptPool { pool async throws in
            try await pool.seed(cap: 2)
            let vms = try await pool.addVMs(1...2)
            let record = try await pool.vm("vm-00001")
            #expect(fields(try await pool.run(.deleteVM, [admin, "vm-00001", ""])) == record)
            #expect(try await pool.vm("vm-00001").isEmpty)
            #expect(try await pool.vmIDs() == ["vm-00002"])
            #expect(try await pool.vmIDs(status: "available") == ["vm-00002"])
            #expect(try await pool.ipIndex() == [vms[1].ip: "vm-00002"])
            // the IP and the room under the cap can be used again
            let reply = try await pool.run(.createVMs, [admin, "1", "", "", "", "", "vm-again", vms[0].ip])
            #expect(reply.array?.first == .integer(0))
            #expect(try await pool.ipIndex()[vms[0].ip] == "vm-again")
        }
    }

    @Test func aDeleteTakesTheVMOutOfTheAvailableSetAndTheIdleIndex() async throws {
        try await withScriptPool { pool async throws in
            try await pool.seed(cap: 5, idleCleanup: true)
            try await pool.addVMs(1...3)
            _ = try await pool.run(.deleteVM, [admin, "vm-00001", ""])
            _ = try await pool.run(.deleteVM, [admin, "vm-00002", ""])
            #expect(try await pool.members("available:") == ["vm-00003"], "a pool without sizes: one set")
            #expect(try await pool.zmembers("idle") == ["vm-00003"])
            #expect(try await pool.checkout("p:alice") == "vm-00003")
            #expect(try await pool.exists("available:") == false)
            #expect(try await pool.exists("idle") == false)
            #expect(try await pool.run(.poolStats, [admin]) == poolStatsReply([5, 1, 0, 0, 1, 0, 0]))
            try await pool.expectFailure(.checkout, ["p:bob", "1", ""] + gatewayLeases, code: "NO_VM_AVAILABLE")
        }
    }

    @Test func deleteVMAcceptsTheMatchingIPAndDeletesErrorVMs() async throws {
        try await withScriptPool { pool async throws in
            try await pool.seed(cap: 2)
            let vms = try await pool.addVMs(1...1)
            try await pool.setVM(vms[0].id, ["status": "error"])
            let reply = fields(try await pool.run(.deleteVM, [admin, vms[0].id, vms[0].ip]))
            #expect(reply["status"] == "error")
            #expect(try await pool.count("error") == 0)
            #expect(try await pool.ipIndex().isEmpty)
            #expect(try await pool.vmIDs().isEmpty)
        }
    }

    @Test func deleteVMFailsForUnknownOrMismatchedVMs() async throws {
        try await withScriptPool { pool async throws in
            try await pool.seed(cap: 2)
            let vms = try await pool.addVMs(1...2)
            for arguments in [["nope", ""], [vms[0].id, vms[1].ip], [vms[0].id, "1.1.1.1"], ["nope", vms[0].ip]] {
                try await pool.expectFailure(.deleteVM, [admin] + arguments, code: "VM_NOT_FOUND", message: vmNotFoundMessage)
            }
            try await pool.expectFailure(.deleteVM, [admin, "", vms[0].ip], code: "BAD_REQUEST", message: "vm_id is required")
            try await pool.expectFailure(.deleteVM, [admin], code: "BAD_REQUEST")
        }
    }

    @Test func deleteVMRefusesCheckedOutAndProvisioningVMs() async throws {
        try await withScriptPool { pool async throws in
            try await pool.seed(cap: 2)
            try await pool.addVMs(1...2)
            let id = try await pool.checkout("p:someone")
            try await pool.expectFailure(.deleteVM, [admin, id, ""], code: "INVALID_STATE",
                                         message: "only available or error VMs can be deleted; this one is checked-out")
            let other = try #require(try await pool.vmIDs(status: "available").first)
            try await pool.setVM(other, ["status": "provisioning"])
            try await pool.expectFailure(.deleteVM, [admin, other, ""], code: "INVALID_STATE")
        }
    }

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

    @Test func listMineAnswersTheCallersVMsSortedById() async throws {
        try await withScriptPool { pool async throws in
            try await pool.seed(cap: 6)
            try await pool.addVMs(1...6)
            let alice = try await pool.addUser("alice", quota: 3)
            let bob = try await pool.addUser("bob", quota: 3)
            #expect(try await pool.run(.listMine, [alice]) == .array([]))
            var mine: [String] = []
            for _ in 0..<3 { mine.append(try await pool.checkout(alice)) }
            _ = try await pool.checkout(bob)
            let reply = try #require(try await pool.run(.listMine, [alice]).array)
            #expect(reply.map { fields($0)["vm_id"] } == mine.sorted())
            #expect(reply.allSatisfy { fields($0)["user"] == "alice" })
            #expect(try await pool.run(.listMine, [admin]) == .array([]))
        }
    }

    @Test func listMineSkipsHeldIdsWithoutAVM() async throws {
        try await withScriptPool { pool async throws in
            let alice = try await pool.addUser("alice")
            try await pool.command("SADD", pool.key("held:alice"), "ghost")
            #expect(try await pool.run(.listMine, [alice]) == .array([]))
        }
    }
}

@Suite struct ListVMsScriptTests {
    private func page(_ pool: ScriptPool, status: String = "", cursor: String = "", limit: Int) async throws -> (ids: [String], next: String) {
        let elements = try #require(try await pool.run(.listVMs, [admin, status, cursor, String(limit)]).array)
        return (elements.dropFirst().compactMap { fields($0)["vm_id"] }, elements.first?.string ?? "?")
    }

    @Test func pagesThroughAllVMsInIdOrder() async throws {
        try await withScriptPool { pool async throws in
            try await pool.seed(cap: 10)
            try await pool.addVMs(1...5)
            var result = try await page(pool, limit: 2)
            #expect(result.ids == ["vm-00001", "vm-00002"] && result.next == "vm-00002")
            result = try await page(pool, cursor: result.next, limit: 2)
            #expect(result.ids == ["vm-00003", "vm-00004"] && result.next == "vm-00004")
            result = try await page(pool, cursor: result.next, limit: 2)
            #expect(result.ids == ["vm-00005"] && result.next == "")
            // whole records
            let first = try #require(try await pool.run(.listVMs, [admin, "", "", "1"]).array)
            #expect(fields(first[1]) == (try await pool.vm("vm-00001")))
        }
    }

    @Test func aFullLastPageHasAnEmptyCursor() async throws {
        try await withScriptPool { pool async throws in
            try await pool.seed(cap: 10)
            try await pool.addVMs(1...4)
            let first = try await page(pool, limit: 2)
            #expect(first.next == "vm-00002")
            let second = try await page(pool, cursor: first.next, limit: 2)
            #expect(second.ids == ["vm-00003", "vm-00004"] && second.next == "")
            #expect(try await page(pool, limit: 4) == (["vm-00001", "vm-00002", "vm-00003", "vm-00004"], ""))
        }
    }

    @Test func anEmptyPoolIsOneEmptyPage() async throws {
        try await withScriptPool { pool async throws in
            #expect(try await pool.run(.listVMs, [admin, "", "", "10"]) == .array([.bulkString([])]))
            #expect(try await pool.run(.listVMs, [admin, "available", "", "10"]) == .array([.bulkString([])]))
        }
    }

    @Test func filtersByStatusAcrossPages() async throws {
        try await withScriptPool { pool async throws in
            try await pool.seed(cap: 10)
            try await pool.addVMs(1...6)
            let alice = try await pool.addUser("alice", quota: 2)
            let held = [try await pool.checkout(alice), try await pool.checkout(alice)].sorted()
            #expect(try await page(pool, status: "checked-out", limit: 10) == (held, ""))
            var available: [String] = []
            var cursor = ""
            repeat {
                let result = try await page(pool, status: "available", cursor: cursor, limit: 3)
                #expect(result.ids.count <= 3)
                available += result.ids
                cursor = result.next
            } while !cursor.isEmpty
            #expect(available == (1...6).map { ScriptPool.candidate($0).id }.filter { !held.contains($0) })
            #expect(try await page(pool, status: "error", limit: 10) == ([], ""))
        }
    }

    @Test func aFilteredPageStopsAfterExaminingTenThousandIds() async throws {
        try await withScriptPool { pool async throws in
            try await pool.seed(cap: 10_050)
            try await pool.addVMs(1...10_050)
            try await pool.setVM("vm-10040", ["status": "error"])
            let first = try await page(pool, status: "error", limit: 10)
            #expect(first == ([], "vm-10000"))
            let second = try await page(pool, status: "error", cursor: first.next, limit: 10)
            #expect(second == (["vm-10040"], ""))
        }
    }

    @Test func rejectsBadFiltersAndLimits() async throws {
        try await withScriptPool { pool async throws in
            try await pool.seed(cap: 10)
            try await pool.addVMs(1...2)
            try await pool.expectFailure(.listVMs, [admin, "bogus", "", "10"], code: "BAD_REQUEST",
                                         message: "status must be one of provisioning, available, checked-out, error, deprovisioning")
            for limit in ["0", "1001", "", "x", "-1"] {
                try await pool.expectFailure(.listVMs, [admin, "", "", limit], code: "BAD_REQUEST")
            }
            try await pool.expectFailure(.listVMs, [admin], code: "BAD_REQUEST")
        }
    }
}

@Suite struct UserScriptTests {
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

    @Test func getUserAnswersTheRecordAndTheHeldVMsSortedById() async throws {
        try await withScriptPool { pool async throws in
            try await pool.seed(cap: 5)
            try await pool.addVMs(1...5)
            let alice = try await pool.addUser("alice", quota: 3)
            var held: [String] = []
            for _ in 0..<3 { held.append(try await pool.checkout(alice)) }
            let elements = try #require(try await pool.run(.getUser, [admin, "alice"]).array)
            #expect(elements.count == 2)
            let user = fields(elements[0])
            #expect(user["name"] == "alice" && user["quota"] == "3" && user["held"] == "3" && user["role"] == "user")
            #expect(user["token"] == nil)
            let vms = try #require(elements[1].array)
            #expect(vms.map { fields($0)["vm_id"] } == held.sorted())
            _ = try await pool.addUser("bob")
            #expect(try await pool.run(.getUser, [admin, "bob"]).array?.last == .array([]))
        }
    }

    @Test func getUserFailsForUnknownOrMissingNames() async throws {
        try await withScriptPool { pool async throws in
            _ = try await pool.addUser("alice")
            try await pool.expectFailure(.getUser, [admin, "bob"], code: "USER_NOT_FOUND", message: "no user named bob")
            try await pool.expectFailure(.getUser, [admin, ""], code: "BAD_REQUEST", message: "name is required")
            try await pool.expectFailure(.getUser, [admin], code: "BAD_REQUEST")
        }
    }

    @Test func listUsersAnswersEveryUserInNameOrder() async throws {
        try await withScriptPool { pool async throws in
            #expect(try await pool.run(.listUsers, [admin]) == .array([]))
            for name in ["carol", "alice", "bob"] { _ = try await pool.addUser(name) }
            let names = try #require(try await pool.run(.listUsers, [admin]).array).map { fields($0)["name"] }
            #expect(names == ["alice", "bob", "carol"])
        }
    }
}

@Suite struct UserChangeScriptTests {
    @Test func updateUserChangesQuotaRoleBothOrNothing() async throws {
        try await withScriptPool { pool async throws in
            _ = try await pool.addUser("alice", quota: 1)
            #expect(fields(try await pool.run(.updateUser, [admin, "alice", "5", ""]))["quota"] == "5")
            let promoted = fields(try await pool.run(.updateUser, [admin, "alice", "", "admin"]))
            #expect(promoted["role"] == "admin" && promoted["quota"] == "5")
            let both = fields(try await pool.run(.updateUser, [admin, "alice", "0", "user"]))
            #expect(both["role"] == "user" && both["quota"] == "0")
            let before = try await pool.dump()
            let unchanged = fields(try await pool.run(.updateUser, [admin, "alice", "", ""]))
            #expect(unchanged["role"] == "user" && unchanged["quota"] == "0")
            #expect(try await pool.dump() == before)
            let stored = try #require(try await pool.storedUser("alice"))
            #expect(stored["role"] == "user" && stored["quota"] == "0")
        }
    }

    @Test func aNewQuotaAppliesToTheNextCheckoutAndNeverFallsBelowWhatIsHeld() async throws {
        try await withScriptPool { pool async throws in
            try await pool.seed(cap: 5)
            try await pool.addVMs(1...5)
            let alice = try await pool.addUser("alice", quota: 1)
            _ = try await pool.checkout(alice)
            try await pool.expectFailure(.checkout, [alice, "9", ""] + gatewayLeases, code: "QUOTA_EXCEEDED")
            _ = try await pool.run(.updateUser, [admin, "alice", "2", ""])
            _ = try await pool.checkout(alice)
            try await pool.expectFailure(.checkout, [alice, "9", ""] + gatewayLeases, code: "QUOTA_EXCEEDED", message: "quota of 2 VMs reached")
            // a quota below what is held is refused and changes nothing
            let before = try await pool.dump()
            try await pool.expectFailure(.updateUser, [admin, "alice", "1", ""], code: "INVALID_STATE",
                                         message: "alice holds 2 VMs, more than a quota of 1; they must check some in first")
            #expect(try await pool.dump() == before)
            _ = try await pool.run(.updateUser, [admin, "alice", "2", "admin"])
            #expect(try await pool.storedUser("alice")?["role"] == "admin")
        }
    }

    @Test func aDemotedAdminLosesAdminRights() async throws {
        try await withScriptPool { pool async throws in
            let boss = try await pool.addUser("boss", role: "admin")
            #expect(try await pool.run(.listUsers, [boss]).array?.count == 1)
            _ = try await pool.run(.updateUser, [admin, "boss", "", "user"])
            try await pool.expectFailure(.listUsers, [boss], code: "FORBIDDEN", message: "this operation needs the admin role")
        }
    }

    @Test func updateUserRejectsBadValuesAndUnknownUsers() async throws {
        try await withScriptPool { pool async throws in
            _ = try await pool.addUser("alice")
            for arguments in [["alice", "-1", ""], ["alice", "x", ""], ["alice", "1000001", ""], ["alice", "", "root"],
                              ["alice", "2", "root"], ["", "1", ""], []] {
                try await pool.expectFailure(.updateUser, [admin] + arguments, code: "BAD_REQUEST")
            }
            try await pool.expectFailure(.updateUser, [admin, "bob", "1", ""], code: "USER_NOT_FOUND", message: "no user named bob")
            try await pool.expectFailure(.updateUser, [admin, "bob", "", ""], code: "USER_NOT_FOUND")
        }
    }

    @Test func deleteUserRemovesTheUserAndRevokesTheToken() async throws {
        try await withScriptPool { pool async throws in
            try await pool.seed(cap: 5)
            try await pool.addVMs(1...1)
            let alice = try await pool.addUser("alice", quota: 2)
            _ = try await pool.addUser("bob")
            let id = try await pool.checkout(alice)
            _ = try await pool.run(.checkin, [alice, id, ""])
            let record = fields(try await pool.run(.deleteUser, [admin, "alice"]))
            #expect(record["name"] == "alice" && record["quota"] == "2" && record["held"] == "0")
            #expect(try await pool.storedUser("alice") == nil)
            #expect(try await pool.exists("held:alice") == false)
            #expect(try await pool.userNames() == ["bob"])
            #expect(try await pool.tokenIndex().values.sorted() == ["bob"])
            try await pool.expectFailure(.listMine, [alice], code: "UNAUTHORIZED")
            try await pool.expectFailure(.deleteUser, [admin, "alice"], code: "USER_NOT_FOUND", message: "no user named alice")
        }
    }

    @Test func deleteUserRefusesAUserWhoHoldsVMs() async throws {
        try await withScriptPool { pool async throws in
            try await pool.seed(cap: 5)
            try await pool.addVMs(1...2)
            let alice = try await pool.addUser("alice", quota: 2)
            _ = try await pool.checkout(alice)
            _ = try await pool.checkout(alice)
            try await pool.expectFailure(.deleteUser, [admin, "alice"], code: "INVALID_STATE",
                                         message: "user alice holds 2 VMs; check them in first")
            try await pool.expectFailure(.deleteUser, [admin, ""], code: "BAD_REQUEST")
            try await pool.expectFailure(.deleteUser, [admin], code: "BAD_REQUEST")
        }
    }

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
