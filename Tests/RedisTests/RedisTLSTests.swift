import Foundation
import RedisClient
import RedisServerProcess
import Reservations
import Testing
import TestSupport

/// The Redis client over TLS, against a redis-server that speaks TLS only (`--port 0 --tls-port`)
/// and asks clients for a certificate (`--tls-auth-clients yes`), with certificates made by
/// openssl for the test.
@Suite(.timeLimit(.minutes(5))) struct RedisTLSTests {
    /// A client with the CA and its certificate connects, loads the library and calls a script.
    @Test func aClientWithItsCertificateCallsScriptsOverMutualTLS() async throws {
        try await withTestProcesses { processes in
            let certificates = try await TestCertificates.make(in: try processes.temporaryDirectory("tls"))
            let redis = try await processes.redis(tls: certificates.redisServer())
            #expect(redis.url.description.hasPrefix("rediss://"))
            var configuration = RedisClient.Configuration.test(redis.url)
            configuration.tls = try certificates.redisClient()
            let client = RedisClient(configuration: configuration, library: Script.library)
            try await withThrowingTaskGroup { group in
                group.addTask { try await client.run() }
                defer { group.cancelAll() }
                try await waitUntil("the client connects over TLS") { client.isConnected }
                #expect(try await client.send(RedisCommand("SET", ["tls-key", "over tls"])) == .simpleString("OK"))
                #expect(try await client.send(RedisCommand("GET", ["tls-key"])).string == "over tls")
                #expect(await client.libraryLoaded())
            }
            // and the server saw a TLS connection: a plain one is not served at all
            await #expect(throws: (any Error).self) { try await sendToRedis(RedisURL(port: redis.port), ["PING"]) }
        }
    }

    /// What no retry mends ends `run()` at once, with a message that says what is wrong.
    @Test(arguments: [
        ("untrusted", TLSCase.ownCertificate, "is not signed by the CA in"),
        ("expired", TLSCase.ownCertificate, "expired on"),
        ("elsewhere", TLSCase.ownCertificate, "is not for 127.0.0.1 (--redis-tls-server-name"),
        ("server", TLSCase.noCertificate, "requires a client certificate"),
        ("server", TLSCase.systemTrustStore, "is not signed by a CA of the system's trust store"),
    ])
    func aTLSFailureEndsTheStartWithItsReason(server: String, client: TLSCase, message: String) async throws {
        try await withTestProcesses { processes in
            let certificates = try await TestCertificates.make(in: try processes.temporaryDirectory("tls"))
            let redis = try await processes.redis(tls: certificates.redisServer(server))
            var configuration = RedisClient.Configuration.test(redis.url)
            configuration.tls = try client.tls(certificates)
            let error = await #expect(throws: RedisError.self) { try await RedisClient(configuration: configuration).run() }
            #expect(error?.kind == .tls)
            #expect(error?.message.contains(message) == true, "\(error?.message ?? "")")
        }
    }

    /// The name the certificate carries, given, passes where the address did not.
    @Test func aServerNameGivenIsTheNameChecked() async throws {
        try await withTestProcesses { processes in
            let certificates = try await TestCertificates.make(in: try processes.temporaryDirectory("tls"))
            let redis = try await processes.redis(tls: certificates.redisServer("elsewhere"))
            let tls = try RedisTLS(caFile: certificates.caFile, certificateFile: certificates.file("client", "crt"),
                                   keyFile: certificates.file("client", "key"), serverName: "redis.test")
            #expect(try await sendToRedis(redis.url, tls: tls, ["PING"]) == [.simpleString("PONG")])
        }
    }

    /// A file that cannot be used is named in the error, before any connection.
    @Test func anUnusableFileIsNamed() throws {
        #expect(throws: RedisError(kind: .tls, message: "/nonexistent/ca.pem is not a readable PEM file of the CA")) {
            try RedisTLS(caFile: "/nonexistent/ca.pem")
        }
        #expect(throws: RedisError(kind: .tls, message: "a client certificate needs its key, and a key its certificate")) {
            try RedisTLS(certificateFile: "/nonexistent/client.pem")
        }
    }

    enum TLSCase: Sendable, CustomTestStringConvertible {
        case ownCertificate, noCertificate, systemTrustStore

        func tls(_ certificates: TestCertificates) throws -> RedisTLS {
            switch self {
            case .ownCertificate: try certificates.redisClient()
            case .noCertificate: try RedisTLS(caFile: certificates.caFile)
            case .systemTrustStore:
                try RedisTLS(certificateFile: certificates.file("client", "crt"), keyFile: certificates.file("client", "key"))
            }
        }

        var testDescription: String { "\(self)" }
    }
}
