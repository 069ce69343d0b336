import Foundation
import RedisClient

/// The reservation service's operations. Each one is exactly one Lua script call (one Redis
/// round trip, authentication included); every rule that makes the service correct under
/// concurrency lives in those scripts, none here.
public struct ReservationStore: Sendable {
    public let redis: RedisClient
    public let keys: PoolKeys
    /// The quota of users created without one, and of trusted admins that have no user record.
    public let defaultQuota: Int
    public let leases: LeasePolicy
    /// True when the provider gives VMs their addresses: new VMs are created without one.
    public let providerAssignsAddresses: Bool
    /// How long the answer to a request with an Idempotency-Key is kept (whole milliseconds).
    public let idempotencyWindow: Duration
    /// When set, every change is acknowledged only once that many replicas have it (WAIT), within
    /// the timeout; otherwise the answer is `.storeUnavailable`.
    public let replicaAcknowledgements: (replicas: Int, timeout: Duration)?

    public init(
        redis: RedisClient, keys: PoolKeys, defaultQuota: Int, leases: LeasePolicy = LeasePolicy(),
        providerAssignsAddresses: Bool = false, idempotencyWindow: Duration = .seconds(86_400),
        replicaAcknowledgements: (replicas: Int, timeout: Duration)? = nil
    ) {
        self.replicaAcknowledgements = replicaAcknowledgements
        self.redis = redis
        self.keys = keys
        self.defaultQuota = defaultQuota
        self.leases = leases
        self.providerAssignsAddresses = providerAssignsAddresses
        self.idempotencyWindow = idempotencyWindow
    }

    // MARK: Pool

    /// Sets the cap to `maxVMCount` (and the IP pool to `ipPool`) unless the pool already has
    /// one, and how VMs are provisioned and returned when `provisioning` is given; returns the
    /// cap in force. A pool of an earlier layout is moved to the present one first, a part per
    /// call (init_pool.lua answers AGAIN until it is done). With `idleCleanup` (a gateway that
    /// runs it), the pool keeps its idle index from then on, built first if it has none.
    public func initializePool(
        maxVMCount: Int, ipPool: String? = nil, sizes: [VMSize] = VMSize.defaultCatalog, provisioning: ProvisioningPolicy? = nil,
        idleCleanup: Bool = false
    ) async throws(ReservationError) -> Int {
        var reply: RESPValue
        repeat {
            reply = try await run(.initPool, Self.initializePoolArguments(maxVMCount, ipPool, sizes, provisioning, idleCleanup))
        } while reply == .again
        guard let cap = reply.int else { throw RecordDecoding.malformed(reply) }
        return cap
    }

    /// The command that does what `initializePool` does. The gateway's Redis client sends it on
    /// every new connection, so a Redis that lost its data is seeded again before it serves a request.
    public static func initializePoolCommand(
        keys: PoolKeys, maxVMCount: Int, ipPool: String? = nil, sizes: [VMSize] = VMSize.defaultCatalog,
        provisioning: ProvisioningPolicy? = nil, idleCleanup: Bool = false
    ) -> RedisCommand {
        .fcall(Script.initPool.functionName, keys: keys.declared,
                 arguments: initializePoolArguments(maxVMCount, ipPool, sizes, provisioning, idleCleanup))
    }

    private static func initializePoolArguments(
        _ maxVMCount: Int, _ ipPool: String?, _ sizes: [VMSize], _ provisioning: ProvisioningPolicy?, _ idleCleanup: Bool
    ) -> [String] {
        [String(maxVMCount), ipPool ?? "", VMSize.catalogText(sizes),
         provisioning.map { $0.provider.needsJobs ? "jobs" : "instant" } ?? "", provisioning?.onReturn.rawValue ?? "",
         idleCleanup ? "idle" : ""]
    }

    public func poolStats(_ caller: Caller) async throws(ReservationError) -> PoolStats {
        try Self.stats(try await run(.poolStats, caller, []))
    }

    /// Changes the cap (lowering it below the current count only refuses new creates) and/or
    /// where new VMs take their addresses from (VMs that exist keep theirs).
    public func setPool(_ caller: Caller, maxVMCount: Int?, ipPool: IPPoolChange? = nil) async throws(ReservationError) -> PoolStats {
        let block = switch ipPool {
        case nil: ""
        case .randomPublic: "none"
        case .block(let cidr): cidr
        }
        return try Self.stats(try await run(.setPool, caller, [maxVMCount.map(String.init) ?? "", block]))
    }

    // MARK: VMs

