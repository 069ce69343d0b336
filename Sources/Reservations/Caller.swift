/// Who is asking, as the scripts learn it from their ARGV[1].
public enum Caller: Sendable, Equatable {
    /// A bearer token, known to scripts only by its SHA-256.
    case token(TokenDigest)
    /// An admin the gateway vouches for itself: the configured admin token (compared in constant
    /// time by the gateway) or the `anonymous` admin of dev mode.
    case trustedAdmin(name: String)
    /// A user the gateway identified itself, by an identity token (OIDC) it verified: the
    /// scripts look the user up by name, with the role vmreserve gave them.
    case verifiedUser(name: String)

    var scriptArgument: String {
        switch self {
        case .token(let digest): "t:" + digest.hex
        case .trustedAdmin(let name): "p:" + name
        case .verifiedUser(let name): "u:" + name
        }
    }
}
