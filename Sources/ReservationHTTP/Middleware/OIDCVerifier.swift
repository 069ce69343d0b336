import AsyncHTTPClient
import Foundation
import JWTKit
import Logging
import NIOCore
import Synchronization

/// Single sign-on: a bearer token that is a JWT is checked against an OpenID Connect issuer.
public struct OIDCConfiguration: Sendable, Equatable {
    /// The issuer's URL: its `/.well-known/openid-configuration` names the key set (JWKS).
    public var issuer: String
    /// What the token's `aud` must include: this service's client id at the issuer.
    public var audience: String
    /// The claim whose value is the vmreserve user's name.
    public var userClaim: String

    public init(issuer: String, audience: String, userClaim: String = "sub") {
        self.issuer = issuer
        self.audience = audience
        self.userClaim = userClaim
    }
}

/// Verifies identity tokens: signed (RS256/384/512, PS256/384/512 or ES256/384/512, never
/// `none` or a shared-secret algorithm) by a key of the issuer's JWKS, issued by the issuer,
/// for the audience, not expired and already valid (a minute's leeway for clocks). The keys are
/// fetched on first use and again when a token names a key not in them (a rotation at the
/// issuer), at most once every `refreshInterval`.
final class OIDCVerifier: Sendable {
    let configuration: OIDCConfiguration
    let refreshInterval: Duration
    private let logger: Logger
    private let state = Mutex(State())

    private struct State {
        var keys: JWTKeyCollection?
        /// The `kid`s of the issuer's keys as last fetched.
        var kids: Set<String> = []
        var fetched: ContinuousClock.Instant?
    }

    static let allowedAlgorithms: Set<String> = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512"]

    init(configuration: OIDCConfiguration, refreshInterval: Duration = .seconds(1), logger: Logger) {
        self.configuration = configuration
        self.refreshInterval = refreshInterval
        self.logger = logger
    }

    /// Whether a bearer token is a JWT (three base64url parts) rather than a vmreserve token.
    static func looksLikeJWT(_ token: Substring) -> Bool {
        token.utf8.lazy.filter { $0 == UInt8(ascii: ".") }.count == 2
    }

    /// The vmreserve user the token names, nil when it does not verify. The token's header must
    /// name the key (`kid`) among the issuer's: no fallback to some other key.
    func user(for token: String) async -> String? {
        guard let header = Self.header(of: token), let algorithm = header["alg"] as? String,
              Self.allowedAlgorithms.contains(algorithm), let kid = header["kid"] as? String
        else { return nil }
        var known = await keys(refresh: false)
        if known?.kids.contains(kid) != true {
            known = await keys(refresh: true)  // a key the issuer added since?
        }
        guard let known, known.kids.contains(kid),
              let claims = try? await known.keys.verify(token, as: IdentityClaims.self),
              claims.issuer == configuration.issuer, claims.audience.value.contains(configuration.audience),
              let name = claims.strings[configuration.userClaim], !name.isEmpty
        else { return nil }
        return name
    }

    /// The token's header as JSON.
    private static func header(of token: String) -> [String: Any]? {
        guard let header = token.split(separator: ".", omittingEmptySubsequences: false).first,
              let data = Data(base64URLEncoded: String(header))
        else { return nil }
        return try? JSONSerialization.jsonObject(with: data) as? [String: Any]
    }

    /// The issuer's keys, fetched when there are none yet, or with `refresh` when the last fetch
    /// is `refreshInterval` old.
    private func keys(refresh: Bool) async -> (keys: JWTKeyCollection, kids: Set<String>)? {
        let (current, kids, fetched) = state.withLock { ($0.keys, $0.kids, $0.fetched) }
        let mayFetch = fetched.map { ContinuousClock.now - $0 >= refreshInterval } ?? true
        guard current == nil || refresh, mayFetch else { return current.map { ($0, kids) } }  // (no fetch for every bad token)
        state.withLock { $0.fetched = .now }
        do {
            let json = try await fetchKeySet()
            let keys = JWTKeyCollection()
            try await keys.add(jwksJSON: json)
            let set = try JSONDecoder().decode(KeySet.self, from: Data(json.utf8))
            let kids = Set(set.keys.compactMap(\.kid))
            state.withLock { state in
                state.keys = keys
                state.kids = kids
            }
            return (keys, kids)
        } catch {
            logger.error("cannot read the OIDC issuer's keys", metadata: ["issuer": "\(configuration.issuer)", "error": "\(error)"])
            return current.map { ($0, kids) }
        }
    }

    private struct KeySet: Decodable {
        struct Key: Decodable { var kid: String? }
        var keys: [Key]
    }

    private func fetchKeySet() async throws -> String {
        let discovery = try await get(configuration.issuer.trimmingSuffix("/") + "/.well-known/openid-configuration")
        guard let document = try JSONSerialization.jsonObject(with: Data(discovery.utf8)) as? [String: Any],
              let jwksURI = document["jwks_uri"] as? String
        else { throw OIDCError("the issuer's discovery document names no jwks_uri") }
        return try await get(jwksURI)
    }

    private func get(_ url: String) async throws -> String {
        let response = try await HTTPClient.shared.execute(HTTPClientRequest(url: url), timeout: .seconds(10))
        guard response.status == .ok else { throw OIDCError("\(url) answered \(response.status.code)") }
        return String(buffer: try await response.body.collect(upTo: 1 << 20))
    }

    struct OIDCError: Error, CustomStringConvertible {
        let description: String
        init(_ description: String) { self.description = description }
    }
}

/// The claims vmreserve reads: `iss`, `aud`, `exp`, `nbf`, and every claim whose value is a
/// string (the user claim is one of them).
struct IdentityClaims: JWTPayload {
    var issuer: String
    var audience: AudienceClaim
    var expiration: ExpirationClaim
    var notBefore: NotBeforeClaim?
    var strings: [String: String]

    private struct Key: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: Key.self)
        issuer = try container.decode(String.self, forKey: Key(stringValue: "iss"))
        audience = try container.decode(AudienceClaim.self, forKey: Key(stringValue: "aud"))
        expiration = try container.decode(ExpirationClaim.self, forKey: Key(stringValue: "exp"))
        notBefore = try container.decodeIfPresent(NotBeforeClaim.self, forKey: Key(stringValue: "nbf"))
        var strings: [String: String] = [:]
        for key in container.allKeys {
            if let value = try? container.decode(String.self, forKey: key) { strings[key.stringValue] = value }
        }
        self.strings = strings
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: Key.self)
        for (name, value) in strings { try container.encode(value, forKey: Key(stringValue: name)) }
        try container.encode(issuer, forKey: Key(stringValue: "iss"))
        try container.encode(audience, forKey: Key(stringValue: "aud"))
        try container.encode(expiration, forKey: Key(stringValue: "exp"))
        try container.encodeIfPresent(notBefore, forKey: Key(stringValue: "nbf"))
    }

    func verify(using algorithm: some JWTAlgorithm) async throws {
        let leeway: TimeInterval = 60
        try expiration.verifyNotExpired(currentDate: Date().addingTimeInterval(-leeway))
        try notBefore?.verifyNotBefore(currentDate: Date().addingTimeInterval(leeway))
    }
}

private extension String {
    func trimmingSuffix(_ suffix: String) -> String {
        hasSuffix(suffix) ? String(dropLast(suffix.count)) : self
    }
}

private extension Data {
    init?(base64URLEncoded text: String) {
        var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        base64 += String(repeating: "=", count: (4 - base64.count % 4) % 4)
        self.init(base64Encoded: base64)
    }
}
