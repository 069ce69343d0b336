import Foundation
import RedisClient
import RedisServerProcess

extension TestProcesses {
    /// One node of a cluster on a free loopback port. A node also listens on its port + 10000
    /// (the cluster bus), which a busy machine may have given to some other socket meanwhile:
    /// then the node exits at start and is tried again on another port, up to 5 times.
    private func clusterNode(tls: RedisServerProcess.TLS?) async throws -> RedisServerProcess {
        var lastError: (any Error)?
        for _ in 0..<5 {
            var port = try freeLoopbackPort()
            while port > 55535 { port = try freeLoopbackPort() }
            do {
                return try await redis(port: port, tls: tls, extraArguments: ["--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
                                                                             "--cluster-node-timeout", "5000"])
            } catch {
                lastError = error
            }
        }
        throw lastError ?? TestSupportError("no cluster node started")
    }

    /// A Redis Cluster of `masters` masters and no replicas on free loopback ports, its slots
    /// spread evenly by `redis-cli --cluster create`; answers once every node sees it as ok.
    /// With `certificates`, the nodes speak TLS only (clients, and the cluster bus), asking
    /// clients for a certificate.
    public func redisCluster(masters: Int = 3, certificates: TestCertificates? = nil) async throws -> [RedisServerProcess] {
        var nodes: [RedisServerProcess] = []
        for _ in 0..<masters {
            nodes.append(try await clusterNode(tls: certificates?.redisServer()))
        }
        let log = try temporaryDirectory("cluster").appending(path: "create.log")
        let create = try start(["redis-cli"] + (certificates?.redisCLIFlags ?? []) + ["--cluster", "create"] + nodes.map { "127.0.0.1:\($0.port)" }
                               + ["--cluster-replicas", "0", "--cluster-yes"], output: .file(log))
        guard await create.waitForExit() == 0 else {
            throw TestSupportError("redis-cli --cluster create failed: \((try? String(contentsOf: log, encoding: .utf8)) ?? "")")
        }
        for node in nodes {
            try await waitUntil("node \(node.port) sees the cluster as ok") {
                let info = try? await sendToRedis(node.url, tls: certificates?.redisClient(), ["CLUSTER", "INFO"])
                return info?.first?.string?.contains("cluster_state:ok") == true
            }
        }
        return nodes
    }
}

/// A cluster node's id (`CLUSTER MYID`).
public func clusterNodeID(_ node: RedisServerProcess) async throws -> String {
    try await sendToRedis(node.url, ["CLUSTER", "MYID"]).first?.string ?? ""
}

/// The node of `nodes` that is the master of `key`'s slot.
public func clusterMaster(of key: String, among nodes: [RedisServerProcess], tls: RedisTLS? = nil) async throws -> RedisServerProcess {
    let slot = ClusterSlot.of(key)
    let ranges = try await sendToRedis(nodes[0].url, tls: tls, ["CLUSTER", "SLOTS"]).first?.array ?? []
    for range in ranges {
        guard let parts = range.array, parts.count >= 3, let first = parts[0].int, let last = parts[1].int,
              (first...last).contains(slot), let port = parts[2].array?[1].int,
              let node = nodes.first(where: { $0.port == port })
        else { continue }
        return node
    }
    throw TestSupportError("no master holds slot \(slot)")
}
