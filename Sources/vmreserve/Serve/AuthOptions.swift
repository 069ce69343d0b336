import ArgumentParser
import Foundation
import ReservationHTTP

/// Who may act: the admin's tokens, single sign-on, and limits on failed attempts.
struct AuthOptions: ParsableArguments {
    @Option(help: "Bearer token of the built-in admin; give it twice (old and new) while rotating it. No default: without it, only users created by an admin (or dev mode) can act.")
    var adminToken: [String] = []
    @Option(help: "A file of admin tokens, one per line (# comments), read again whenever it changes: rotate the admin token by adding the new one, then removing the old one, with no restart.")
    var adminTokenFile: String?
    @Option(help: "Failed authentications one client address may make in a minute; after that its requests with a token are answered 429 until the minute ends. 0: no limit.")
    var authFailureLimit = GatewayConfiguration.defaults.authenticationFailureLimit
    @Flag(help: "Take the client's address from the last X-Forwarded-For entry: only behind a proxy that sets it (docker-compose.yml's HAProxy does).")
    var trustForwardedFor = false
    @Option(name: .customLong("oidc-issuer"), help: "Single sign-on: accept JWTs from this OpenID Connect issuer (https://…; its /.well-known/openid-configuration names its keys). Needs --oidc-audience.")
    var oidcIssuer: String?
    @Option(name: .customLong("oidc-audience"), help: "The audience (client id) an identity token must be for.")
    var oidcAudience: String?
    @Option(name: .customLong("oidc-user-claim"), help: "The claim holding the vmreserve user's name.")
    var oidcUserClaim = "sub"

    func apply(to configuration: inout GatewayConfiguration) throws {
        configuration.adminTokens = adminToken
        if adminToken.contains(where: { $0.count < 16 || $0.contains(" ") }) {
            throw ValidationError("--admin-token: use at least 16 characters and no spaces (vmreserve tokens are 64 hex digits)")
        }
        configuration.adminTokenFile = adminTokenFile
        if let path = adminTokenFile {
            do {
                _ = try AdminTokens.parseFile(try String(contentsOfFile: path, encoding: .utf8))
            } catch let error as AdminTokens.TokenFileError {
                throw ValidationError("--admin-token-file: \(error)")
            } catch {
                throw ValidationError("--admin-token-file: cannot read \(path)")
            }
        }
        configuration.authenticationFailureLimit = try OptionChecks.within(authFailureLimit, 0...1_000_000, "auth-failure-limit")
        configuration.trustForwardedFor = trustForwardedFor
        try OptionChecks.together(["oidc-issuer": oidcIssuer != nil, "oidc-audience": oidcAudience != nil])
        if let oidcIssuer, let oidcAudience {
            guard !oidcAudience.isEmpty else { throw ValidationError("--oidc-audience: a client id") }
            guard oidcIssuer.hasPrefix("https://") || oidcIssuer.hasPrefix("http://127.0.0.1") || oidcIssuer.hasPrefix("http://localhost") else {
                throw ValidationError("--oidc-issuer: an https:// URL (http only on loopback)")
            }
            configuration.oidc = OIDCConfiguration(issuer: oidcIssuer, audience: oidcAudience, userClaim: oidcUserClaim)
        }
    }
}
