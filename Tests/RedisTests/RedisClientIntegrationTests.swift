import Foundation
import RedisClient
import RedisServerProcess
import Testing
import TestSupport

@Suite struct RedisClientIntegrationTests {
    @Test func sendsCommandsAndDecodesReplies() async throws {
        let key = "client-test-\(UUID().uuidString)"
        try await withRedisClient(.test(try await SharedRedis.url())) { client async throws in
            #expect(try await client.send(RedisCommand("SET", [key, "v"])) == .simpleString("OK"))
            #expect(try await client.send(RedisCommand("GET", [key])).string == "v")
            #expect(try await client.send(RedisCommand("GET", [key + ":missing"])) == .null)
            #expect(try await client.send(RedisCommand("INCRBY", [key + ":n", "5"])) == .integer(5))
            let error = await #expect(throws: RedisError.self) { try await client.send(RedisCommand("NOSUCHCOMMAND")) }
            #expect(error?.kind == .server)
            #expect(error?.prefix == "ERR")
        }
    }

    @Test func pipelinesManyConcurrentCallersInOrder() async throws {
        try await withRedisClient(.test(try await SharedRedis.url(), connectionCount: 2)) { client async throws in
            try await withThrowingTaskGroup { group in
                for index in 0..<2000 {
                    group.addTask { () async throws in
                        let reply = try await client.send(RedisCommand("ECHO", ["value-\(index)"]))
                        #expect(reply.string == "value-\(index)")
                    }
                }
                try await group.waitForAll()
            }
        }
    }

    @Test func aSetupCommandThatAnswersAgainIsSentUntilItIsDoneBeforeTheConnectionServes() async throws {
        let key = "setup-again-\(UUID().uuidString)"
        let step = RedisCommand("EVAL", ["if redis.call('INCR', KEYS[1]) < 3 then return redis.status_reply('AGAIN') end return 'done'", "1", key])
        let client = RedisClient(configuration: .test(try await SharedRedis.url(), connectionCount: 1), setupCommands: [step])
        try await withThrowingTaskGroup { group in
            group.addTask { try await client.run() }
            defer { group.cancelAll() }
            try await waitUntil("the client connects") { client.isConnected }
            #expect(try await client.send(RedisCommand("GET", [key])).string == "3")
        }
    }

    @Test func talksToARedisOnAUnixSocketWithItsPasswordAndDatabase() async throws {
        try await withTestProcesses { processes in
            let socket = try processes.temporaryDirectory("socket").appending(path: "redis.sock").path
            _ = try await processes.redis(extraArguments: ["--requirepass", "s3cret", "--unixsocket", socket, "--unixsocketperm", "700"])
            try await withRedisClient(.test(try RedisURL("unix://:s3cret@\(socket)?db=3"))) { client async throws in
                #expect(try await client.send(RedisCommand("SET", ["k", "in-db-3"])) == .simpleString("OK"))
                let info = try await client.send(RedisCommand("CLIENT", ["INFO"])).string ?? ""
                #expect(info.contains("db=3"))
                #expect(info.contains("flags=U"), "a Unix socket client: \(info)")
            }
        }
    }

    @Test func authenticatesAndSelectsTheDatabaseFromTheURL() async throws {
        try await withRedisServer(extraArguments: ["--requirepass", "s3cret"]) { server in
            var url = server.url
            url.password = "s3cret"
            url.database = 3
            try await withRedisClient(.test(url)) { client async throws in
                _ = try await client.send(RedisCommand("SET", ["k", "in-db-3"]))
                let info = try await client.send(RedisCommand("CLIENT", ["INFO"])).string ?? ""
                #expect(info.contains("db=3"))
            }
            url.password = "wrong"
            let client = RedisClient(configuration: .test(url))
            try await withThrowingTaskGroup { group in
                group.addTask { try await client.run() }
                // refused, and refused again on every retry: wait for a few retries, then look
                let admin = RedisURL(host: "127.0.0.1", port: server.port, password: "s3cret")
                try await withRedisClient(.test(admin, connectionCount: 1)) { admin async throws in
                    try await waitUntil("the wrong password was refused three times") {
                        let info = (try? await admin.send(RedisCommand("INFO", ["errorstats"])).string) ?? ""
                        let line = info.split(separator: "\r\n").first { $0.hasPrefix("errorstat_WRONGPASS:count=") }
                        return (line.flatMap { Int($0.split(separator: "=")[1]) } ?? 0) >= 3
                    }
                }
                #expect(!client.isConnected)
                group.cancelAll()
            }
        }
    }

    @Test func failsAtOnceWhenRedisIsUnreachable() async throws {
        let port = try freeLoopbackPort()
        // "at once": not after the command timeout, which is set far beyond any machine's slowness
        let client = RedisClient(configuration: .init(url: RedisURL(host: "127.0.0.1", port: port), commandTimeout: .seconds(600)))
        let clock = ContinuousClock()
        let start = clock.now
        let error = await #expect(throws: RedisError.self) { try await client.send(RedisCommand("PING")) }
        #expect(error?.kind == .unavailable)
        #expect(clock.now - start < .seconds(60))
    }