    /// Creates up to `count` VMs with fresh ids and random public IPs, as many as the cap allows.
    /// With an `idempotencyKey` used before by the caller (within the window), answers the VMs
    /// that first request created instead.
    /// - Throws: `.maxVMCountReached` when the pool is already full.
    public func createVMs(
        _ caller: Caller, count: Int, size: String? = nil, idempotencyKey: String? = nil
    ) async throws(ReservationError) -> [VM] {
        // The script checks this too, but `count + 4` candidates are built first: a count below -4
        // would trap on the range below (Int.max on the addition), a huge one waste CPU and memory.
        guard (1...1000).contains(count) else { throw .badRequest("count must be a whole number from 1 to 1000") }
        var created: [VM] = []
        var wanted = count
        // A retry happens only when random IPs collide with existing ones more often than the
        // spare candidates cover: practically never, but handled.
        for attempt in 0..<5 {
            let arguments = [String(wanted), size ?? ""] + idempotencyArguments(idempotencyKey) + [attempt > 0 ? "more" : ""]
                + candidates(wanted + 4)
            let reply: RESPValue
            do {
                reply = try await run(.createVMs, caller, arguments)
            } catch .maxVMCountReached where attempt > 0 {
                break
            }
            let elements = try RecordDecoding.array(reply)
            guard let shortfall = elements.first?.int else { throw RecordDecoding.malformed(reply) }
            created += try RecordDecoding.vms(Array(elements.dropFirst()))
            wanted = shortfall
            if wanted == 0 { break }
        }
        return created
    }

    /// Checks out any available VM to the caller, within their quota, with a lease of
    /// `leaseSeconds` (nil: the default lease, if any), at most the caller's maximum. With an
    /// `idempotencyKey` the caller used before (within the window), answers that request's VM.
    public func checkout(
        _ caller: Caller, leaseSeconds: Int?, size: String? = nil, idempotencyKey: String? = nil
    ) async throws(ReservationError) -> VM {
        try RecordDecoding.vm(try await run(.checkout, caller, [String(defaultQuota)] + leaseArguments(leaseSeconds) + [size ?? ""]
                                            + idempotencyArguments(idempotencyKey)))
    }

    func idempotencyArguments(_ key: String?) -> [String] {
        [key ?? "", String(Self.milliseconds(idempotencyWindow))]
    }

    /// How a request that may wait began: answered at once (with a VM, or a reservation), or
    /// queued behind earlier waiters.
    public enum WaitStart<Value: Sendable & Equatable>: Sendable, Equatable {
        case answered(Value)
        case queued
    }

    /// Checks out any available VM, or queues the caller (ticket `ticket`, for at most `wait`)
    /// as a waiter whose VM, when one frees up, is handed to gateway `gateway`'s `WaitingRoom`.
    public func waitCheckout(
        _ caller: Caller, leaseSeconds: Int?, wait: Duration, gateway: String, ticket: String, size: String? = nil,
        idempotencyKey: String? = nil
    ) async throws(ReservationError) -> WaitStart<VM> {
        let reply = try await run(.waitCheckout, caller, [String(defaultQuota)] + leaseArguments(leaseSeconds)
                                  + [String(Self.milliseconds(wait)), gateway, ticket, size ?? ""] + idempotencyArguments(idempotencyKey))
        return try Self.waitStart(reply, answer: "vm", RecordDecoding.vm)
    }

    /// A reply `{answer, value}` or `{'queued', ticket}`.
    static func waitStart<Value>(
        _ reply: RESPValue, answer: String, _ decode: (RESPValue) throws(ReservationError) -> Value
    ) throws(ReservationError) -> WaitStart<Value> {
        let elements = try RecordDecoding.array(reply)
        switch elements.first?.string {
        case answer where elements.count == 2: return .answered(try decode(elements[1]))
        case "queued": return .queued
        default: throw RecordDecoding.malformed(reply)
        }
    }

    /// Idle cleanup and the warm pool (see maintain_pool.lua): deletes available VMs idle for
    /// `idleSeconds` (nil: none) beyond `minReady`, then creates VMs, within the cap, until
    /// `minReady` are available. Answers how many were deleted and created.
    public func maintainPool(idleSeconds: Int?, minReady: Int) async throws(ReservationError) -> (deleted: Int, created: Int) {
        let arguments = [idleSeconds.map(String.init) ?? "", String(minReady)] + candidates(min(minReady, 100) + 4)
        let reply = try await run(.maintainPool, arguments)
        guard let numbers = reply.array?.compactMap(\.int), numbers.count == 2 else { throw RecordDecoding.malformed(reply) }
        return (numbers[0], numbers[1])
    }

