import NIOCore
import NIOSSL
import Synchronization

/// The gateway's HTTPS certificate (chain) and key, read from their PEM files, and read again
/// when the files change (`FileWatcher`): each new connection's handshake takes the pair read
/// last, so a certificate is rotated with no restart; connections already open keep theirs.
public final class ServerCertificate: Sendable {
    public let certificateFile: String
    public let keyFile: String
    private let current: Mutex<Pair>

    private struct Pair: @unchecked Sendable {  // NIOSSLCertificate and NIOSSLPrivateKey are immutable
        let chain: [NIOSSLCertificate]
        let key: NIOSSLPrivateKey
    }

    /// Reads both files.
    /// - Throws: `ServerCertificate.FileError`, naming the file that cannot be used.
    public init(certificateFile: String, keyFile: String) throws(FileError) {
        self.certificateFile = certificateFile
        self.keyFile = keyFile
        current = Mutex(try Self.read(certificateFile: certificateFile, keyFile: keyFile))
    }

    /// Reads the files again; on failure the pair read before stays in use.
    func reload() throws(FileError) {
        let pair = try Self.read(certificateFile: certificateFile, keyFile: keyFile)
        current.withLock { $0 = pair }
    }

    private static func read(certificateFile: String, keyFile: String) throws(FileError) -> Pair {
        guard let chain = try? NIOSSLCertificate.fromPEMFile(certificateFile), !chain.isEmpty else {
            throw FileError("\(certificateFile) is not a readable PEM file of a certificate")
        }
        guard let key = try? NIOSSLPrivateKey(file: keyFile, format: .pem) else {
            throw FileError("\(keyFile) is not a readable PEM file of a private key")
        }
        // a context of the pair: BoringSSL refuses a key that is not the certificate's
        let configuration = TLSConfiguration.makeServerConfiguration(certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
        guard (try? NIOSSLContext(configuration: configuration)) != nil else {
            throw FileError("the key in \(keyFile) is not the key of the certificate in \(certificateFile)")
        }
        return Pair(chain: chain, key: key)
    }

    /// The server's TLS configuration: the pair read last, chosen again for every handshake.
    var tlsConfiguration: TLSConfiguration {
        let pair = current.withLock { $0 }
        var configuration = TLSConfiguration.makeServerConfiguration(certificateChain: pair.chain.map { .certificate($0) },
                                                                     privateKey: .privateKey(pair.key))
        configuration.sslContextCallback = { [self] _, promise in
            let pair = current.withLock { $0 }
            var override = NIOSSLContextConfigurationOverride()
            override.certificateChain = pair.chain.map { .certificate($0) }
            override.privateKey = .privateKey(pair.key)
            promise.succeed(override)
        }
        return configuration
    }

    /// A certificate or key file that cannot be used, named in `description`.
    public struct FileError: Error, CustomStringConvertible {
        public let description: String
        init(_ description: String) { self.description = description }
    }
}
