import Foundation
import RedisClient
import Reservations
import Testing
import TestSupport

/// The lease settings checkout and renew get from a gateway (see `leases.arg` in
/// lua/lib/leases.lua): no default lease, a maximum of 7 days.
let gatewayLeases = ["", "604800"]

/// stats.of_pool of lua/lib/stats.lua: the cap, the total, the counts by status, then the IP pool
/// ("" for none) and its free addresses (-1 for none).
func poolStatsReply(_ numbers: [Int], setAside: Int = 0, ipPool: String = "", free: Int = -1) -> RESPValue {
    .array((numbers + [setAside]).map { .integer(Int64($0)) } + [.bulkString(Array(ipPool.utf8)), .integer(Int64(free))])
}

/// A pool name no other test uses (braces are not allowed: the name is the keys' hash tag).
func uniquePoolName(_ label: String = "test") -> String {
    "\(label)-\(UUID().uuidString.prefix(8).lowercased())"
}

/// The SHA-256 hex of a fresh token, as the scripts store it.
func newTokenHash() -> String {
    TokenDigest(of: Token.generate()).hex
}

/// A reply as a dictionary: a VM (`[vm_id, field, value, ...]`, see `VMRecord`) as its fields and
/// `vm_id`, any other flat field/value array as it is.
func fields(_ reply: RESPValue) -> [String: String] {
    if let vm = VMRecord(reply) { return vm.fields }
    let flat = reply.array ?? []
    var result: [String: String] = [:]
    for index in stride(from: 0, to: flat.count - 1, by: 2) {
        result[flat[index].string ?? "?"] = flat[index + 1].string ?? "\(flat[index + 1])"
    }
    return result
}

/// One pool on a redis-server of the test's own, driven with raw script calls (FCALL) and
/// inspected with plain commands.
struct ScriptPool: Sendable {
    let client: RedisClient
    let keys: PoolKeys

    /// A principal the gateway vouches for: an admin without a user record.
    static let admin = "p:admin"

    /// The full name of one of the pool's keys, e.g. `key("status:available")`.
    func key(_ suffix: String) -> String { "\(keys.prefix):\(suffix)" }

    func run(_ script: Script, _ arguments: [String]) async throws -> RESPValue {
        try await client.call(function: script.functionName, keys: keys.declared, arguments: arguments)
    }

    @discardableResult
    func command(_ name: String, _ arguments: String...) async throws -> RESPValue {
        try await client.send(RedisCommand(name, arguments))
    }

    func hash(_ suffix: String) async throws -> [String: String] {
        fields(try await command("HGETALL", key(suffix)))
    }

    func members(_ suffix: String) async throws -> Set<String> {
        Set((try await command("SMEMBERS", key(suffix))).array?.compactMap(\.string) ?? [])
    }

    func zmembers(_ suffix: String) async throws -> [String] {
        (try await command("ZRANGE", key(suffix), "0", "-1")).array?.compactMap(\.string) ?? []
    }

    func exists(_ suffix: String) async throws -> Bool {
        try await command("EXISTS", key(suffix)).int == 1
    }

    // The pool as stored (lua/README.md, "Keys"): a hash per VM and per user, sets of available
    // ids per size, counts in the pool hash.

    /// VM `id`'s hash (`HGETALL P:vm:<id>`) and `vm_id`; empty when there is no such VM.
    func vm(_ id: String) async throws -> [String: String] {
        let stored = try await hash("vm:" + id)
        return stored.isEmpty ? [:] : stored.merging(["vm_id": id]) { first, _ in first }
    }

    /// Every VM's fields by id (the ids of the zset `vms`).
    func allVMs() async throws -> [String: [String: String]] {
        var vms: [String: [String: String]] = [:]
        for id in try await zmembers("vms") { vms[id] = try await vm(id) }
        return vms
    }

    /// The ids of every VM, sorted.
    func vmIDs() async throws -> [String] {
        try await zmembers("vms")
    }

