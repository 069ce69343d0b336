import Testing

import RedisClient

@Suite struct RedisURLTests {
    @Test func parsesHostPortAndDatabase() throws {
        let url = try RedisURL("redis://10.1.2.3:6380/4")
        #expect(url == RedisURL(host: "10.1.2.3", port: 6380, database: 4))
    }

    @Test func defaultsPortAndDatabase() throws {
        #expect(try RedisURL("redis://cache") == RedisURL(host: "cache"))
        #expect(try RedisURL("redis://cache/") == RedisURL(host: "cache"))
    }

    @Test func parsesPasswordWithAndWithoutUser() throws {
        #expect(try RedisURL("redis://:s%40cret@h:1/2") == RedisURL(host: "h", port: 1, password: "s@cret", database: 2))
        #expect(try RedisURL("redis://alice:pw@h") == RedisURL(host: "h", username: "alice", password: "pw"))
    }

    @Test func aPasswordMayHoldSlashesAndAtSignsAndNoErrorQuotesIt() throws {
        #expect(try RedisURL("redis://:pa/ss@word@h:1/2") == RedisURL(host: "h", port: 1, password: "pa/ss@word", database: 2))
        let error = #expect(throws: RedisError.self) { try RedisURL("redis://:se/cret@h/db") }
        #expect(error?.message.contains("cret") == false)
    }

    @Test func redissIsTLSToTheSameKindOfAddress() throws {
        let url = try RedisURL("rediss://:pw@redis.internal:6380/2")
        var expected = RedisURL(host: "redis.internal", port: 6380, password: "pw", database: 2)
        expected.usesTLS = true
        #expect(url == expected)
        #expect(url.description == "rediss://:***@redis.internal:6380/2")
        #expect(try RedisURL("redis://h").usesTLS == false)
        // a sentinel's primary and a cluster's nodes are reached the same way
        #expect(url.at(host: "10.0.0.2", port: 6379).usesTLS && url.clusterNode(host: "10.0.0.3", port: 7000).usesTLS)
    }

    @Test func hidesThePasswordWhenPrinted() throws {
        #expect(try RedisURL("redis://:hunter2@h:1/0").description == "redis://:***@h:1/0")
    }

    @Test func parsesUnixSocketURLs() throws {
        #expect(try RedisURL("unix:///run/redis/redis.sock") == RedisURL(socketPath: "/run/redis/redis.sock"))
        #expect(try RedisURL("unix://:pa/ss@word@/tmp/r.sock?db=2") == RedisURL(socketPath: "/tmp/r.sock", password: "pa/ss@word", database: 2))
        #expect(try RedisURL("unix://alice:p%40w@/a/b.sock") == RedisURL(socketPath: "/a/b.sock", username: "alice", password: "p@w"))
        #expect(try RedisURL("unix://:hunter2@/a.sock").description == "unix://:***@/a.sock?db=0")
        #expect(try RedisURL("unix:///a.sock").endpoint == "/a.sock")
        #expect(RedisURL(socketPath: "/a.sock", database: 1).clusterNode(host: "h", port: 7000) == RedisURL(host: "h", port: 7000))
    }

    @Test(arguments: ["unix://", "unix:///", "unix://redis.sock", "unix:///a.sock?database=1", "unix:///a.sock?db=x", "unix://:%zz@/a.sock"])
    func rejectsMalformedSocketURLs(_ text: String) {
        #expect(throws: RedisError.self) { try RedisURL(text) }
    }

    @Test(arguments: ["http://h", "redis://", "redis://h:0", "redis://h:99999", "redis://h:x", "redis://h/-1", "redis://h/db", "redis://:%zz@h"])
    func rejectsMalformedURLs(_ text: String) {
        #expect(throws: RedisError.self) { try RedisURL(text) }
    }
}