    /// `count` candidate id, ip pairs for new VMs: fresh UUIDs, and random public addresses, or ""
    /// when the provider gives addresses.
    private func candidates(_ count: Int) -> [String] {
        var arguments: [String] = []
        arguments.reserveCapacity(2 * count)
        for _ in 0..<count {
            arguments.append(UUID().uuidString.lowercased())
            arguments.append(providerAssignsAddresses ? "" : IPAddressGenerator.random().description)
        }
        return arguments
    }

    /// Takes the VM handed to `ticket`, with the lease the waiting request asked for.
    public func claim(_ caller: Caller, ticket: String, leaseSeconds: Int?, idempotencyKey: String? = nil) async throws(ReservationError) -> VM {
        try RecordDecoding.vm(try await run(.claim, caller, [ticket] + leaseArguments(leaseSeconds) + idempotencyArguments(idempotencyKey)))
    }

    /// What became of a waiter that stopped waiting.
    public enum LeaveResult: Sendable, Equatable {
        /// It was still waiting (or nothing is known of it).
        case left
        /// A VM (or a reservation) had been handed to it already: `claim` it.
        case handed(String)
        /// A VM (or a reservation) had been handed to it and went back to the pool.
        case returned(String)
    }

    /// Takes `ticket` (a waiting checkout or reservation) out of the queue; VMs set aside for it
    /// go back to the pool. A VM or reservation already handed to it is returned to the pool when
    /// `giveBack` (the client is gone), else left for `claim` or `claimReservation`.
    public func leaveQueue(
        _ caller: Caller, ticket: String, giveBack: Bool, idempotencyKey: String? = nil
    ) async throws(ReservationError) -> LeaveResult {
        let reply = try await run(.leaveQueue, caller, [ticket, giveBack ? "give back" : "keep"] + idempotencyArguments(idempotencyKey))
        let words = try RecordDecoding.array(reply).compactMap(\.string)
        switch (words.first, words.count) {
        case ("left", 1): return .left
        case ("handed", 2): return .handed(words[1])
        case ("returned", 2): return .returned(words[1])
        default: throw RecordDecoding.malformed(reply)
        }
    }

    /// Extends the lease of a VM the caller holds to `leaseSeconds` from now (nil: its current
    /// length, or else the default). Anyone but the holder gets `.vmNotFound` (admins `.forbidden`).
    public func renew(_ caller: Caller, id: String, leaseSeconds: Int?) async throws(ReservationError) -> VM {
        try RecordDecoding.vm(try await run(.renew, caller, [id] + leaseArguments(leaseSeconds)))
    }

    /// Returns up to `batch` VMs whose leases ran out to the pool (see `LeaseReaper`).
    public func reapExpiredLeases(batch: Int) async throws(ReservationError) -> ReapResult {
        let reply = try await run(.reapLeases, [String(batch)])
        guard let numbers = reply.array?.compactMap(\.int), numbers.count == 3 else { throw RecordDecoding.malformed(reply) }
        return ReapResult(released: numbers[0], nextExpiry: numbers[1] < 0 ? nil : numbers[1], now: numbers[2])
    }

    func leaseArguments(_ requested: Int?) -> [String] {
        [requested.map(String.init) ?? "", leases.defaultSeconds.map(String.init) ?? "", String(leases.maxSeconds)]
    }

    /// Returns a VM, named by id, ip or both, to the pool.
    public func checkin(_ caller: Caller, id: String?, ip: String?) async throws(ReservationError) -> VM {
        try RecordDecoding.vm(try await run(.checkin, caller, [id ?? "", ip ?? ""]))
    }

    /// Deletes an available or failed VM; `ip`, when given, must be that VM's.
    public func deleteVM(_ caller: Caller, id: String, ip: String?) async throws(ReservationError) -> VM {
        try RecordDecoding.vm(try await run(.deleteVM, caller, [id, ip ?? ""]))
    }

    /// Provisions an `error` VM again (admins).
    public func retry(_ caller: Caller, id: String) async throws(ReservationError) -> VM {
        try RecordDecoding.vm(try await run(.retryVM, caller, [id]))
    }

    // MARK: Provisioning jobs (see ProvisioningWorker)

