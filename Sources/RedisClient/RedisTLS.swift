import Foundation
import NIOCore
import NIOPosix
import NIOSSL

/// TLS to Redis (a `rediss://` URL, or sentinels that speak TLS): whom to trust, who this client
/// is (mutual TLS), and which name the server's certificate must carry. Files are read once, here,
/// so that an unreadable or malformed one stops the start with an error naming it.
public struct RedisTLS: Sendable, Equatable {
    let context: NIOSSLContext
    /// What `context` was made of (to read a server's certificate again without verifying it).
    private let configuration: TLSConfiguration
    /// The name checked against the server's certificate, and sent as SNI; nil: the host connected
    /// to (an address is then checked against the certificate's IP entries).
    public let serverName: String?
    /// Where trust comes from, for errors: the CA file, or the system's trust store.
    let trustSource: String

    /// - Parameters:
    ///   - caFile: PEM certificates of the CAs to trust; nil: the system's trust store.
    ///   - certificateFile, keyFile: this client's certificate (chain) and key, both or neither.
    /// - Throws: `RedisError` of kind `.tls`, naming the file that cannot be used.
    public init(caFile: String? = nil, certificateFile: String? = nil, keyFile: String? = nil, serverName: String? = nil) throws(RedisError) {
        var configuration = TLSConfiguration.makeClientConfiguration()
        if let caFile {
            configuration.trustRoots = .certificates(try Self.certificates(in: caFile, what: "CA"))
        }
        switch (certificateFile, keyFile) {
        case (nil, nil): break
        case (let certificateFile?, let keyFile?):
            configuration.certificateChain = try Self.certificates(in: certificateFile, what: "client certificate").map { .certificate($0) }
            do {
                configuration.privateKey = .privateKey(try NIOSSLPrivateKey(file: keyFile, format: .pem))
            } catch {
                throw Self.fileError(keyFile, "is not a readable PEM private key")
            }
        default:
            throw RedisError(kind: .tls, message: "a client certificate needs its key, and a key its certificate")
        }
        self.configuration = configuration
        do {
            context = try NIOSSLContext(configuration: configuration)
        } catch {
            throw RedisError(kind: .tls, message: "the client certificate and key do not belong together, or cannot be used: \(error)")
        }
        self.serverName = serverName
        trustSource = caFile.map { "the CA in \($0)" } ?? "a CA of the system's trust store"
    }

    /// The same settings: the same files read once (the same context), the same name.
    public static func == (lhs: RedisTLS, rhs: RedisTLS) -> Bool {
        lhs.context === rhs.context && lhs.serverName == rhs.serverName
    }

    private static func certificates(in path: String, what: String) throws(RedisError) -> [NIOSSLCertificate] {
        guard let certificates = try? NIOSSLCertificate.fromPEMFile(path), !certificates.isEmpty else {
            throw fileError(path, "is not a readable PEM file of the \(what)")
        }
        return certificates
    }

    private static func fileError(_ path: String, _ problem: String) -> RedisError {
        RedisError(kind: .tls, message: "\(path) \(problem)")
    }

    /// The handler that wraps a connection to `host` in TLS.
    func handler(for host: String) throws -> NIOSSLClientHandler {
        // an address is no SNI name: NIOSSL then checks it against the certificate's IP entries
        let name = serverName ?? (host.isIPAddress ? nil : host)
        return try NIOSSLClientHandler(context: context, serverHostname: name)
    }

    /// A TLS failure as an error (`.tls`) that says what is wrong; for a certificate that failed
    /// verification it looks at the server's certificate, on a connection of its own, to say why
    /// (expired, not yet valid, or signed by no CA trusted). Any other error is answered as it is.
    func explain(_ error: any Error, host: String, port: Int, eventLoopGroup: any EventLoopGroup) async -> any Error {
        let text = "\(error)"
        let isTLS = error is NIOSSLError || error is NIOSSLExtraError || error is BoringSSLError
            || (error as? RedisError)?.kind == .connectionClosed && text.contains("SSL")
        guard isTLS else { return error }
        let endpoint = "\(host):\(port)"
        if let error = error as? NIOSSLExtraError, error == .failedToValidateHostname {
            return RedisError(kind: .tls, message: "\(endpoint)'s certificate is not for \(serverName ?? host) (--redis-tls-server-name names the one it carries)")
        }
        if text.contains("CERTIFICATE_REQUIRED") || text.contains("HANDSHAKE_FAILURE") {
            return RedisError(kind: .tls, message: "\(endpoint) requires a client certificate (--redis-tls-cert and --redis-tls-key), or refused this one")
        }
        if text.contains("UNKNOWN_CA") || text.contains("BAD_CERTIFICATE") {
            return RedisError(kind: .tls, message: "\(endpoint) does not trust this client's certificate")
        }
        guard text.contains("CERTIFICATE_VERIFY_FAILED") else {
            return RedisError(kind: .tls, message: "TLS with \(endpoint) failed: \(text)")
        }
        let reason: String
        switch await peerCertificate(host: host, port: port, eventLoopGroup: eventLoopGroup) {
        case let certificate? where TimeInterval(certificate.notValidAfter) < Date().timeIntervalSince1970:
            reason = "expired on \(Date(timeIntervalSince1970: TimeInterval(certificate.notValidAfter)))"
        case let certificate? where TimeInterval(certificate.notValidBefore) > Date().timeIntervalSince1970:
            reason = "is not valid before \(Date(timeIntervalSince1970: TimeInterval(certificate.notValidBefore)))"
        case .some:
            reason = "is not signed by \(trustSource)"
        case nil:
            reason = "is not trusted (not signed by \(trustSource), expired or not yet valid: it could not be read again to say which)"
        }
        return RedisError(kind: .tls, message: "\(endpoint)'s certificate \(reason)")
    }

    /// The certificate a server presents, read without verifying it (only to explain a failure),
    /// on a connection with this client's own certificate, as the failed one had.
    private func peerCertificate(host: String, port: Int, eventLoopGroup: any EventLoopGroup) async -> NIOSSLCertificate? {
        var configuration = configuration
        configuration.certificateVerification = .none
        guard let context = try? NIOSSLContext(configuration: configuration) else { return nil }
        let channel = try? await ClientBootstrap(group: eventLoopGroup)
            .connectTimeout(.seconds(30))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandlers(
                        NIOSSLClientHandler(context: context, serverHostname: nil), TLSHandshake(done: channel.eventLoop.makePromise()))
                }
            }
            .connect(host: host, port: port).get()
        guard let channel else { return nil }
        defer { channel.close(promise: nil) }
        guard (try? await channel.pipeline.handler(type: TLSHandshake.self).flatMap(\.done.futureResult).get()) != nil else { return nil }
        return try? await channel.nioSSL_peerCertificate().get()
    }
}

extension String {
    /// An IPv4 or IPv6 address, not a name.
    var isIPAddress: Bool {
        var v4 = in_addr(), v6 = in6_addr()
        return inet_pton(AF_INET, self, &v4) == 1 || inet_pton(AF_INET6, self, &v6) == 1
    }
}
