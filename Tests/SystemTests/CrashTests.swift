import Foundation
import GatewayTestSupport
import NIOHTTP1
import RedisClient
import RedisServerProcess
import Synchronization
import Testing
import TestSupport

#if canImport(Glibc)
import Glibc
#endif

/// Three `vmreserve serve` processes on one Redis with append-only persistence, many clients, and
/// crashes in the middle: a gateway is killed (SIGKILL) and started again, then Redis is killed
/// (SIGKILL) and started again from its append-only file. No answer a client was given may be
/// lost, and the clients' and the pool's final states must agree.
@Suite(.timeLimit(.minutes(10))) struct CrashTests {
    /// Who holds which VM, as far as the answers the clients got tell.
    final class Holders: Sendable {
        private struct State {
            var holderOf: [String: String] = [:]
            var violations: [String] = []
        }
        private let state = Mutex(State())

        /// `user` holds `id`: no one else may hold it.
        func take(_ id: String, by user: String) {
            state.withLock { state in
                if let holder = state.holderOf[id], holder != user {
                    state.violations.append("\(id) is held by \(user) while \(holder) holds it")
                }
                state.holderOf[id] = user
            }
        }

        /// Called before a checkin is sent: once Redis runs it, someone else may take the VM.
        func release(_ id: String) {
            _ = state.withLock { $0.holderOf.removeValue(forKey: id) }
        }

        func violation(_ message: String) {
            state.withLock { $0.violations.append(message) }
        }

        var violations: [String] { state.withLock { $0.violations } }
    }

    /// The gateways clients may use right now, and counts of what happened.
    final class Cluster: Sendable {
        struct Counts {
            var checkouts = 0, checkins = 0, checkoutsAfterRedisRestart = 0, unknownOutcomes = 0
        }
        let gateways: Mutex<[Gateway]>
        let counts = Mutex(Counts())
        let redisRestarted = Atomic(false)
        /// Set once the chaos is over and enough was done after it: the clients stop.
        let finished = Atomic(false)

        /// What the clients' requests met, by phase of a test (0 unless a test sets others).
        struct Phase: Sendable {
            var requests = 0, unavailable = 0
            /// Requests written whole to a gateway that was then killed, and never answered.
            var cut = 0
            var slowest: Duration = .zero
        }
        let phase = Atomic(0)
        let phases = Mutex<[Int: Phase]>([:])

        /// The Redis the gateways use, and the gateways killed whose connections it may still hold.
        let redis: RedisURL?
        let killed = Mutex<Set<pid_t>>([])
        /// When each gateway (by port) was last killed.
        let killTimes = Mutex<[Int: ContinuousClock.Instant]>([:])
        /// When a request was last written whole to each gateway (by port).
        let lastSent = Mutex<[Int: ContinuousClock.Instant]>([:])
        /// The proxy the gateways reach Redis through, if any.
        let proxy: CuttableProxy?

        init(_ gateways: [Gateway], redis: RedisURL? = nil, proxy: CuttableProxy? = nil) {
            self.gateways = Mutex(gateways)
            self.redis = redis
            self.proxy = proxy
        }

        /// Waits until Redis can run no more command that a client was left without an answer to:
        /// until it has closed every connection of a killed gateway, and every connection a gateway
        /// gave up on (after a timeout: the network cut, Redis paused) behind the proxy. Redis
        /// reads what a connection sent before it sees the connection closed, so until then an
        /// answer about what a client holds may come before such a command runs; from then on none
        /// can. (At most 2 minutes: a Redis that does not answer for that long fails the test anyway.)
        func settle() async {
            let deadline = ContinuousClock.now + .seconds(120)
            while ContinuousClock.now < deadline {
                if let redis, !killed.withLock({ $0.isEmpty }), let list = try? await sendToRedis(redis, ["CLIENT", "LIST"]).first?.string {
                    let names = Set(list.split(separator: "\n").compactMap { line in
                        line.split(separator: " ").first { $0.hasPrefix("name=vmreserve:") }
                    })
                    killed.withLock { pids in pids = pids.filter { pid in names.contains { $0.hasSuffix(":\(pid)") } } }
                }
                let abandoned = await proxy?.abandonedConnections() ?? 0
                if abandoned == 0 && killed.withLock({ $0.isEmpty }) { return }
                try? await Task.sleep(for: .milliseconds(20))
            }
        }

        func pick() -> Gateway { gateways.withLock { $0.randomElement()! } }

        /// A request to any gateway, counted in the current phase: its time, whether the service
        /// was unavailable (503 store_unavailable, or no answer at all), and whether a gateway's
        /// kill cut it off (written whole before the kill, never answered).
        func call(_ method: HTTPMethod, _ path: String, token: String, body: String? = nil) async throws -> APIResponse {
            let startPhase = self.phase.load(ordering: .relaxed), start = ContinuousClock.now, port = pick().port
            // the phase it began in, or else the one it ended in (a request a fault cut off began before it)
            func record(unavailable: Bool, cut: Bool = false) {
                let time = ContinuousClock.now - start
                let phase = startPhase != 0 ? startPhase : self.phase.load(ordering: .relaxed)
                phases.withLock { phases in
                    phases[phase, default: Phase()].requests += 1
                    if unavailable { phases[phase, default: Phase()].unavailable += 1 }
                    if cut { phases[phase, default: Phase()].cut += 1 }
                    phases[phase, default: Phase()].slowest = max(phases[phase, default: Phase()].slowest, time)
                }
            }
            let request = try SentRequest(Gateway(port: port), method, path, token: token, body: body) { [self] in
                self.lastSent.withLock { $0[port] = .now }
            }
            do {
                let response = try await request.answer()
                record(unavailable: response.code == "store_unavailable")
                return response
            } catch {
                let killedAt = killTimes.withLock { $0[port] }
                record(unavailable: true, cut: request.sentAt.flatMap { sent in killedAt.map { sent < $0 } } ?? false)
                throw error
            }
        }
    }

    /// What a client is unsure of after a request whose answer it never got.
    enum Doubt {
        case checkout
        case checkin(String)
    }

    @Test func killedGatewaysAndAKilledRedisLoseNoReservation() async throws {
        let vmCount = 40, clients = 48, quota = 2
        try await withTestProcesses { processes in
            let directory = try processes.temporaryDirectory("crash")
            let data = directory.appending(path: "redis")
            var redis = try await processes.redis(dataDirectory: data, persistent: true)
            let redisPort = redis.port
            let fleet = try await GatewayFleet.start(redisURL: "redis://127.0.0.1:\(redisPort)/0", vmCount: vmCount, clients: clients,
                                                     quota: quota, userPrefix: "crash", directory: directory, processes: processes)
            let gateways = fleet.gateways, holders = fleet.holders, cluster = fleet.cluster

            let finalHoldings = try await withThrowingTaskGroup(of: (String, Set<String>).self) { group in
                for (index, token) in fleet.tokens.enumerated() {
                    group.addTask {
                        let held = await Self.client("crash\(index)", token: token, quota: quota, cluster: cluster, holders: holders)
                        return ("crash\(index)", held)
                    }
                }
                // The chaos, while the clients run: kill gateway 1 and bring it back, then Redis.
                try await fleet.progress(100, "before the first crash")
                try await fleet.kill(1)
                try await fleet.progress(50, "on the two gateways left")
                try await fleet.restart(1)
                try await fleet.progress(50, "with the gateway back")
                await redis.kill()
                try await Task.sleep(for: .milliseconds(300))
                redis = try await processes.redis(port: redisPort, dataDirectory: data, persistent: true)
                cluster.redisRestarted.store(true, ordering: .relaxed)
                try await waitUntil("50 checkouts after Redis restarted") {
                    cluster.counts.withLock { $0.checkoutsAfterRedisRestart } >= 50
                }
                cluster.finished.store(true, ordering: .relaxed)

                var holdings: [String: Set<String>] = [:]
                for try await (user, held) in group { holdings[user] = held }
                return holdings
            }

            #expect(holders.violations.isEmpty, "\(holders.violations.prefix(5))")
            let counts = cluster.counts.withLock { $0 }
            #expect(counts.unknownOutcomes > 0, "the crashes cut requests off: \(counts)")
            let cut = cluster.phases.withLock { $0[0]?.cut ?? 0 }
            #expect(cut > 0, "the gateway's kill cut off requests written whole to it")

            // Every VM has at most one holder, and the pool's counts match what clients hold.
            let allHeld = finalHoldings.values.flatMap { $0 }
            #expect(allHeld.count == Set(allHeld).count)
            #expect(finalHoldings.values.allSatisfy { $0.count <= quota })
            let pool = try await gateways[2].call(.GET, "/v1/admin/pool")
            #expect(pool.data?["total"] as? Int == vmCount)
            #expect((pool.data?["counts"] as? [String: Int]) == [
                "available": vmCount - allHeld.count, "checked-out": allHeld.count, "provisioning": 0, "error": 0, "deprovisioning": 0, "set-aside": 0,
            ])
            let users = try await gateways[0].call(.GET, "/v1/admin/users")
            for user in users.items ?? [] {
                guard let name = user["name"] as? String, let held = finalHoldings[name] else { continue }
                #expect(user["held"] as? Int == held.count, "\(name)")
            }
            let vms = try await gateways[1].call(.GET, "/v1/admin/vms?limit=1000")
            let ips = (vms.data?["items"] as? [[String: Any]] ?? []).compactMap { $0["ip"] as? String }
            #expect(ips.count == vmCount && Set(ips).count == vmCount)
            // and the pool's keys agree with each other, read from Redis in one atomic step
            #expect(try await poolInconsistencies(at: redis.url) == [])

            #expect(await fleet.stop().allSatisfy { $0 == 0 })
        }
    }

    /// One client: checks out (up to one more than its quota) and checks in, on whichever gateway
    /// is up. When an answer never comes (a gateway died, Redis died), it asks the service what it
    /// holds and checks that against what it knew. Returns what it holds at the end, as the
    /// service confirmed it.
    static func client(_ user: String, token: String, quota: Int, cluster: Cluster, holders: Holders) async -> Set<String> {
        var held: Set<String> = []
        while !cluster.finished.load(ordering: .relaxed) && !Task.isCancelled {
            if held.isEmpty || (held.count <= quota && Bool.random()) {
                guard let response = try? await cluster.call(.POST, "/v1/checkouts", token: token),
                      response.code != "store_unavailable"
                else {
                    held = await reconcile(user, token: token, held: held, doubt: .checkout, cluster: cluster, holders: holders)
                    continue
                }
                switch (response.status, response.code) {
                case (201, _):
                    guard let id = response["vm_id"] else { break }
                    holders.take(id, by: user)
                    held.insert(id)
                    if held.count > quota { holders.violation("\(user) holds \(held.count) VMs, quota \(quota)") }
                    let restarted = cluster.redisRestarted.load(ordering: .relaxed)
                    cluster.counts.withLock { counts in
                        counts.checkouts += 1
                        if restarted { counts.checkoutsAfterRedisRestart += 1 }
                    }
                case (429, "quota_exceeded"), (503, "no_vm_available"):
                    break
                default:
                    holders.violation("checkout answered \(response.status) \(response.code ?? "")")
                }
            } else {
                let id = held.randomElement()!
                holders.release(id)
                guard let response = try? await cluster.call(.POST, "/v1/checkins", token: token, body: #"{"vm_id": "\#(id)"}"#),
                      response.code != "store_unavailable"
                else {
                    held = await reconcile(user, token: token, held: held, doubt: .checkin(id), cluster: cluster, holders: holders)
                    continue
                }
                if response.status == 200 {
                    held.remove(id)
                    cluster.counts.withLock { $0.checkins += 1 }
                } else {
                    holders.violation("checkin of \(id) answered \(response.status) \(response.code ?? "")")
                }
            }
        }
        return await reconcile(user, token: token, held: held, doubt: nil, cluster: cluster, holders: holders)
    }

    /// Asks (until the service answers, for at most 2 minutes) which VMs `user` holds. Without a doubt the
    /// answer must be exactly `held`; after an unanswered checkout it may hold one more VM, after
    /// an unanswered checkin one fewer: anything else lost or invented a reservation.
    static func reconcile(_ user: String, token: String, held: Set<String>, doubt: Doubt?, cluster: Cluster,
                          holders: Holders) async -> Set<String> {
        if doubt != nil {
            cluster.counts.withLock { $0.unknownOutcomes += 1 }
            await cluster.settle()
        }
        let deadline = ContinuousClock.now + .seconds(120)
        while ContinuousClock.now < deadline {
            guard let response = try? await cluster.call(.GET, "/v1/vms/mine", token: token), response.status == 200 else {
                try? await Task.sleep(for: .milliseconds(50))
                continue
            }
            let mine = Set(response.items?.compactMap { $0["vm_id"] as? String } ?? [])
            let allowed: Bool
            switch doubt {
            case nil: allowed = mine == held
            case .checkout: allowed = held.isSubset(of: mine) && mine.subtracting(held).count <= 1
            case .checkin(let id): allowed = mine.isSubset(of: held) && held.subtracting(mine).isSubset(of: [id])
            }
            if !allowed { holders.violation("\(user) knew of \(held), doubt \(String(describing: doubt)), service says \(mine)") }
            for id in mine { holders.take(id, by: user) }
            return mine
        }
        holders.violation("\(user) got no answer for 2 minutes")
        return held
    }
}
