import Foundation
import RedisClient
import Reservations
import Testing
import TestSupport

// The domain API end to end: ReservationStore over a real redis-server.

private let admin = Caller.trustedAdmin(name: "admin")

/// The code of the error `body` fails with, "none" when it succeeds.
func errorCode<T>(_ body: () async throws -> T) async -> String {
    do {
        _ = try await body()
        return "none"
    } catch let error as ReservationError {
        return error.code
    } catch {
        return "not a ReservationError: \(error)"
    }
}

/// The stats as {max_vm_count, total, provisioning, available, checked-out, error}.
func numbers(_ stats: PoolStats) -> [Int?] {
    [stats.maxVMCount, stats.total] + VMStatus.allCases.map { stats.counts[$0] }
}

extension IssuedToken {
    var caller: Caller { .token(TokenDigest(of: token)) }
}

@Suite struct ReservationStoreTests {
    // MARK: Pool and VMs

    @Test func initializePoolKeepsTheCapAlreadyInForce() async throws {
        try await withStore(cap: 7) { store, _ async throws in
            #expect(try await store.initializePool(maxVMCount: 99) == 7)
            #expect(try await store.poolStats(admin).maxVMCount == 7)
            #expect(await errorCode { try await store.initializePool(maxVMCount: -1) } == "BAD_REQUEST")
        }
    }

    @Test func createVMsMakesAvailableVMsWithFreshIdsAndUniquePublicIPs() async throws {
        try await withStore(cap: 50) { store, pool async throws in
            let vms = try await store.createVMs(admin, count: 30)
            #expect(vms.count == 30)
            #expect(Set(vms.map(\.id)).count == 30)
            #expect(Set(vms.map(\.ip)).count == 30)
            for vm in vms {
                #expect(vm.status == .available && vm.user == nil && vm.checkedOutAt == nil && vm.leaseExpiresAt == nil)
                let address = try #require(vm.ip.flatMap { IPv4Address(parsing: $0) })
                #expect(IPAddressGenerator.isAllowed(address))
                #expect(try await store.vm(admin, id: vm.id) == vm)
            }
            #expect(try await pool.ipIndex().count == 30)
            let stats = try await store.poolStats(admin)
            #expect(stats.total == 30 && stats.counts[.available] == 30)
        }
    }

    @Test func createVMsCreatesOnlyAsManyAsTheCapLeavesRoomFor() async throws {
        try await withStore(cap: 5) { store, _ async throws in
            #expect(try await store.createVMs(admin, count: 3).count == 3)
            #expect(try await store.createVMs(admin, count: 10).count == 2)
            await #expect(throws: ReservationError.maxVMCountReached) { try await store.createVMs(admin, count: 1) }
            await #expect(throws: ReservationError.maxVMCountReached) { try await store.createVMs(admin, count: 1000) }
            #expect(try await store.poolStats(admin).total == 5)
            // raising the cap makes room again; lowering it refuses creates but keeps the VMs
            #expect(try await store.setPool(admin, maxVMCount: 6).maxVMCount == 6)
            #expect(try await store.createVMs(admin, count: 4).count == 1)
            let lowered = try await store.setPool(admin, maxVMCount: 2)
            #expect(lowered.maxVMCount == 2 && lowered.total == 6)
            await #expect(throws: ReservationError.maxVMCountReached) { try await store.createVMs(admin, count: 1) }
        }
    }

    @Test func createVMsRejectsCountsOutsideOneToAThousand() async throws {
        try await withStore(cap: 10) { store, _ async throws in
            for count in [0, -1, -5, -1000, 1001, 1_000_000, Int.max, Int.min] {
                #expect(await errorCode { try await store.createVMs(admin, count: count) } == "BAD_REQUEST", "count \(count)")
            }
            #expect(try await store.poolStats(admin).total == 0)
        }
    }