    /// The ids of the VMs in `status` (and of `size`, when given).
    func vmIDs(status: String, size: String? = nil) async throws -> Set<String> {
        Set(try await allVMs().filter { $0.value["status"] == status && (size == nil || $0.value["size"] == size) }.keys)
    }

    /// The pool's count of VMs in `status` (its field `count:<status>`; checked-out VMs are
    /// counted by none).
    func count(_ status: String) async throws -> Int {
        Int(try await command("HGET", key("pool"), "count:" + status).string ?? "0") ?? 0
    }

    /// Token SHA-256 hex → user name (the hash `tokens`).
    func tokenIndex() async throws -> [String: String] {
        try await hash("tokens")
    }

    /// Every user's name, sorted (the set `users`).
    func userNames() async throws -> [String] {
        try await members("users").sorted()
    }

    /// User `name`'s hash (`HGETALL P:user:<name>`), nil when there is no such user.
    func storedUser(_ name: String) async throws -> [String: String]? {
        let stored = try await hash("user:" + name)
        return stored.isEmpty ? nil : stored
    }

    /// Every address in use, with its VM's id (the hash `ips`).
    func ipIndex() async throws -> [String: String] {
        try await hash("ips")
    }

    /// Rewrites fields of VM `id` (nil: unset), as a script would, keeping the pool's counts by
    /// status and the available sets right; `available_since` is its score in the zset `idle`.
    /// To put a VM in a state no script makes on demand.
    func setVM(_ id: String, _ changes: [String: String?]) async throws {
        let vm = try await vm(id)
        let before = vm["status"], size = vm["size"] ?? ""
        for (name, value) in changes {
            if name == "available_since" {
                try await command("ZADD", key("idle"), value ?? "0", id)
            } else if let value {
                try await command("HSET", key("vm:" + id), name, value)
            } else {
                try await command("HDEL", key("vm:" + id), name)
            }
        }
        if case let after?? = changes["status"], after != before {
            if let before, before != "checked-out" { try await command("HINCRBY", key("pool"), "count:" + before, "-1") }
            if after != "checked-out" { try await command("HINCRBY", key("pool"), "count:" + after, "1") }
            if before == "available" {
                try await command("SREM", key("available:" + size), id)
                try await command("ZREM", key("idle"), id)
            }
            if after == "available" {
                try await command("SADD", key("available:" + size), id)
                try await command("ZADD", key("idle"), String(try await now()), id)
            }
        }
    }

    /// Redis' clock, in Unix milliseconds (what the scripts use).
    func now() async throws -> Int {
        let time = try await command("TIME").array?.compactMap(\.string).compactMap { Int($0) } ?? []
        return time.count == 2 ? time[0] * 1000 + time[1] / 1000 : 0
    }

    /// The pool's history, oldest first, each event as its fields plus `id`.
    func events() async throws -> [[String: String]] {
        (try await command("XRANGE", key("events"), "-", "+")).array?.map { entry in
            var event = fields(entry.array?[1] ?? .array([]))
            event["id"] = entry.array?[0].string
            return event
        } ?? []
    }

    /// Every key of the pool with its whole content, in a canonical text form.
    func dump() async throws -> [String: String] {
        var result: [String: String] = [:]
        let names = (try await command("KEYS", keys.prefix + ":*")).array?.compactMap(\.string) ?? []
        for name in names {
            let type = try await command("TYPE", name).string ?? "?"
            let content: String
            switch type {
            case "hash":
                content = fields(try await command("HGETALL", name)).sorted { $0.key < $1.key }
                    .map { "\($0.key)=\($0.value)" }.joined(separator: ",")
            case "set":
                content = ((try await command("SMEMBERS", name)).array?.compactMap(\.string) ?? []).sorted()
                    .joined(separator: ",")
            case "zset":
                content = ((try await command("ZRANGE", name, "0", "-1", "WITHSCORES")).array?.compactMap(\.string) ?? [])
                    .joined(separator: ",")
            case "string":
                content = try await command("GET", name).string ?? ""
            case "stream":
                content = "\(try await command("XRANGE", name, "-", "+"))"
            default:
                content = "?"
            }
            result[name] = "\(type): \(content)"
        }
        return result
    }

