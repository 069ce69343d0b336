import AsyncHTTPClient
import NIOSSL
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix

/// An async client of a vmreserve gateway: the bearer token on every call, the pool's
/// `/pools/{pool}` prefix when one is chosen, answers taken out of the envelope and decoded, and
/// every failure a `VMReserveError`.
///
///     try await VMReserveClient.with(server: "http://vmreserve:5000", token: token) { client in
///         let vm = try await client.call(.checkOut(leaseSeconds: 3600))
///         defer { ... }
///         print(vm.ip ?? "")
///     }
public struct VMReserveClient: Sendable {
    public let server: String
    public let token: String?
    /// The pool, on a gateway that serves several; nil: the gateway's first.
    public let pool: String?
    private let http: HTTPClient

    /// A client over `http`, which the caller shuts down.
    public init(server: String, token: String?, pool: String? = nil, http: HTTPClient) {
        self.server = server
        self.token = token
        self.pool = pool
        self.http = http
    }

    /// Runs `body` with a client of its own HTTP client, shut down after it. A refused connection
    /// is an answer at once (no retries); connecting may take 10 s.
    /// - Parameter caFile: a PEM file of CAs trusted for an `https://` server, besides the
    ///   system's trust store (a private CA).
    public static func with<T>(
        server: String, token: String?, pool: String? = nil, caFile: String? = nil, _ body: (VMReserveClient) async throws -> T
    ) async throws -> T {
        var configuration = HTTPClient.Configuration()
        if let caFile {
            var tls = TLSConfiguration.makeClientConfiguration()
            tls.additionalTrustRoots = [.file(caFile)]
            configuration.tlsConfiguration = tls
        }
        configuration.timeout = .init(connect: .seconds(10))
        configuration.connectionPool.retryConnectionEstablishment = false
        let http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        do {
            let result = try await body(VMReserveClient(server: server, token: token, pool: pool, http: http))
            try await http.shutdown()
            return result
        } catch {
            try? await http.shutdown()
            throw error
        }
    }

    /// The decoded `data` of the answer to `endpoint`.
    public func call<Value>(_ endpoint: Endpoint<Value>) async throws(VMReserveError) -> Value {
        try await answer(endpoint).value
    }

    /// The answer to `endpoint`: its decoded `data`, and that `data` as the gateway sent it.
    public func answer<Value>(_ endpoint: Endpoint<Value>) async throws(VMReserveError) -> Answer<Value> {
        var request = HTTPClientRequest(url: url(endpoint.path, query: endpoint.query))
        request.method = endpoint.method
        if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        request.headers.add(name: "User-Agent", value: "vmreserve-client")
        for (name, value) in endpoint.headers { request.headers.add(name: name, value: value) }
        if let body = endpoint.body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(bytes: body))
        }
        let status: Int, bytes: ByteBuffer
        do {
            let response = try await http.execute(request, timeout: TimeAmount(endpoint.timeout))
            status = Int(response.status.code)
            bytes = try await response.body.collect(upTo: 64 << 20)
        } catch {
            throw VMReserveError(kind: Self.neverSent(error) ? .unreachable : .answerLost,
                                 message: "cannot reach \(server): \(Self.describe(error))")
        }
        let text = Data(bytes.readableBytesView)
        guard let envelope = (try? JSONSerialization.jsonObject(with: text)) as? [String: Any],
              let outcome = envelope["status"] as? String else {
            throw VMReserveError(kind: .notVMReserve, status: status,
                                 message: "\(server) answered HTTP \(status), not vmreserve's JSON: is it a vmreserve gateway?")
        }
        guard outcome == "success", (200..<300).contains(status) else {
            throw VMReserveError(kind: .refused, status: status, codeText: envelope["code"] as? String,
                                 message: envelope["message"] as? String ?? "the server answered HTTP \(status)")
        }
        let data = (try? JSONSerialization.data(withJSONObject: envelope["data"] ?? NSNull(), options: [.fragmentsAllowed])) ?? Data("null".utf8)
        do {
            return Answer(value: try Self.decoder.decode(Value.self, from: data), data: data)
        } catch {
            throw VMReserveError(kind: .notVMReserve, status: status, message: "\(server) answered data this client cannot read: \(error)")
        }
    }

    private func url(_ path: String, query: [(String, String)]) -> String {
        var components = URLComponents()
        components.percentEncodedPath = (pool.map { "/pools/" + pathComponent($0) } ?? "") + path
        if !query.isEmpty { components.queryItems = query.map { URLQueryItem(name: $0.0, value: $0.1) } }
        let base = server.hasSuffix("/") ? String(server.dropLast()) : server
        return base + (components.string ?? path)
    }

    /// RFC 3339 times, with or without fractions of a second.
    static let decoder: JSONDecoder = {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .custom { decoder in
            let text = try decoder.singleValueContainer().decode(String.self)
            guard let date = parseRFC3339(text) else {
                throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "not an RFC 3339 time: \(text)"))
            }
            return date
        }
        return decoder
    }()

    /// Whether `error` means the request never reached the server (no connection was made).
    private static func neverSent(_ error: any Error) -> Bool {
        if let error = error as? HTTPClientError {
            return error == .connectTimeout || error == .invalidURL || error == .emptyHost || error == .emptyScheme
        }
        // (a TLS handshake that fails ends before the request is written)
        return error is NIOConnectionError || (error as? IOError)?.errnoCode == ECONNREFUSED
            || error is NIOSSLError || error is NIOSSLExtraError
    }

    private static func describe(_ error: any Error) -> String {
        switch error {
        case let error as HTTPClientError where error == .connectTimeout: "no answer to connecting"
        case let error as HTTPClientError where error == .deadlineExceeded || error == .readTimeout: "no answer in time"
        case let error as HTTPClientError where error == .invalidURL || error == .emptyHost || error == .emptyScheme:
            "not a URL (give http://host:port)"
        case let error as HTTPClientError: "\(error)"
        case let error as IOError: String(cString: strerror(error.errnoCode)).lowercased()
        case let error as NIOSSLError where "\(error)".contains("CERTIFICATE_VERIFY_FAILED"):
            "its certificate is not trusted (for a private CA: --cacert PATH or VMRESERVE_CACERT)"
        case let error as NIOSSLExtraError where error == .failedToValidateHostname: "its certificate is not for this host name"
        case is NIOSSLError, is NIOSSLExtraError: "TLS failed: \(error)"
        default: String(describing: error).split(separator: "\n").first.map(String.init) ?? "connection failed"
        }
    }
}

/// An answer: its `data` decoded, and as the gateway sent it (JSON).
public struct Answer<Value: Sendable>: Sendable {
    public let value: Value
    public let data: Data

    /// The same answer, its value seen through `transform` (the data as sent).
    public func map<T>(_ transform: (Value) -> T) -> Answer<T> {
        Answer<T>(value: transform(value), data: data)
    }
}

/// An RFC 3339 time as the API writes it (`2026-12-06T16:02:11.123Z`), fractions optional.
public func parseRFC3339(_ text: String) -> Date? {
    let formatter = ISO8601DateFormatter()
    formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
    return formatter.date(from: text) ?? ISO8601DateFormatter().date(from: text)
}
