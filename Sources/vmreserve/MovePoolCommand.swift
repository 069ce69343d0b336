import ArgumentParser
import Foundation
import RedisClient
import Reservations

/// `vmreserve move-pool`: moves a pool's Redis Cluster slot to another master while its gateways
/// keep serving, as `redis-cli --cluster reshard` would, found by the pool's name: CLUSTER
/// SETSLOT … IMPORTING/MIGRATING, MIGRATE in batches, SETSLOT … NODE on every master. Meanwhile
/// Redis answers the pool's scripts TRYAGAIN (see `errors.run` in lua/lib/errors.lua) and gateways retry
/// them until the slot has moved, for up to their command timeout. It refuses a slot that also
/// holds another pool's keys.
struct MovePoolCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "move-pool",
        abstract: "Move a pool's Redis Cluster slot to another master while its gateways serve it."
    )

    @Option(name: .customLong("redis-cluster"), help: "Some nodes of the cluster, host:port,...")
    var redisCluster: String
    @Option(name: .customLong("redis-url"), help: "Gives the password, if the cluster needs one.")
    var redisURL: String = "redis://127.0.0.1:6379/0"
    @Option(help: "The pool to move.")
    var pool: String = "default"
    @Option(help: "The master to move it to, host:port.")
    var to: String
    @Option(help: "Keys per MIGRATE.")
    var batch: Int = 100

    func run() async throws {
        let base = try RedisURL(redisURL)
        let seeds = try RedisURL.addresses(redisCluster, defaultPort: 6379, of: "cluster node")
        guard let target = try RedisURL.addresses(to, defaultPort: 6379, of: "target").first else { throw ValidationError("--to is empty") }
        let keys = PoolKeys(pool: pool)
        let slot = ClusterSlot.of(keys.prefix)
        let started = ContinuousClock.now
        let masters = try await Self.masters(seeds: seeds, base: base)
        guard let source = masters.first(where: { $0.slots.contains { $0.contains(slot) } }) else { throw ValidationError("no master holds slot \(slot)") }
        // the target says who it is, so that any name of it will do (localhost, an address, a host name)
        let targetURL = base.clusterNode(host: target.host, port: target.port)
        let targetID = try? await Self.withClient(targetURL) { try await $0.send(RedisCommand("CLUSTER", ["MYID"])) }.string
        guard let destination = masters.first(where: { $0.id == targetID }) else {
            throw ValidationError("\(to) is not a master of this cluster")
        }
        guard source.id != destination.id else {
            print("pool \(pool) (slot \(slot)) is on \(to) already")
            return
        }
        let count = try await Self.send(source, base, ["CLUSTER", "COUNTKEYSINSLOT", String(slot)]).int ?? 0
        let inSlot = try await Self.send(source, base, ["CLUSTER", "GETKEYSINSLOT", String(slot), String(max(count, 1))])
        let names: [String] = inSlot.array?.compactMap { $0.string } ?? []
        if let stranger = names.first(where: { !$0.hasPrefix(keys.prefix + ":") }) {
            throw ValidationError("slot \(slot) also holds \(stranger), which is not pool \(pool)'s: move its pool with it by hand")
        }
        var moved = 0
        do {
            _ = try await Self.send(destination, base, ["CLUSTER", "SETSLOT", String(slot), "IMPORTING", source.id])
            _ = try await Self.send(source, base, ["CLUSTER", "SETSLOT", String(slot), "MIGRATING", destination.id])
            while true {
                let batch = try await Self.send(source, base, ["CLUSTER", "GETKEYSINSLOT", String(slot), String(max(1, batch))]).array?.compactMap(\.string) ?? []
                if batch.isEmpty { break }
                var password: [String] = []
                if let secret = base.password { password = base.username.map { ["AUTH2", $0, secret] } ?? ["AUTH", secret] }
                // REPLACE: a key a failed earlier run copied already (no script writes the pool meanwhile)
                _ = try await Self.send(source, base, ["MIGRATE", destination.host, String(destination.port), "", "0", "10000", "REPLACE"]
                                        + password + ["KEYS"] + batch)
                moved += batch.count
            }
            for master in [destination, source] + masters.filter({ $0.id != source.id && $0.id != destination.id }) {
                _ = try await Self.send(master, base, ["CLUSTER", "SETSLOT", String(slot), "NODE", destination.id])
            }
        } catch {
            // The pool does not serve while its slot is half moved: undo a move that moved
            // nothing yet; otherwise the same command, run again, finishes it.
            if moved == 0 {
                _ = try? await Self.send(source, base, ["CLUSTER", "SETSLOT", String(slot), "STABLE"])
                _ = try? await Self.send(destination, base, ["CLUSTER", "SETSLOT", String(slot), "STABLE"])
                throw ValidationError("the move failed before any key moved, and was undone: \(error)")
            }
            throw ValidationError("the move failed after \(moved) keys (the pool does not serve meanwhile): run the same command again to finish it: \(error)")
        }
        let elapsed = ContinuousClock.now - started
        print("moved pool \(pool) (slot \(slot), \(moved) keys) from \(source.host):\(source.port) to \(destination.host):\(destination.port) in \(elapsed)")
    }

    private struct Master {
        let id: String
        let host: String
        let port: Int
        let slots: [ClosedRange<Int>]
    }

    /// The masters and their slots, from `CLUSTER SHARDS` of the first node that answers.
    private static func masters(seeds: [RedisURL], base: RedisURL) async throws -> [Master] {
        for seed in seeds {
            let url = base.clusterNode(host: seed.host, port: seed.port)
            guard let reply = try? await withClient(url, { try await $0.send(RedisCommand("CLUSTER", ["SHARDS"])) }),
                  let shards = reply.array
            else { continue }
            var masters: [Master] = []
            for shard in shards {
                let fields = Self.map(shard)
                let bounds = fields["slots"]?.array?.compactMap(\.int) ?? []
                let slots = stride(from: 0, to: bounds.count - 1, by: 2).map { bounds[$0]...bounds[$0 + 1] }
                for node in fields["nodes"]?.array ?? [] {
                    let node = Self.map(node)
                    guard node["role"]?.string == "master", let id = node["id"]?.string, let port = node["port"]?.int else { continue }
                    let host = node["ip"]?.string ?? seed.host
                    masters.append(Master(id: id, host: host, port: port, slots: slots))
                }
            }
            return masters
        }
        throw ValidationError("no node of --redis-cluster answered CLUSTER SHARDS")
    }

    private static func map(_ reply: RESPValue) -> [String: RESPValue] {
        let flat = reply.array ?? []
        var fields: [String: RESPValue] = [:]
        for index in stride(from: 0, to: flat.count - 1, by: 2) {
            if let name = flat[index].string { fields[name] = flat[index + 1] }
        }
        return fields
    }

    private static func send(_ master: Master, _ base: RedisURL, _ command: [String]) async throws -> RESPValue {
        let url = base.clusterNode(host: master.host, port: master.port)
        return try await withClient(url) { try await $0.send(RedisCommand(command[0], Array(command.dropFirst()))) }
    }

    /// A one-connection client to one node for the length of `body`.
    private static func withClient<T: Sendable>(_ url: RedisURL, _ body: @Sendable (RedisClient) async throws -> T) async throws -> T {
        let client = RedisClient(configuration: .init(url: url, connectionCount: 1, commandTimeout: .seconds(30), connectTimeout: .seconds(5)))
        return try await withThrowingTaskGroup { group in
            group.addTask {
                try await client.run()
                return nil as T?
            }
            defer { group.cancelAll() }
            let deadline = ContinuousClock.now + .seconds(10)
            while !client.isConnected {
                guard ContinuousClock.now < deadline else { throw RedisError.unavailable }
                try await Task.sleep(for: .milliseconds(10))
            }
            return try await body(client)
        }
    }
}
