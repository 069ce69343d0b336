import Foundation
import RedisClient
import Reservations
import Synchronization
import Testing
import TestSupport

// The domain API under contention: many callers, several gateways (clients), one Redis.

private let admin = Caller.trustedAdmin(name: "admin")

/// Who holds which VM, as the callers learn it from the answers they get.
private final class HoldTracker: Sendable {
    private struct State {
        var holders: [String: String] = [:]
        var violations: [String] = []
    }

    private let state = Mutex(State())

    /// A checkout answered `id` to `user`.
    func acquired(_ id: String, by user: String) {
        state.withLock { state in
            if let other = state.holders[id] {
                state.violations.append("\(id) was checked out to \(user) while \(other) held it")
            } else {
                state.holders[id] = user
            }
        }
    }

    /// `user` is about to check `id` in.
    func releasing(_ id: String, by user: String) {
        state.withLock { state in
            if state.holders[id] != user {
                state.violations.append("\(user) checks in \(id), held by \(state.holders[id] ?? "nobody")")
            }
            state.holders[id] = nil
        }
    }

    func violation(_ text: String) {
        state.withLock { $0.violations.append(text) }
    }

    var violations: [String] { state.withLock { $0.violations } }
    var heldCount: Int { state.withLock { $0.holders.count } }
}

/// What one user saw.
private struct Tally: Sendable {
    var checkouts = 0
    var checkins = 0
    var noVMAvailable = 0
    var quotaExceeded = 0
    var listings = 0

    static func + (lhs: Tally, rhs: Tally) -> Tally {
        Tally(checkouts: lhs.checkouts + rhs.checkouts, checkins: lhs.checkins + rhs.checkins,
              noVMAvailable: lhs.noVMAvailable + rhs.noVMAvailable, quotaExceeded: lhs.quotaExceeded + rhs.quotaExceeded,
              listings: lhs.listings + rhs.listings)
    }
}

