import Foundation
import Processes
import RedisClient
import RedisServerProcess

/// Certificates a test makes for itself with openssl (`Tests/Fixtures/make-test-certificates.sh`
/// says which), in a directory of its own: a CA, a server certificate for localhost and
/// 127.0.0.1, an expired one, one for another name, one of a CA nobody trusts, and a client's.
public struct TestCertificates: Sendable {
    public let directory: URL

    /// Makes them all in `directory` (created if need be).
    public static func make(in directory: URL) async throws -> TestCertificates {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let certificates = TestCertificates(directory: directory)
        try await certificates.runScript([])
        return certificates
    }

    /// `NAME.crt` / `NAME.key`, e.g. `file("server", "crt")`.
    public func file(_ name: String, _ kind: String) -> String {
        directory.appending(path: "\(name).\(kind)").path
    }

    public var caFile: String { file("ca", "crt") }

    /// A new server certificate and key, `name.crt` and `name.key`, for localhost and 127.0.0.1,
    /// signed by the CA (one that replaces another).
    public func issueServerCertificate(_ name: String) async throws {
        try await runScript([name])
    }

    /// TLS for a redis-server with certificate `server` (a name of `make`'s).
    public func redisServer(_ server: String = "server", clientsMustAuthenticate: Bool = true) -> RedisServerProcess.TLS {
        .init(certificateFile: file(server, "crt"), keyFile: file(server, "key"), caFile: caFile,
              clientsMustAuthenticate: clientsMustAuthenticate)
    }

    /// A client's TLS trusting the CA, with the client certificate.
    public func redisClient() throws -> RedisTLS {
        try RedisTLS(caFile: caFile, certificateFile: file("client", "crt"), keyFile: file("client", "key"))
    }

    /// redis-cli's flags for the same.
    public var redisCLIFlags: [String] {
        ["--tls", "--cacert", caFile, "--cert", file("client", "crt"), "--key", file("client", "key")]
    }

    /// `vmreserve serve`'s flags for the same.
    public var gatewayRedisFlags: [String] {
        ["--redis-tls-ca", caFile, "--redis-tls-cert", file("client", "crt"), "--redis-tls-key", file("client", "key")]
    }

    private func runScript(_ arguments: [String]) async throws {
        let script = repositoryRoot.appending(path: "Tests/Fixtures/make-test-certificates.sh").path
        let result = try await ChildProcess.run(["/bin/sh", script, directory.path] + arguments, environment: ["PATH": "/usr/bin:/bin"],
                                                input: Data(), timeout: .seconds(120), outputLimit: 65536)
        guard result.status == 0 else { throw TestSupportError("make-test-certificates.sh \(arguments) failed: \(result.status)") }
    }
}