    /// Runs a script that must fail with the error reply `code` (and exactly `message`, when
    /// given), and, unless `changesState`, leave every key of the pool as it was.
    @discardableResult
    func expectFailure(
        _ script: Script, _ arguments: [String], code: String, message: String? = nil,
        changesState: Bool = false,
        sourceLocation: SourceLocation = #_sourceLocation
    ) async throws -> RedisError? {
        let before = try await dump()
        let error: RedisError
        do {
            let reply = try await run(script, arguments)
            Issue.record("\(script.rawValue) \(arguments) answered \(reply), expected \(code)", sourceLocation: sourceLocation)
            return nil
        } catch let redisError as RedisError {
            error = redisError
        }
        #expect(error.kind == .server, "\(error)", sourceLocation: sourceLocation)
        #expect(error.prefix == code, "\(script.rawValue) \(arguments): \(error)", sourceLocation: sourceLocation)
        if let message {
            #expect(error.message == message, sourceLocation: sourceLocation)
        }
        if !changesState {
            let after = try await dump()
            #expect(after == before, "\(script.rawValue) \(arguments) failed with \(error) but changed the pool",
                    sourceLocation: sourceLocation)
        }
        return error
    }

    // MARK: Setting up a pool

    /// Seeds the cap; with `idleCleanup`, as a gateway that runs it does (the pool keeps its idle index).
    func seed(cap: Int, idleCleanup: Bool = false) async throws {
        _ = try await run(.initPool, [String(cap), "", "", "", "", idleCleanup ? "idle" : ""])
    }

    /// Ids `vm-00001`… (so that lexicographic order is numeric order) and IPs to go with them.
    static func candidate(_ number: Int) -> (id: String, ip: String) {
        let id = "vm-" + String(repeating: "0", count: max(0, 5 - String(number).count)) + String(number)
        return (id, "11.\(number >> 16 & 0xFF).\(number >> 8 & 0xFF).\(number & 0xFF)")
    }

    /// Creates VMs numbered `numbers` (raising the cap if needed) as the trusted admin.
    @discardableResult
    func addVMs(_ numbers: ClosedRange<Int>) async throws -> [(id: String, ip: String)] {
        let candidates = numbers.map(Self.candidate)
        let cap = try await command("HGET", key("pool"), "max_vm_count").int ?? 0
        let total = Int(try await command("HGET", key("pool"), "vm_count").string ?? "0") ?? 0
        if cap < total + candidates.count {
            _ = try await run(.setPool, [Self.admin, String(total + candidates.count)])
        }
        for start in stride(from: 0, to: candidates.count, by: 1000) {
            let batch = candidates[start..<min(start + 1000, candidates.count)]
            let reply = try await run(.createVMs, [Self.admin, String(batch.count), "", "", "", ""] + batch.flatMap { [$0.id, $0.ip] })
            #expect(reply.array?.first == .integer(0))
            #expect(reply.array?.count == batch.count + 1)
        }
        return candidates
    }

    /// Creates a user and answers the identity (`t:<token hash>`) to call scripts with.
    func addUser(_ name: String, role: String = "user", quota: Int = 1) async throws -> String {
        let hash = newTokenHash()
        _ = try await run(.createUser, [Self.admin, name, role, String(quota), hash])
        return "t:" + hash
    }

    /// Checks out a VM for `identity` and answers its id.
    func checkout(_ identity: String, defaultQuota: Int = 1, lease: String = "") async throws -> String {
        fields(try await run(.checkout, [identity, String(defaultQuota), lease] + gatewayLeases))["vm_id"] ?? ""
    }
}