    @Test func timesOutWhenRedisHangsAndRecoversAfterwards() async throws {
        try await withRedisServer { server in
            try await withRedisClient(.init(url: server.url, connectionCount: 1, commandTimeout: .milliseconds(300))) { client async throws in
                server.suspend(true)
                let clock = ContinuousClock()
                let start = clock.now
                let error = await #expect(throws: RedisError.self) { try await client.send(RedisCommand("PING")) }
                let waited = clock.now - start
                server.suspend(false)
                #expect(error?.kind == .timeout)
                // never before the deadline; after it, within a margin only a broken machine misses
                #expect(waited >= .milliseconds(300) && waited < .milliseconds(300) + TestTiming.margin, "\(waited)")
                try await waitUntil("the client reconnects") { (try? await client.send(RedisCommand("PING"))) != nil }
            }
        }
    }

    @Test func refusalsThatMeanRedisCannotServeNowAreUnavailableNotBugs() async throws {
        try await withRedisServer { primary in
            try await withRedisServer(extraArguments: ["--replicaof", "127.0.0.1", String(primary.port)]) { replica in
                try await withRedisClient(.test(replica.url)) { client async throws in
                    // once synced: while it loads the primary's data a replica answers LOADING instead
                    try await waitUntil("the replica is in sync") {
                        ((try? await client.send(RedisCommand("INFO", ["replication"])).string) ?? "").contains("master_link_status:up")
                    }
                    let error = await #expect(throws: RedisError.self) { try await client.send(RedisCommand("SET", ["k", "v"])) }
                    #expect(error?.prefix == "READONLY")
                    #expect(error?.isStoreUnavailable == true)
                }
            }
            try await withRedisClient(.test(primary.url)) { client async throws in
                _ = try await client.send(RedisCommand("SET", ["text", "x"]))
                _ = try await client.send(RedisCommand("CONFIG", ["SET", "maxmemory", "1"]))
                let full = await #expect(throws: RedisError.self) { try await client.send(RedisCommand("SET", ["k", "v"])) }
                #expect(full?.prefix == "OOM")
                #expect(full?.isStoreUnavailable == true)
                _ = try await client.send(RedisCommand("CONFIG", ["SET", "maxmemory", "0"]))
                // a command that is wrong, not refused, stays a bug to report
                let wrong = await #expect(throws: RedisError.self) { try await client.send(RedisCommand("INCR", ["text"])) }
                #expect(wrong?.isStoreUnavailable == false)
            }
        }
    }

    @Test func reconnectsWhenRedisRestarts() async throws {
        try await withTestProcesses { processes in
            let first = try await processes.redis(persistent: true)
            var configuration = RedisClient.Configuration.test(first.url)
            configuration.reconnectBackoff = (.milliseconds(20), .milliseconds(100))
            try await withRedisClient(configuration) { client async throws in
                _ = try await client.send(RedisCommand("SET", ["survives", "yes"]))
                await first.stop()
                let error = await #expect(throws: RedisError.self) { try await client.send(RedisCommand("GET", ["survives"])) }
                #expect(error?.isStoreUnavailable == true)
                _ = try await processes.redis(port: first.port, dataDirectory: first.dataDirectory, persistent: true)
                try await waitUntil("the client reconnects") { (try? await client.send(RedisCommand("PING"))) != nil }
                #expect(try await client.send(RedisCommand("GET", ["survives"])).string == "yes")
            }
        }
    }

    @Test func loadsTheLibraryOnConnectAndAgainAfterFunctionFlush() async throws {
        let library = RedisFunctionLibrary(name: "doubling", code: """
            redis.register_function('double', function(keys, args)
              return tonumber(args[1]) * 2 + redis.call('INCR', keys[1])
            end)
            """)
        try await withRedisServer { server in
            // one connection: a second one could still be loading the library after the flush
            try await withRedisClient(.test(server.url, connectionCount: 1), library: library) { client async throws in
                #expect(await client.libraryLoaded())
                #expect(try await client.call(function: "double", keys: ["n"], arguments: ["20"]) == .integer(41))
                _ = try await client.send(RedisCommand("FUNCTION", ["FLUSH"]))
                #expect(await !client.libraryLoaded())
                #expect(try await client.call(function: "double", keys: ["n"], arguments: ["20"]) == .integer(42))
                #expect(await client.libraryLoaded())
            }
            // a second client (a reconnect, another gateway) finds the library there: that is no failure
            try await withRedisClient(.test(server.url, connectionCount: 1), library: library) { client async throws in
                #expect(try await client.call(function: "double", keys: ["n"], arguments: ["1"]) == .integer(5))
            }
        }
    }
}
