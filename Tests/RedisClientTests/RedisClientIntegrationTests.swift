import Foundation
import RedisClient
import RedisServerProcess
import Testing
import TestSupport

@Suite struct RedisClientIntegrationTests {
    @Test func sendsCommandsAndDecodesReplies() async throws {
        try await withRedisServer { server in
            try await withRedisClient(.init(url: server.url)) { client async throws in
                #expect(try await client.send(RedisCommand("SET", ["k", "v"])) == .simpleString("OK"))
                #expect(try await client.send(RedisCommand("GET", ["k"])).string == "v")
                #expect(try await client.send(RedisCommand("GET", ["missing"])) == .null)
                #expect(try await client.send(RedisCommand("INCRBY", ["n", "5"])) == .integer(5))
                let error = await #expect(throws: RedisError.self) { try await client.send(RedisCommand("NOSUCHCOMMAND")) }
                #expect(error?.kind == .server)
                #expect(error?.prefix == "ERR")
            }
        }
    }

    @Test func pipelinesManyConcurrentCallersInOrder() async throws {
        try await withRedisServer { server in
            try await withRedisClient(.init(url: server.url, connectionCount: 2)) { client async throws in
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
    }

    @Test func authenticatesAndSelectsTheDatabaseFromTheURL() async throws {
        try await withRedisServer(extraArguments: ["--requirepass", "s3cret"]) { server in
            var url = server.url
            url.password = "s3cret"
            url.database = 3
            try await withRedisClient(.init(url: url)) { client async throws in
                _ = try await client.send(RedisCommand("SET", ["k", "in-db-3"]))
                let info = try await client.send(RedisCommand("CLIENT", ["INFO"])).string ?? ""
                #expect(info.contains("db=3"))
            }
            url.password = "wrong"
            let client = RedisClient(configuration: .init(url: url))
            try await withThrowingTaskGroup { group in
                group.addTask { try await client.run() }
                try await Task.sleep(for: .milliseconds(300))
                #expect(!client.isConnected)
                group.cancelAll()
            }
        }
    }

    @Test func failsAtOnceWhenRedisIsUnreachable() async throws {
        let port = try freeLoopbackPort()
        let client = RedisClient(configuration: .init(url: RedisURL(host: "127.0.0.1", port: port)))
        let clock = ContinuousClock()
        let start = clock.now
        let error = await #expect(throws: RedisError.self) { try await client.send(RedisCommand("PING")) }
        #expect(error?.kind == .unavailable)
        #expect(clock.now - start < .milliseconds(100))
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
                #expect(waited >= .milliseconds(250) && waited < .seconds(1))
                try await waitUntil("the client reconnects") { (try? await client.send(RedisCommand("PING"))) != nil }
            }
        }
    }

    @Test func refusalsThatMeanRedisCannotServeNowAreUnavailableNotBugs() async throws {
        try await withRedisServer { primary in
            try await withRedisServer(extraArguments: ["--replicaof", "127.0.0.1", String(primary.port)]) { replica in
                try await withRedisClient(.init(url: replica.url)) { client async throws in
                    let error = await #expect(throws: RedisError.self) { try await client.send(RedisCommand("SET", ["k", "v"])) }
                    #expect(error?.prefix == "READONLY")
                    #expect(error?.isStoreUnavailable == true)
                }
            }
            try await withRedisClient(.init(url: primary.url)) { client async throws in
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
        try await withRedisServer(persistent: true) { first in
            try await withRedisClient(.init(url: first.url, reconnectBackoff: (.milliseconds(20), .milliseconds(100)))) { client async throws in
                _ = try await client.send(RedisCommand("SET", ["survives", "yes"]))
                await first.stop()
                let error = await #expect(throws: RedisError.self) { try await client.send(RedisCommand("GET", ["survives"])) }
                #expect(error?.isStoreUnavailable == true)
                let second = try await RedisServerProcess.start(port: first.port, dataDirectory: first.dataDirectory, persistent: true)
                try await waitUntil("the client reconnects") { (try? await client.send(RedisCommand("PING"))) != nil }
                let value = try await client.send(RedisCommand("GET", ["survives"])).string
                await second.kill()
                #expect(value == "yes")
            }
        }
    }

    @Test func loadsScriptsOnConnectAndReloadsThemAfterScriptFlush() async throws {
        let script = RedisScript(name: "double", source: "return tonumber(ARGV[1]) * 2 + redis.call('INCR', KEYS[1])")
        try await withRedisServer { server in
            try await withRedisClient(.init(url: server.url), scripts: [script]) { client async throws in
                #expect(await client.scriptsLoaded())
                #expect(try await client.evaluate(script, keys: ["n"], arguments: ["20"]) == .integer(41))
                _ = try await client.send(RedisCommand("SCRIPT", ["FLUSH"]))
                #expect(await !client.scriptsLoaded())
                #expect(try await client.evaluate(script, keys: ["n"], arguments: ["20"]) == .integer(42))
                #expect(await client.scriptsLoaded())
            }
        }
    }
}