    @Test func onlyAdminsMayManageThePool() async throws {
        try await withStore(cap: 10) { store, _ async throws in
            let alice = try await store.createUser(admin, name: "alice", role: .user, quota: 1)
            let boss = try await store.createUser(admin, name: "boss", role: .admin, quota: 1)
            #expect(await errorCode { try await store.createVMs(alice.caller, count: 1) } == "FORBIDDEN")
            #expect(await errorCode { try await store.poolStats(alice.caller) } == "FORBIDDEN")
            #expect(await errorCode { try await store.setPool(alice.caller, maxVMCount: 100) } == "FORBIDDEN")
            #expect(await errorCode { try await store.users(alice.caller) } == "FORBIDDEN")
            let stranger = Caller.token(TokenDigest(of: Token.generate()))
            #expect(await errorCode { try await store.createVMs(stranger, count: 1) } == "UNAUTHORIZED")
            #expect(await errorCode { try await store.myVMs(stranger) } == "UNAUTHORIZED")
            #expect(await errorCode { try await store.poolStats(.trustedAdmin(name: "")) } == "UNAUTHORIZED")
            #expect(try await store.createVMs(boss.caller, count: 2).count == 2)
        }
    }

    @Test func poolStatsCountsEveryStatus() async throws {
        try await withStore(cap: 10) { store, pool async throws in
            #expect(numbers(try await store.poolStats(admin)) == [10, 0, 0, 0, 0, 0, 0, 0])
            let vms = try await store.createVMs(admin, count: 7)
            let alice = try await store.createUser(admin, name: "alice", role: .user, quota: 3)
            for _ in 0..<3 { _ = try await store.checkout(alice.caller, leaseSeconds: nil) }
            let free = try #require(try await store.listVMs(admin, status: .available, cursor: nil, limit: 10).items.first)
            try await pool.setVM(free.id, ["status": "error"])
            #expect(numbers(try await store.poolStats(admin)) == [10, 7, 0, 3, 3, 1, 0, 0])
            #expect(try await store.deleteVM(admin, id: free.id, ip: nil).status == .error)
            let other = try #require(try await store.listVMs(admin, status: .available, cursor: nil, limit: 10).items.first)
            _ = try await store.deleteVM(admin, id: other.id, ip: other.ip)
            #expect(numbers(try await store.poolStats(admin)) == [10, 5, 0, 2, 3, 0, 0, 0])
            #expect(vms.count == 7)
        }
    }

    @Test func deleteVMFreesTheIPAndRefusesCheckedOutVMs() async throws {
        try await withStore(cap: 10) { store, pool async throws in
            let vms = try await store.createVMs(admin, count: 2)
            let alice = try await store.createUser(admin, name: "alice", role: .user, quota: 1)
            let held = try await store.checkout(alice.caller, leaseSeconds: nil)
            let free = try #require(vms.first { $0.id != held.id })
            #expect(await errorCode { try await store.deleteVM(admin, id: held.id, ip: nil) } == "INVALID_STATE")
            #expect(await errorCode { try await store.deleteVM(admin, id: free.id, ip: held.ip) } == "VM_NOT_FOUND")
            #expect(await errorCode { try await store.deleteVM(admin, id: "nope", ip: nil) } == "VM_NOT_FOUND")
            #expect(await errorCode { try await store.deleteVM(alice.caller, id: free.id, ip: nil) } == "FORBIDDEN")
            #expect(try await store.deleteVM(admin, id: free.id, ip: free.ip) == free)
            #expect(await errorCode { try await store.vm(admin, id: free.id) } == "VM_NOT_FOUND")
            #expect(try await pool.ipIndex() == [held.ip: held.id])
        }
    }

    // MARK: Checkout and checkin

