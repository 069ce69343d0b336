import Foundation
import GatewayTestSupport
import Hummingbird
import JWTKit
import Synchronization
import Testing
import TestSupport
@testable import ReservationHTTP

/// Single sign-on against an OpenID Connect issuer the test serves on loopback (its discovery
/// document and JWKS): identity tokens name vmreserve users; expired ones, ones for another
/// audience or issuer, `alg: none`, a wrong signature, an unknown key or user are refused; a key
/// the issuer adds later is fetched when a token first names it.
@Suite(.timeLimit(.minutes(10))) struct OIDCTests {
    struct TestClaims: JWTPayload {
        var iss: IssuerClaim
        var aud: AudienceClaim
        var exp: ExpirationClaim
        var nbf: NotBeforeClaim?
        var sub: SubjectClaim
        var preferred_username: String
        func verify(using algorithm: some JWTAlgorithm) async throws {}
    }

    /// The issuer: `/.well-known/openid-configuration` and `/jwks`, with keys the test changes.
    final class Issuer: Sendable {
        let keys = Mutex<[String]>([])
        let fetches = Atomic(0)

        func add(_ key: ES256PrivateKey, kid: String) {
            let (x, y) = key.parameters!
            keys.withLock { $0.append(#"{"kty":"EC","crv":"P-256","use":"sig","alg":"ES256","kid":"\#(kid)","x":"\#(x)","y":"\#(y)"}"#) }
        }

        func run<T: Sendable>(_ body: @Sendable (String) async throws -> T) async throws -> T {
            let router = Router()
            let port = Mutex(0)
            router.get(".well-known/openid-configuration") { _, _ in
                let base = "http://127.0.0.1:\(port.withLock { $0 })"
                return Response(status: .ok, headers: [.contentType: "application/json"],
                                body: .init(byteBuffer: ByteBuffer(string: #"{"issuer":"\#(base)","jwks_uri":"\#(base)/jwks"}"#)))
            }
            router.get("jwks") { _, _ in
                self.fetches.add(1, ordering: .relaxed)
                let keys = self.keys.withLock { $0.joined(separator: ",") }
                return Response(status: .ok, headers: [.contentType: "application/json"],
                                body: .init(byteBuffer: ByteBuffer(string: #"{"keys":[\#(keys)]}"#)))
            }
            let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
            let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
                                  onServerRunning: { continuation.yield($0.localAddress?.port ?? 0) })
            return try await withThrowingTaskGroup { group in
                group.addTask {
                    try await app.runService(gracefulShutdownSignals: [])
                    return nil as T?
                }
                defer { group.cancelAll() }
                var iterator = ports.makeAsyncIterator()
                let chosen = await iterator.next() ?? 0
                port.withLock { $0 = chosen }
                return try await body("http://127.0.0.1:\(chosen)")
            }
        }
    }

    @Test func identityTokensNameUsersAndEverythingElseIsRefused() async throws {
        let issuer = Issuer()
        let first = ES256PrivateKey(), rotated = ES256PrivateKey(), stranger = ES256PrivateKey()
        issuer.add(first, kid: "k1")
        let signers = JWTKeyCollection()
        await signers.add(ecdsa: first, kid: "k1")
        await signers.add(ecdsa: rotated, kid: "k2")
        let strangers = JWTKeyCollection()
        await strangers.add(ecdsa: stranger, kid: "k1")  // the right kid, the wrong key

        try await issuer.run { url async throws in
            @Sendable func token(user: String = "alice", audience: String = "vmreserve", issuedBy: String = url, expiresIn: TimeInterval = 600,
                       kid: String = "k1", keys: JWTKeyCollection? = nil) async throws -> String {
                try await (keys ?? signers).sign(TestClaims(iss: .init(value: issuedBy), aud: .init(value: [audience, "other-app"]),
                                               exp: .init(value: Date().addingTimeInterval(expiresIn)), nbf: nil,
                                               sub: .init(value: "id-\(user)"), preferred_username: user),
                                    kid: JWKIdentifier(string: kid))
            }
            try await withGateway(configure: {
                $0.oidc = OIDCConfiguration(issuer: url, audience: "vmreserve", userClaim: "preferred_username")
                $0.authenticationFailureLimit = 0
            }) { gateway async throws in
                try await gateway.createVMs(2)
                _ = try await gateway.createUser("alice", quota: 1)
                let valid = try await token()
                let checkout = try await gateway.call(.POST, "/v1/checkouts", token: valid)
                #expect(checkout.status == 201 && checkout["user"] == "alice", "\(checkout.text)")
                #expect(try await gateway.call(.GET, "/v1/admin/pool", token: valid).status == 403, "alice is a user, not an admin")

                let none = [#"{"alg":"none","typ":"JWT"}"#, #"{"iss":"\#(url)","aud":"vmreserve","exp":9999999999,"preferred_username":"alice"}"#]
                    .map { Data($0.utf8).base64EncodedString().replacingOccurrences(of: "=", with: "")
                        .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_") }
                    .joined(separator: ".") + "."
                let refused: [(String, String)] = [
                    ("expired", try await token(expiresIn: -3600)),
                    ("another audience", try await token(audience: "someone-else")),
                    ("another issuer", try await token(issuedBy: "https://evil.example")),
                    ("alg none", none),
                    ("a wrong signature", try await token(keys: strangers)),
                    ("an unknown key", try await token(kid: "k2")),
                    ("a user vmreserve does not have", try await token(user: "mallory")),
                    ("garbage", "a.b.c"),
                ]
                for (what, bad) in refused {
                    let answer = try await gateway.call(.GET, "/v1/vms/mine", token: bad)
                    #expect(answer.status == 401 && answer.code == "unauthorized", "\(what): \(answer.text)")
                }

                // the issuer rotates: a token signed with its new key works once it publishes it
                issuer.add(rotated, kid: "k2")
                let fetchesBefore = issuer.fetches.load(ordering: .relaxed)
                let next = try await token(kid: "k2")
                try await waitUntil("the new key is fetched") {
                    (try? await gateway.call(.GET, "/v1/vms/mine", token: next).status) == 200
                }
                #expect(issuer.fetches.load(ordering: .relaxed) > fetchesBefore)
                #expect(issuer.fetches.load(ordering: .relaxed) < 20, "keys are not fetched for every bad token")
            }
        }
    }
}