    /// Claims the first due job for `claim`, for worker `worker`.
    public func takeJob(worker: String, claim: Duration) async throws(ReservationError) -> JobTake {
        let reply = try await run(.takeJob, [String(Self.milliseconds(claim)), worker])
        let elements = try RecordDecoding.array(reply)
        switch (elements.first?.string, elements.count) {
        case ("job", 5):
            guard let kind = elements[2].string.flatMap(ProvisioningJob.Kind.init(rawValue:)), let claim = elements[3].string else {
                throw RecordDecoding.malformed(reply)
            }
            return .job(ProvisioningJob(vm: try RecordDecoding.vm(elements[4]), kind: kind, claim: claim))
        case ("none", 3):
            guard let next = elements[1].int, let now = elements[2].int else { throw RecordDecoding.malformed(reply) }
            return .none(nextDue: next < 0 ? nil : next, now: now)
        default:
            throw RecordDecoding.malformed(reply)
        }
    }

    /// Pushes the end of the claim on `job` to `claim` from now (zero: gives the job up); false
    /// when the claim is no longer this worker's.
    public func extendJob(_ job: ProvisioningJob, claim: Duration) async throws(ReservationError) -> Bool {
        let reply = try await run(.extendJob, [job.vm.id, job.claim, String(Self.milliseconds(claim))])
        guard let extended = reply.int else { throw RecordDecoding.malformed(reply) }
        return extended == 1
    }

    /// Records the provider's outcome of `job`. Answers the VM as it is now (nil once removed),
    /// or throws `.invalidState` when another worker's claim had replaced this one's.
    @discardableResult
    public func finishJob(
        _ job: ProvisioningJob, outcome: Result<ProvisionedMachine, ProviderError>
    ) async throws(ReservationError) -> VM? {
        let arguments = switch outcome {
        case .success(let machine): ["done", machine.ip ?? "", machine.machineID ?? "", ""]
        case .failure(let error): ["failed", "", "", error.message]
        }
        let reply = try await run(.finishJob, [job.vm.id, job.claim] + arguments + (job.kind == .replace ? candidates(5) : []))
        let elements = try RecordDecoding.array(reply)
        switch (elements.first?.string, elements.count) {
        case ("stale", 1): throw .invalidState("another worker took this job over")
        case ("done", 3): return elements[2].array?.isEmpty == true ? nil : try RecordDecoding.vm(elements[2])
        default: throw RecordDecoding.malformed(reply)
        }
    }

    static func milliseconds(_ duration: Duration) -> Int {
        Int(duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000)
    }

    /// A VM the caller holds, or any VM for an admin.
    public func vm(_ caller: Caller, id: String) async throws(ReservationError) -> VM {
        try RecordDecoding.vm(try await run(.getVM, caller, [id]))
    }

    /// The VMs the caller holds, by id.
    public func myVMs(_ caller: Caller) async throws(ReservationError) -> [VM] {
        try RecordDecoding.vms(try RecordDecoding.array(try await run(.listMine, caller, [])))
    }

    /// One page of all VMs in id order, optionally only those in one state. A page may hold
    /// fewer than `limit` items (even none) while `nextCursor` is set: keep following it.
    public func listVMs(_ caller: Caller, status: VMStatus?, cursor: String?, limit: Int) async throws(ReservationError) -> VMPage {
        let reply = try await run(.listVMs, caller, [status?.rawValue ?? "", cursor ?? "", String(limit)])
        let elements = try RecordDecoding.array(reply)
        guard let next = elements.first?.string else { throw RecordDecoding.malformed(reply) }
        return VMPage(items: try RecordDecoding.vms(Array(elements.dropFirst())), nextCursor: next.isEmpty ? nil : next)
    }

    // MARK: History

    /// One page of history, oldest first, from `since` (Unix ms) or after `cursor`, optionally
    /// only about one VM or one user. A page may hold fewer than `limit` events (even none)
    /// while `nextCursor` is set: keep following it.
    public func events(
        _ caller: Caller, scope: EventScope, vmID: String? = nil, user: String? = nil, since: Int? = nil,
        cursor: String? = nil, limit: Int
    ) async throws(ReservationError) -> EventPage {
        let reply = try await run(.listEvents, caller, [
            scope.rawValue, vmID ?? "", user ?? "", since.map(String.init) ?? "", cursor ?? "", String(limit),
        ])
        let elements = try RecordDecoding.array(reply)
        guard let next = elements.first?.string else { throw RecordDecoding.malformed(reply) }
        var events: [Event] = []
        for element in elements.dropFirst() { events.append(try RecordDecoding.event(element)) }
        return EventPage(items: events, nextCursor: next.isEmpty ? nil : next)
    }

    // MARK: Users

    /// The role of the caller; `.unauthorized` for a token no user has. Trusted admins need no
    /// round trip.
    public func role(of caller: Caller) async throws(ReservationError) -> Role {
        if case .trustedAdmin = caller { return .admin }
        return try await identity(of: caller).role
    }