@Suite(.timeLimit(.minutes(10))) struct ConcurrencyTests {
    @Test func concurrentCreatesNeverExceedTheCap() async throws {
        try await withStore(cap: 20) { store, pool async throws in
            let results = await withTaskGroup(of: Result<[VM], ReservationError>.self) { group in
                for _ in 0..<50 {
                    group.addTask {
                        do throws(ReservationError) {
                            return .success(try await store.createVMs(admin, count: 1))
                        } catch {
                            return .failure(error)
                        }
                    }
                }
                var results: [Result<[VM], ReservationError>] = []
                for await result in group { results.append(result) }
                return results
            }
            let created = results.compactMap { try? $0.get() }
            let failures = results.compactMap { result -> ReservationError? in
                if case .failure(let error) = result { error } else { nil }
            }
            #expect(created.count == 20)
            #expect(created.allSatisfy { $0.count == 1 })
            #expect(failures.count == 30)
            #expect(failures.allSatisfy { $0 == .maxVMCountReached }, "\(failures)")
            let vms = created.flatMap { $0 }
            #expect(Set(vms.map(\.id)).count == 20)
            #expect(Set(vms.map(\.ip)).count == 20)
            let stats = try await store.poolStats(admin)
            #expect(stats.total == 20 && stats.counts[.available] == 20)
            #expect(try await pool.ipIndex().count == 20)
            #expect(try await pool.count("available") == 20)
        }
    }

    @Test func concurrentCheckoutsAcrossThreeGatewaysNeverShareAVMOrExceedAQuota() async throws {
        let userCount = 64
        let quota = 2
        let vmCount = 40
        let goal = WorkGoal(600)  // checkouts, in all
        let configuration = RedisClient.Configuration.test(try await SharedRedis.url())
        try await withRedisClient(configuration, library: Script.library) { first async throws in
            try await withRedisClient(configuration, library: Script.library) { second async throws in
                try await withRedisClient(configuration, library: Script.library) { third async throws in
                    let keys = PoolKeys(pool: uniquePoolName("contention"))
                    let gateways = [first, second, third].map { ReservationStore(redis: $0, keys: keys, defaultQuota: 1) }
                    let pool = ScriptPool(client: first, keys: keys)
                    let setup = gateways[0]
                    _ = try await setup.initializePool(maxVMCount: vmCount)
                    #expect(try await setup.createVMs(admin, count: vmCount).count == vmCount)
                    var users: [(name: String, caller: Caller)] = []
                    for index in 0..<userCount {
                        let issued = try await setup.createUser(admin, name: "user\(index)", role: .user, quota: quota)
                        users.append((issued.user.name, issued.caller))
                    }

                    let tracker = HoldTracker()
                    let tally = try await withThrowingTaskGroup(of: Tally.self) { group in
                        for (index, user) in users.enumerated() {
                            let store = gateways[index % gateways.count]
                            group.addTask {
                                try await Self.cycle(user: user, quota: quota, store: store, tracker: tracker, until: goal)
                            }
                        }
                        return try await group.reduce(Tally(), +)
                    }

                    let violations = tracker.violations
                    #expect(violations.isEmpty, "\(violations.count) violations, first: \(violations.prefix(10))")
                    #expect(tracker.heldCount == 0)
                    #expect(tally.checkouts >= goal.target, "\(tally)")
                    #expect(tally.checkins == tally.checkouts)
                    #expect(tally.noVMAvailable > 0, "the pool should have run dry at times: \(tally)")
                    #expect(tally.quotaExceeded > 0, "\(tally)")

                    let stats = try await setup.poolStats(admin)
                    #expect(stats.total == vmCount)
                    #expect(stats.counts[.available] == vmCount)
                    #expect(stats.counts[.checkedOut] == 0)
                    #expect((stats.counts[.available] ?? 0) + (stats.counts[.checkedOut] ?? 0) == stats.total)
                    for user in try await setup.users(admin) {
                        #expect(user.held == 0, "\(user.name)")
                        #expect(try await pool.command("SCARD", pool.key("held:" + user.name)) == .integer(0))
                    }
                    let all = try await setup.listVMs(admin, status: nil, cursor: nil, limit: 1000)
                    #expect(all.items.count == vmCount && all.nextCursor == nil)
                    #expect(all.items.allSatisfy { $0.status == .available && $0.user == nil })
                    #expect(Set(all.items.map(\.ip)).count == vmCount)
                    #expect(try await pool.ipIndex().count == vmCount)
                    #expect(try await pool.command("ZCARD", pool.key("leases")) == .integer(0))
                }
            }
        }
    }

    /// One user checking VMs out and in until `end`, sometimes asking beyond the quota, and
    /// comparing what the store says they hold with what the answers told them.
    private static func cycle(
        user: (name: String, caller: Caller), quota: Int, store: ReservationStore, tracker: HoldTracker,
        until goal: WorkGoal
    ) async throws -> Tally {
        var tally = Tally()
        var mine: Set<String> = []
        var step = 0
        while !goal.isReached {
            try Task.checkCancellation()
            step += 1
            let checkout = mine.isEmpty || (mine.count < quota && Bool.random()) || Int.random(in: 0..<8) == 0
            if checkout {
                do throws(ReservationError) {
                    let vm = try await store.checkout(user.caller, leaseSeconds: nil)
                    tracker.acquired(vm.id, by: user.name)
                    if vm.user != user.name || vm.status != .checkedOut {
                        tracker.violation("\(user.name) got \(vm)")
                    }
                    if mine.count >= quota {
                        tracker.violation("\(user.name) got a VM beyond the quota of \(quota)")
                    }
                    mine.insert(vm.id)
                    tally.checkouts += 1
                    goal.record()
                } catch {
                    // (one catch and a switch: `catch .noVMAvailable` clauses crash swift-frontend 6.3.1 here)
                    switch error {
                    case .noVMAvailable:
                        tally.noVMAvailable += 1
                    case .quotaExceeded:
                        if mine.count < quota {
                            tracker.violation("\(user.name) holds \(mine.count) but got QUOTA_EXCEEDED")
                        }
                        tally.quotaExceeded += 1
                    default:
                        throw error
                    }
                }
            } else if let id = mine.randomElement() {
                tracker.releasing(id, by: user.name)
                mine.remove(id)
                do throws(ReservationError) {
                    let vm = try await store.checkin(user.caller, id: id, ip: nil)
                    if vm.status != .available || vm.user != nil { tracker.violation("checkin answered \(vm)") }
                } catch {
                    tracker.violation("\(user.name) could not check in \(id): \(error)")
                }
                tally.checkins += 1
            }
            if step % 16 == 0 {
                let held = try await store.myVMs(user.caller)
                if Set(held.map(\.id)) != mine || held.count > quota {
                    tracker.violation("\(user.name) holds \(held.map(\.id)) by the store, \(mine.sorted()) by the answers")
                }
                tally.listings += 1
            }
        }
        for id in mine {
            tracker.releasing(id, by: user.name)
            _ = try await store.checkin(user.caller, id: id, ip: nil)
            tally.checkins += 1
        }
        if try await store.myVMs(user.caller) != [] { tracker.violation("\(user.name) still holds VMs") }
        return tally
    }
}