    @Test func checkoutAndCheckinRoundTrip() async throws {
        try await withStore(cap: 10) { store, _ async throws in
            _ = try await store.createVMs(admin, count: 3)
            let alice = try await store.createUser(admin, name: "alice", role: .user, quota: 1)
            let vm = try await store.checkout(alice.caller, leaseSeconds: nil)
            #expect(vm.status == .checkedOut && vm.user == "alice" && vm.checkedOutAt != nil && vm.leaseExpiresAt == nil)
            #expect(try await store.myVMs(alice.caller) == [vm])
            #expect(try await store.vm(alice.caller, id: vm.id) == vm)
            #expect(try await store.vm(admin, id: vm.id) == vm)
            let returned = try await store.checkin(alice.caller, id: nil, ip: vm.ip)
            #expect(returned.id == vm.id && returned.status == .available && returned.user == nil && returned.checkedOutAt == nil)
            #expect(try await store.myVMs(alice.caller) == [])
            #expect(await errorCode { try await store.vm(alice.caller, id: vm.id) } == "VM_NOT_FOUND")
            #expect(await errorCode { try await store.checkin(alice.caller, id: vm.id, ip: nil) } == "FORBIDDEN")
            #expect(await errorCode { try await store.checkin(admin, id: vm.id, ip: vm.ip) } == "INVALID_STATE")
            #expect(await errorCode { try await store.checkin(alice.caller, id: nil, ip: nil) } == "BAD_REQUEST")
            let stats = try await store.poolStats(admin)
            #expect(stats.counts[.available] == 3 && stats.counts[.checkedOut] == 0)
        }
    }

    @Test func checkoutWithALeaseRecordsItsExpiry() async throws {
        try await withStore(cap: 10) { store, _ async throws in
            _ = try await store.createVMs(admin, count: 1)
            let vm = try await store.checkout(admin, leaseSeconds: 3600)
            let checkedOutAt = try #require(vm.checkedOutAt)
            #expect(vm.leaseExpiresAt == checkedOutAt + 3_600_000)
            #expect(vm.user == "admin")
            #expect(await errorCode { try await store.checkout(admin, leaseSeconds: 0) } == "BAD_REQUEST")
            #expect(await errorCode { try await store.checkout(admin, leaseSeconds: -1) } == "BAD_REQUEST")
            #expect(await errorCode { try await store.checkout(admin, leaseSeconds: 604_801) } == "BAD_REQUEST")
        }
    }

