import Foundation
import RedisClient
import RedisServerProcess
import Testing
import TestSupport

/// The client against a real three-master Redis Cluster: commands reach the master of their
/// key's slot, the function library is on every master, and a slot that moves is followed
/// (ASK while it migrates, MOVED once it has).
@Suite(.timeLimit(.minutes(10))) struct ClusterTests {
    private static let library = RedisFunctionLibrary(name: "clustertest", code: """
        redis.register_function('incr_by', function(keys, args) return redis.call('INCRBY', keys[1], args[1]) end)
        """)

    private func clusterClient(_ nodes: [RedisServerProcess], _ body: @Sendable (RedisClient) async throws -> Void) async throws {
        var configuration = RedisClient.Configuration.test(nodes[0].url)
        configuration.cluster = [RedisURL(host: "127.0.0.1", port: nodes[0].port)]  // one node is enough to find the rest
        try await withRedisClient(configuration, library: Self.library) { client in
            try await waitUntil("the client knows every master") { await client.libraryLoaded() }
            try await body(client)
        }
    }

    @Test func commandsReachTheMasterOfTheirKeysSlotAndTheLibraryIsOnEveryMaster() async throws {
        try await withTestProcesses { processes in
            let nodes = try await processes.redisCluster()
            try await clusterClient(nodes) { client in
                let keys = (0..<30).map { "key-\($0)" }
                for key in keys { _ = try await client.send(RedisCommand("SET", [key, "value of \(key)"])) }
                var masters = Set<Int>()
                for key in keys {
                    let master = try await clusterMaster(of: key, among: nodes)
                    masters.insert(master.port)
                    #expect(try await sendToRedis(master.url, ["GET", key]).first?.string == "value of \(key)")
                    #expect(try await client.send(RedisCommand("GET", [key])).string == "value of \(key)")
                }
                #expect(masters.count == 3, "30 keys fall on all three masters")
                for node in nodes {
                    let libraries = try await sendToRedis(node.url, ["FUNCTION", "LIST", "LIBRARYNAME", "clustertest"]).first?.array
                    #expect(libraries?.count == 1, "the library on \(node.port)")
                }
                #expect(try await client.call(function: "incr_by", keys: ["{pool}:n"], arguments: ["5"]) == .integer(5))
            }
        }
    }

    @Test func aSlotThatMovesIsFollowedWithAskWhileItMigratesAndMovedAfter() async throws {
        try await withTestProcesses { processes in
            let nodes = try await processes.redisCluster()
            try await clusterClient(nodes) { client in
                let key = "{moving}:counter", fresh = "{moving}:fresh"
                #expect(try await client.call(function: "incr_by", keys: [key], arguments: ["1"]) == .integer(1))
                let source = try await clusterMaster(of: key, among: nodes)
                let target = try #require(nodes.first { $0.port != source.port })
                let slot = String(ClusterSlot.of(key))
                let (sourceID, targetID) = (try await clusterNodeID(source), try await clusterNodeID(target))
                _ = try await sendToRedis(target.url, ["CLUSTER", "SETSLOT", slot, "IMPORTING", sourceID])
                _ = try await sendToRedis(source.url, ["CLUSTER", "SETSLOT", slot, "MIGRATING", targetID])
                // migrating: a key still on the source is served there; a new one goes to the target (ASK)
                #expect(try await client.call(function: "incr_by", keys: [key], arguments: ["1"]) == .integer(2))
                _ = try await client.send(RedisCommand("SET", [fresh, "made while migrating"]))
                #expect(try await sendToRedis(target.url, ["ASKING"], ["GET", fresh]).last?.string == "made while migrating")
                // the counter moves: now it is the target's, asked for with ASKING
                _ = try await sendToRedis(source.url, ["MIGRATE", "127.0.0.1", String(target.port), "", "0", "5000", "KEYS", key])
                #expect(try await client.call(function: "incr_by", keys: [key], arguments: ["1"]) == .integer(3))
                // the slot is the target's: MOVED, and the client's map follows
                for node in nodes { _ = try await sendToRedis(node.url, ["CLUSTER", "SETSLOT", slot, "NODE", targetID]) }
                #expect(try await client.call(function: "incr_by", keys: [key], arguments: ["1"]) == .integer(4))
                #expect(try await client.send(RedisCommand("GET", [fresh])).string == "made while migrating")
                #expect(try await sendToRedis(target.url, ["GET", key]).first?.string == "4")
            }
        }
    }
}