/// A client of the shared redis-server that loaded every script, and a pool of a unique name.
func withScriptPool(_ body: @Sendable (ScriptPool) async throws -> Void) async throws {
    try await withRedisClient(.test(try await SharedRedis.url()), library: Script.library) { client in
        try await body(ScriptPool(client: client, keys: PoolKeys(pool: uniquePoolName("scripts"))))
    }
}

/// A `ReservationStore` on the shared redis-server, on a pool of a unique name with cap `cap`.
func withStore(
    cap: Int = 100, defaultQuota: Int = 2,
    _ body: @Sendable (ReservationStore, ScriptPool) async throws -> Void
) async throws {
    try await withRedisClient(.test(try await SharedRedis.url()), library: Script.library) { client in
        let keys = PoolKeys(pool: uniquePoolName("store"))
        let store = ReservationStore(redis: client, keys: keys, defaultQuota: defaultQuota)
        _ = try await store.initializePool(maxVMCount: cap)
        try await body(store, ScriptPool(client: client, keys: keys))
    }
}

extension ReservationError {
    /// The script error code this error stands for, for comparisons that ignore the message.
    var code: String {
        switch self {
        case .unauthorized: "UNAUTHORIZED"
        case .forbidden: "FORBIDDEN"
        case .quotaExceeded: "QUOTA_EXCEEDED"
        case .noVMAvailable: "NO_VM_AVAILABLE"
        case .maxVMCountReached: "MAX_VM_COUNT"
        case .ipPoolExhausted: "IP_POOL_EXHAUSTED"
        case .vmNotFound: "VM_NOT_FOUND"
        case .reservationNotFound: "RESERVATION_NOT_FOUND"
        case .userNotFound: "USER_NOT_FOUND"
        case .invalidState: "INVALID_STATE"
        case .badRequest: "BAD_REQUEST"
        case .idempotencyKeyReused: "IDEMPOTENCY_MISMATCH"
        case .idempotencyKeyInUse: "IDEMPOTENCY_IN_PROGRESS"
        case .storeUnavailable: "STORE_UNAVAILABLE"
        case .internalError: "INTERNAL_ERROR"
        }
    }
}

// MARK: The suites of Scripts/

// Every Lua script on its own, called with FCALL and raw ARGV against a real redis-server,
// with the pool's keys inspected by plain commands afterwards: Scripts/<Name>ScriptTests.swift
// for lua/<name>.lua, Scripts/EveryScriptTests.swift for what holds for every script.

let maxVMCountMessage = "Error: Maximum VM Count reached"
let vmNotFoundMessage = "Could not find a vm with given details"
let noVMAvailableMessage = "No VMs currently available, please try after some time"

/// A suite of Scripts/: it conforms to call the helpers below, which more than one suite uses, as
/// its own members (as they were in the suites they came from). Members, not global functions, so
/// that `admin` here does not meet the private `admin` (a `Caller`) of ConcurrencyTests.swift and
/// ReservationStoreTests.swift.
protocol ScriptSuite {}

extension ScriptSuite {
    /// A principal the gateway vouches for (`ScriptPool.admin`).
    var admin: String { ScriptPool.admin }

    /// The Idempotency-Key window the tests ask for, in ms.
    static var window: String { "60000" }

    /// checkout.lua with Idempotency-Key `key`, kept for `window` ms (nil: `Self.window`).
    func checkout(_ pool: ScriptPool, _ identity: String, key: String, size: String = "", lease: String = "",
                  window: String? = nil) async throws -> [String: String] {
        fields(try await pool.run(.checkout, [identity, "5", lease, "", "604800", size, key, window ?? Self.window]))
    }

    /// A checkout's arguments after the identity: default quota 5, then the lease settings.
    func checkout(_ pool: ScriptPool, _ identity: String, lease: String = "", default: String = "", max: String = "604800")
        async throws -> [String: String]
    {
        fields(try await pool.run(.checkout, [identity, "5", lease, `default`, max]))
    }