    @Test func anEmptyPoolAnswersNoVMAvailableButAFullQuotaComesFirst() async throws {
        try await withStore(cap: 10) { store, _ async throws in
            let alice = try await store.createUser(admin, name: "alice", role: .user, quota: 1)
            let nobody = try await store.createUser(admin, name: "nobody", role: .user, quota: 0)
            await #expect(throws: ReservationError.noVMAvailable) { try await store.checkout(alice.caller, leaseSeconds: nil) }
            #expect(await errorCode { try await store.checkout(nobody.caller, leaseSeconds: nil) } == "QUOTA_EXCEEDED")
            _ = try await store.createVMs(admin, count: 1)
            _ = try await store.checkout(alice.caller, leaseSeconds: nil)
            await #expect(throws: ReservationError.quotaExceeded("quota of 1 VM reached")) {
                try await store.checkout(alice.caller, leaseSeconds: nil)
            }
        }
    }

    @Test func patchingTheQuotaTakesEffectOnTheNextCheckout() async throws {
        try await withStore(cap: 10) { store, _ async throws in
            _ = try await store.createVMs(admin, count: 5)
            let alice = try await store.createUser(admin, name: "alice", role: .user, quota: 1)
            _ = try await store.checkout(alice.caller, leaseSeconds: nil)
            #expect(await errorCode { try await store.checkout(alice.caller, leaseSeconds: nil) } == "QUOTA_EXCEEDED")
            let updated = try await store.updateUser(admin, name: "alice", quota: 3, role: nil)
            #expect(updated.quota == 3 && updated.role == .user && updated.held == 1)
            _ = try await store.checkout(alice.caller, leaseSeconds: nil)
            _ = try await store.checkout(alice.caller, leaseSeconds: nil)
            #expect(await errorCode { try await store.checkout(alice.caller, leaseSeconds: nil) } == "QUOTA_EXCEEDED")
            // a quota below what is held is refused: a user never holds more than their quota
            #expect(await errorCode { try await store.updateUser(admin, name: "alice", quota: 2, role: nil) } == "INVALID_STATE")
            #expect(try await store.user(admin, name: "alice").user.quota == 3)
            _ = try await store.checkin(alice.caller, id: nil, ip: try await store.myVMs(alice.caller)[0].ip)
            #expect(try await store.updateUser(admin, name: "alice", quota: 2, role: nil).held == 2)
            #expect(await errorCode { try await store.checkout(alice.caller, leaseSeconds: nil) } == "QUOTA_EXCEEDED")
        }
    }

    @Test func trustedAdminsCheckOutWithinTheDefaultQuota() async throws {
        try await withStore(cap: 10, defaultQuota: 2) { store, _ async throws in
            _ = try await store.createVMs(admin, count: 5)
            _ = try await store.checkout(admin, leaseSeconds: nil)
            _ = try await store.checkout(admin, leaseSeconds: nil)
            #expect(await errorCode { try await store.checkout(admin, leaseSeconds: nil) } == "QUOTA_EXCEEDED")
            #expect(try await store.myVMs(admin).count == 2)
            // another trusted name is another principal
            _ = try await store.checkout(.trustedAdmin(name: "anonymous"), leaseSeconds: nil)
        }
    }

    @Test func usersCannotSeeOrReturnOtherUsersVMs() async throws {
        try await withStore(cap: 10) { store, _ async throws in
            _ = try await store.createVMs(admin, count: 2)
            let alice = try await store.createUser(admin, name: "alice", role: .user, quota: 1)
            let bob = try await store.createUser(admin, name: "bob", role: .user, quota: 1)
            let vm = try await store.checkout(alice.caller, leaseSeconds: nil)
            await #expect(throws: ReservationError.vmNotFound) { try await store.vm(bob.caller, id: vm.id) }
            #expect(await errorCode { try await store.checkin(bob.caller, id: vm.id, ip: nil) } == "FORBIDDEN")
            #expect(try await store.myVMs(bob.caller) == [])
            #expect(try await store.checkin(admin, id: vm.id, ip: nil).status == .available)
            #expect(try await store.myVMs(alice.caller) == [])
        }
    }

    // MARK: Listing VMs

    @Test func listVMsWalksEveryPageInIdOrder() async throws {
        try await withStore(cap: 100) { store, _ async throws in
            let vms = try await store.createVMs(admin, count: 25)
            var seen: [VM] = []
            var cursor: String?
            var pages = 0
            repeat {
                let page = try await store.listVMs(admin, status: nil, cursor: cursor, limit: 4)
                #expect(page.items.count == (page.nextCursor == nil ? 1 : 4))
                seen += page.items
                cursor = page.nextCursor
                pages += 1
            } while cursor != nil && pages < 100
            #expect(pages == 7)
            #expect(seen == vms.sorted { $0.id < $1.id })
            let whole = try await store.listVMs(admin, status: nil, cursor: nil, limit: 1000)
            #expect(whole.items == seen && whole.nextCursor == nil)
        }
    }

    @Test func listVMsFilteredByStatusWalksEveryPage() async throws {
        try await withStore(cap: 100, defaultQuota: 2) { store, _ async throws in
            let vms = try await store.createVMs(admin, count: 25)
            var held: Set<String> = []
            for name in ["alice", "bob", "carol"] {
                let user = try await store.createUser(admin, name: name, role: .user, quota: nil)
                #expect(user.user.quota == 2)
                for _ in 0..<2 { held.insert(try await store.checkout(user.caller, leaseSeconds: nil).id) }
            }
            func walk(_ status: VMStatus, limit: Int) async throws -> [VM] {
                var found: [VM] = []
                var cursor: String?
                var pages = 0
                repeat {
                    let page = try await store.listVMs(admin, status: status, cursor: cursor, limit: limit)
                    #expect(page.items.count <= limit)
                    #expect(page.items.allSatisfy { $0.status == status })
                    found += page.items
                    cursor = page.nextCursor
                    pages += 1
                } while cursor != nil && pages < 100
                return found
            }
            let checkedOut = try await walk(.checkedOut, limit: 2)
            #expect(checkedOut.map(\.id) == held.sorted())
            #expect(Set(checkedOut.compactMap(\.user)) == ["alice", "bob", "carol"])
            let available = try await walk(.available, limit: 5)
            #expect(available.map(\.id) == vms.map(\.id).filter { !held.contains($0) }.sorted())
            #expect(try await walk(.error, limit: 3).isEmpty)
            #expect(try await walk(.provisioning, limit: 1000).isEmpty)
        }
    }

    @Test func listVMsRejectsBadLimits() async throws {
        try await withStore(cap: 10) { store, _ async throws in
            for limit in [0, -1, 1001] {
                #expect(await errorCode { try await store.listVMs(admin, status: nil, cursor: nil, limit: limit) } == "BAD_REQUEST")
            }
        }
    }

    // MARK: Users

    @Test func createUserIssuesATokenThatAuthenticates() async throws {
        try await withStore(cap: 10, defaultQuota: 4) { store, _ async throws in
            let issued = try await store.createUser(admin, name: "alice", role: .user, quota: nil)
            #expect(issued.token.count == 64)
            #expect(issued.user.name == "alice" && issued.user.role == .user && issued.user.quota == 4 && issued.user.held == 0)
            #expect(try await store.myVMs(issued.caller) == [])
            #expect(await errorCode { try await store.createUser(admin, name: "alice", role: .user, quota: 1) } == "INVALID_STATE")
            #expect(await errorCode { try await store.createUser(admin, name: "bad name", role: .user, quota: 1) } == "BAD_REQUEST")
            #expect(await errorCode { try await store.createUser(admin, name: "bob", role: .user, quota: -1) } == "BAD_REQUEST")
            #expect(await errorCode { try await store.createUser(issued.caller, name: "bob", role: .user, quota: 1) } == "FORBIDDEN")
        }
    }

    @Test func reservedUserNamesAreRejected() async throws {
        try await withStore(cap: 10) { store, pool async throws in
            for name in ["admin", "anonymous"] {
                let error = await #expect(throws: ReservationError.self) {
                    try await store.createUser(admin, name: name, role: .admin, quota: 1)
                }
                #expect(error?.code == "INVALID_STATE")
            }
            #expect(try await store.users(admin) == [])
            #expect(try await pool.dump().keys.sorted() == [pool.key("events"), pool.key("pool")], "the cap and its event only")
        }
    }

    @Test func usersAreListedByNameWithTheVMsTheyHold() async throws {
        try await withStore(cap: 10) { store, _ async throws in
            _ = try await store.createVMs(admin, count: 4)
            let carol = try await store.createUser(admin, name: "carol", role: .user, quota: 2)
            _ = try await store.createUser(admin, name: "alice", role: .admin, quota: 0)
            let first = try await store.checkout(carol.caller, leaseSeconds: nil)
            let second = try await store.checkout(carol.caller, leaseSeconds: 60)
            let users = try await store.users(admin)
            #expect(users.map(\.name) == ["alice", "carol"])
            #expect(users.map(\.held) == [0, 2])
            #expect(users.map(\.role) == [.admin, .user])
            let detail = try await store.user(admin, name: "carol")
            #expect(detail.user == users[1])
            #expect(detail.vms == [first, second].sorted { $0.id < $1.id })
            #expect(try await store.user(admin, name: "alice").vms == [])
        }
    }

    @Test func unknownUsersAreReportedAsUserNotFound() async throws {
        try await withStore(cap: 10) { store, _ async throws in
            #expect(await errorCode { try await store.user(admin, name: "ghost") } == "USER_NOT_FOUND")
            #expect(await errorCode { try await store.updateUser(admin, name: "ghost", quota: 1, role: nil) } == "USER_NOT_FOUND")
            #expect(await errorCode { try await store.deleteUser(admin, name: "ghost") } == "USER_NOT_FOUND")
            #expect(await errorCode { try await store.rotateToken(admin, name: "ghost") } == "USER_NOT_FOUND")
        }
    }

    @Test func roleChangesApplyToTheNextRequest() async throws {
        try await withStore(cap: 10) { store, _ async throws in
            let alice = try await store.createUser(admin, name: "alice", role: .user, quota: 1)
            #expect(await errorCode { try await store.users(alice.caller) } == "FORBIDDEN")
            #expect(try await store.updateUser(admin, name: "alice", quota: nil, role: .admin).role == .admin)
            #expect(try await store.users(alice.caller).map(\.name) == ["alice"])
            #expect(try await store.updateUser(alice.caller, name: "alice", quota: nil, role: .user).role == .user)
            #expect(await errorCode { try await store.users(alice.caller) } == "FORBIDDEN")
        }
    }

    @Test func deletingAUserNeedsThemToHoldNothingAndRevokesTheirToken() async throws {
        try await withStore(cap: 10) { store, _ async throws in
            _ = try await store.createVMs(admin, count: 1)
            let alice = try await store.createUser(admin, name: "alice", role: .user, quota: 1)
            let vm = try await store.checkout(alice.caller, leaseSeconds: nil)
            #expect(await errorCode { try await store.deleteUser(admin, name: "alice") } == "INVALID_STATE")
            _ = try await store.checkin(alice.caller, id: vm.id, ip: nil)
            let deleted = try await store.deleteUser(admin, name: "alice")
            #expect(deleted.name == "alice" && deleted.held == 0)
            #expect(await errorCode { try await store.myVMs(alice.caller) } == "UNAUTHORIZED")
            #expect(try await store.users(admin) == [])
            // the name can be used again, with a new token
            let again = try await store.createUser(admin, name: "alice", role: .user, quota: 1)
            #expect(try await store.myVMs(again.caller) == [])
            #expect(await errorCode { try await store.myVMs(alice.caller) } == "UNAUTHORIZED")
        }
    }

    @Test func rotatingATokenRevokesTheOldOneAndKeepsTheHoldings() async throws {
        try await withStore(cap: 10) { store, _ async throws in
            _ = try await store.createVMs(admin, count: 1)
            let old = try await store.createUser(admin, name: "alice", role: .user, quota: 1)
            let vm = try await store.checkout(old.caller, leaseSeconds: nil)
            let new = try await store.rotateToken(admin, name: "alice")
            #expect(new.token != old.token && new.token.count == 64)
            #expect(new.user.name == "alice" && new.user.held == 1)
            #expect(await errorCode { try await store.myVMs(old.caller) } == "UNAUTHORIZED")
            #expect(await errorCode { try await store.checkin(old.caller, id: vm.id, ip: nil) } == "UNAUTHORIZED")
            #expect(try await store.myVMs(new.caller) == [vm])
            #expect(try await store.checkin(new.caller, id: vm.id, ip: nil).status == .available)
        }
    }

    @Test func aStoreWithoutRedisReportsItselfUnavailable() async throws {
        let client = RedisClient(configuration: .init(url: RedisURL(host: "127.0.0.1", port: 1)))
        let store = ReservationStore(redis: client, keys: PoolKeys(pool: uniquePoolName()), defaultQuota: 1)
        await #expect(throws: ReservationError.storeUnavailable) { try await store.checkout(admin, leaseSeconds: nil) }
        #expect(await !store.isReady())
    }

    @Test func isReadyOnceTheScriptLibraryIsLoaded() async throws {
        try await withRedisServer { server in
            // one connection: a second one could still be loading the library after the flush
            try await withRedisClient(.test(server.url, connectionCount: 1), library: Script.library) { client async throws in
                let store = ReservationStore(redis: client, keys: PoolKeys(pool: uniquePoolName()), defaultQuota: 1)
                #expect(await store.isReady())
                _ = try await client.send(RedisCommand("FUNCTION", ["FLUSH"]))
                #expect(await !store.isReady())
                // the next call loads the library again
                #expect(try await store.initializePool(maxVMCount: 3) == 3)
                #expect(try await store.poolStats(admin).total == 0)
            }
        }
    }
}
