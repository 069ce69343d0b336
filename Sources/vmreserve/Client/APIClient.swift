import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix

/// The gateway's HTTP API as the client commands use it: the bearer token on every request, the
/// pool's `/pools/{pool}` prefix when one is chosen, answers taken out of the envelope, and every
/// failure as a `ClientFailure`.
struct APIClient: Sendable {
    let settings: ClientSettings
    private let http: HTTPClient

    /// Runs `body` with a client for `settings`, shut down after it.
    static func with(_ settings: ClientSettings, _ body: (APIClient) async throws -> Void) async throws {
        var configuration = HTTPClient.Configuration()
        configuration.timeout = .init(connect: .seconds(10))
        configuration.connectionPool.retryConnectionEstablishment = false  // a refused connection is an answer at once
        let http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        do {
            try await body(APIClient(settings: settings, http: http))
            try await http.shutdown()
        } catch {
            try? await http.shutdown()
            throw error
        }
    }

    /// The envelope's `data` of the answer to `method path?query` with `body` as JSON.
    /// - Parameter timeout: how long the answer may take (a waiting checkout's wait and more).
    func call(
        _ method: HTTPMethod, _ path: String, query: [(String, String)] = [], body: [String: Any]? = nil,
        headers: [(String, String)] = [], timeout: Duration = .seconds(60)
    ) async throws(ClientFailure) -> Any {
        var request = HTTPClientRequest(url: url(path, query: query))
        request.method = method
        if let token = settings.token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        request.headers.add(name: "User-Agent", value: "vmreserve-cli")
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let body, let data = try? JSONSerialization.data(withJSONObject: body) {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(bytes: data))
        }
        let status: Int, bytes: ByteBuffer
        do {
            let response = try await http.execute(request, timeout: .nanoseconds(Int64(timeout.components.seconds) * 1_000_000_000))
            status = Int(response.status.code)
            bytes = try await response.body.collect(upTo: 64 << 20)
        } catch {
            throw ClientFailure(kind: .unreachable, message: "cannot reach \(settings.server): \(Self.describe(error))",
                                code: Self.neverSent(error) ? nil : "answer_lost")
        }
        guard let envelope = (try? JSONSerialization.jsonObject(with: Data(buffer: bytes))) as? [String: Any],
              let outcome = envelope["status"] as? String else {
            throw ClientFailure(kind: status == 502 || status == 503 || status == 504 ? .unreachable : .other,
                                message: "\(settings.server) answered HTTP \(status), not vmreserve's JSON: is it a vmreserve gateway?")
        }
        guard outcome == "success", (200..<300).contains(status) else {
            if status == 401, settings.token == nil {
                throw ClientFailure(kind: .authentication, message: "not signed in: run `vmreserve login --server URL`, or set VMRESERVE_TOKEN")
            }
            throw ClientFailure.from(status: status, code: envelope["code"] as? String, message: envelope["message"] as? String)
        }
        return envelope["data"] ?? NSNull()
    }

    private func url(_ path: String, query: [(String, String)]) -> String {
        var components = URLComponents()
        components.percentEncodedPath = (settings.pool.map { "/pools/" + Self.pathComponent($0) } ?? "") + path
        if !query.isEmpty { components.queryItems = query.map { URLQueryItem(name: $0.0, value: $0.1) } }
        let base = settings.server.hasSuffix("/") ? String(settings.server.dropLast()) : settings.server
        return base + (components.string ?? path)
    }

    /// `text` as one path component, percent-encoded.
    static func pathComponent(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-._~"))) ?? text
    }

    /// Whether `error` means the request never reached the server (no connection was made).
    private static func neverSent(_ error: any Error) -> Bool {
        if let error = error as? HTTPClientError {
            return error == .connectTimeout || error == .invalidURL || error == .emptyHost || error == .emptyScheme
        }
        return error is NIOConnectionError || (error as? IOError)?.errnoCode == ECONNREFUSED
    }

    private static func describe(_ error: any Error) -> String {
        switch error {
        case let error as HTTPClientError where error == .connectTimeout: "no answer to connecting"
        case let error as HTTPClientError where error == .deadlineExceeded || error == .readTimeout: "no answer in time"
        case let error as HTTPClientError where error == .invalidURL || error == .emptyHost || error == .emptyScheme:
            "not a URL (give http://host:port)"
        case let error as HTTPClientError: "\(error)"
        case let error as IOError: String(cString: strerror(error.errnoCode)).lowercased()
        default: String(describing: error).split(separator: "\n").first.map(String.init) ?? "connection failed"
        }
    }
}

/// A JSON value as the client prints it with `--json`: sorted keys, indented.
func jsonText(_ value: Any) -> String {
    guard let data = try? JSONSerialization.data(withJSONObject: value, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes, .fragmentsAllowed])
    else { return "null" }
    return String(decoding: data, as: UTF8.self)
}