    /// Creates `count` VMs with candidate ids `c-<start>...` (their proposed IPs are ignored
    /// when a block is set) and answers the IPs they got, in order.
    func create(_ pool: ScriptPool, _ count: Int, start: Int = 0) async throws -> [String] {
        var arguments = [ScriptPool.admin, String(count), "", "", "", ""]
        for index in start..<(start + count + 4) { arguments += ["c-\(index)", "11.9.\(index / 256).\(index % 256)"] }
        let reply = try await pool.run(.createVMs, arguments).array ?? []
        return reply.dropFirst().compactMap { fields($0)["ip"] }
    }

    /// maintain_pool.lua with `candidates` candidates for the warm pool: {deleted, created}.
    func maintain(_ pool: ScriptPool, idle: String, minReady: Int, candidates: Int = 10) async throws -> [Int] {
        var arguments = [idle, String(minReady)]
        for index in 0..<candidates { arguments += ["warm-\(index)-\(Int.random(in: 0..<1_000_000))", "11.7.\(index).\(Int.random(in: 1..<250))"] }
        return try await pool.run(.maintainPool, arguments).array?.compactMap(\.int) ?? []
    }

    /// A pool whose VMs need jobs, returned VMs handled by `onReturn`.
    func seedJobs(_ pool: ScriptPool, cap: Int = 10, onReturn: String = "reuse") async throws {
        _ = try await pool.run(.initPool, [String(cap), "", "small=1:2048,large=4:8192", "jobs", onReturn, "idle"])
    }

    /// take_job.lua as worker `worker` with a claim of `claimMS`: {job kind, vm id, claim} or nil.
    func take(_ pool: ScriptPool, worker: String = "w1", claimMS: Int = 30_000) async throws
        -> (kind: String, id: String, claim: String, record: [String: String])?
    {
        let reply = try await pool.run(.takeJob, [String(claimMS), worker]).array ?? []
        guard reply.first?.string == "job", reply.count == 5 else {
            #expect(reply.first?.string == "none")
            return nil
        }
        return (reply[2].string ?? "", reply[1].string ?? "", reply[3].string ?? "", fields(reply[4]))
    }

    /// finish_job.lua: the outcome of the job on VM `id` under `claim`.
    func finish(
        _ pool: ScriptPool, _ id: String, claim: String, _ outcome: String, ip: String = "", machine: String = "",
        message: String = "", candidates: [String] = []
    ) async throws -> [RESPValue] {
        try await pool.run(.finishJob, [id, claim, outcome, ip, machine, message] + candidates).array ?? []
    }

    /// A pool with the default catalog, and VMs of each size: 2 small, 2 large.
    func sizedPool(_ pool: ScriptPool) async throws {
        _ = try await pool.run(.initPool, ["10", "", "small=1:2048,medium=2:4096,large=4:8192"])
        _ = try await pool.run(.createVMs, [ScriptPool.admin, "2", "", "", "", "", "s-1", "11.1.0.1", "s-2", "11.1.0.2"])
        _ = try await pool.run(.createVMs, [ScriptPool.admin, "2", "large", "", "", "", "l-1", "11.1.1.1", "l-2", "11.1.1.2"])
    }

    /// wait_checkout.lua for `identity`, waiting `wait` ms (an hour unless given: a slow machine
    /// must not end a wait no test means to see end) on gateway `gw`; answers the reply's first word.
    @discardableResult
    func wait(_ pool: ScriptPool, _ identity: String, ticket: String, wait: Int = 3_600_000, gateway: String = "gw1")
        async throws -> [RESPValue]
    {
        try await pool.run(.waitCheckout, [identity, "5", "", "", "604800", String(wait), gateway, ticket]).array ?? []
    }

    /// The handoffs pushed for `gateway`'s waiting requests (`<ticket> <vm id>` or `<ticket> QUOTA`).
    func handoffs(_ pool: ScriptPool, _ gateway: String = "gw1") async throws -> [String] {
        (try await pool.command("LRANGE", pool.key("handoff:" + gateway), "0", "-1")).array?.compactMap(\.string) ?? []
    }
}