    /// The caller's name and role; `.unauthorized` for a token no user has.
    public func identity(of caller: Caller) async throws(ReservationError) -> (name: String, role: Role) {
        let reply = try await run(.whoami, caller, [])
        guard let fields = reply.array, fields.count == 2, let name = fields[0].string,
              let role = fields[1].string.flatMap(Role.init(rawValue:)) else {
            throw RecordDecoding.malformed(reply)
        }
        return (name, role)
    }

    /// Creates a user with a new token, returned here once and stored only as its SHA-256.
    public func createUser(_ caller: Caller, name: String, role: Role, quota: Int?) async throws(ReservationError) -> IssuedToken {
        let token = Token.generate()
        let reply = try await run(.createUser, caller, [name, role.rawValue, String(quota ?? defaultQuota), TokenDigest(of: token).hex])
        return IssuedToken(user: try RecordDecoding.user(reply), token: token)
    }

    public func user(_ caller: Caller, name: String) async throws(ReservationError) -> UserDetail {
        let reply = try await run(.getUser, caller, [name])
        let elements = try RecordDecoding.array(reply)
        guard elements.count == 2, let vms = elements[1].array else { throw RecordDecoding.malformed(reply) }
        return UserDetail(user: try RecordDecoding.user(elements[0]), vms: try RecordDecoding.vms(vms))
    }

    public func users(_ caller: Caller) async throws(ReservationError) -> [User] {
        var users: [User] = []
        for reply in try RecordDecoding.array(try await run(.listUsers, caller, [])) {
            users.append(try RecordDecoding.user(reply))
        }
        return users
    }

    /// Changes quota, role and/or the user's own maximum lease; a change applies from the
    /// user's next request (leases already given keep their end).
    public func updateUser(
        _ caller: Caller, name: String, quota: Int?, role: Role?, maxLease: MaxLeaseChange? = nil,
        sizeQuotas: SizeQuotasChange? = nil
    ) async throws(ReservationError) -> User {
        let maxLeaseArgument = switch maxLease {
        case nil: ""
        case .remove: "none"
        case .set(let seconds): String(seconds)
        }
        let sizeQuotasArgument = switch sizeQuotas {
        case nil: ""
        case .remove: "none"
        case .set(let quotas): quotas.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",")
        }
        return try RecordDecoding.user(try await run(.updateUser, caller, [
            name, quota.map(String.init) ?? "", role?.rawValue ?? "", maxLeaseArgument, sizeQuotasArgument,
        ]))
    }

    /// Removes a user who holds no VMs, and their token.
    public func deleteUser(_ caller: Caller, name: String) async throws(ReservationError) -> User {
        try RecordDecoding.user(try await run(.deleteUser, caller, [name]))
    }

    /// Gives the user a new token; the old one stops working at once.
    public func rotateToken(_ caller: Caller, name: String) async throws(ReservationError) -> IssuedToken {
        let token = Token.generate()
        let reply = try await run(.rotateToken, caller, [name, TokenDigest(of: token).hex])
        return IssuedToken(user: try RecordDecoding.user(reply), token: token)
    }

    // MARK: Plumbing

    /// Redis answers and holds the scripts (`Script.library`).
    public func isReady() async -> Bool {
        await redis.libraryLoaded()
    }

    func run(_ script: Script, _ caller: Caller, _ arguments: [String]) async throws(ReservationError) -> RESPValue {
        try await run(script, [caller.scriptArgument] + arguments)
    }

    private func run(_ script: Script, _ arguments: [String]) async throws(ReservationError) -> RESPValue {
        do {
            return try await redis.call(function: script.functionName, keys: keys.declared, arguments: arguments,
                                          acknowledgements: script.acknowledgesChange ? replicaAcknowledgements : nil)
        } catch {
            throw ReservationError(error)
        }
    }

    private static func stats(_ reply: RESPValue) throws(ReservationError) -> PoolStats {
        let statuses = VMStatus.allCases.count
        guard let values = reply.array, values.count == 4 + statuses else { throw RecordDecoding.malformed(reply) }
        let numbers = values.prefix(2 + statuses).compactMap(\.int)
        guard numbers.count == 2 + statuses, let block = values[2 + statuses].string, let free = values[3 + statuses].int else {
            throw RecordDecoding.malformed(reply)
        }
        var counts: [VMStatus: Int] = [:]
        for (index, status) in VMStatus.allCases.enumerated() {
            counts[status] = numbers[2 + index]
        }
        return PoolStats(maxVMCount: numbers[0], total: numbers[1], counts: counts,
                         ipPool: block.isEmpty ? nil : block, ipPoolFree: block.isEmpty ? nil : free)
    }
}
