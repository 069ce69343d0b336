import Foundation
import Logging
import Reservations
import Synchronization

/// The tokens of the built-in admin, as SHA-256 digests: those given on the command line, and
/// those of `--admin-token-file`, read again whenever the file changes. Several may be valid at
/// once, which is how the admin token is rotated without downtime: add the new one, move the
/// clients over, remove the old one.
public final class AdminTokens: Sendable {
    private let fixed: [TokenDigest]
    private let fromFile = Mutex<[TokenDigest]>([])

    public init(_ tokens: [String]) {
        fixed = tokens.map(TokenDigest.init(of:))
    }

    /// True when `digest` is an admin token's. Compares with every token, each in constant time,
    /// so the time taken says nothing about which one matched, or how nearly.
    func matches(_ digest: TokenDigest) -> Bool {
        var matched = false
        for token in fixed { matched = token.constantTimeEquals(digest) || matched }
        fromFile.withLock { tokens in
            for token in tokens { matched = token.constantTimeEquals(digest) || matched }
        }
        return matched
    }

    func replaceFileTokens(_ tokens: [String]) {
        let digests = tokens.map(TokenDigest.init(of:))
        fromFile.withLock { $0 = digests }
    }

    /// The tokens of a token file: one per line; blank lines and lines starting with `#` are
    /// skipped. Every token has at least 16 characters and no spaces.
    public static func parseFile(_ text: String) throws(TokenFileError) -> [String] {
        var tokens: [String] = []
        for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let token = line.trimmingCharacters(in: .whitespaces)
            if token.isEmpty || token.hasPrefix("#") { continue }
            guard token.count >= 16, !token.contains(" ") else {
                throw TokenFileError("line \(number + 1): a token has at least 16 characters and no spaces")
            }
            tokens.append(token)
        }
        return tokens
    }

    public struct TokenFileError: Error, CustomStringConvertible {
        public let description: String
        init(_ description: String) { self.description = description }
    }
}

extension AdminTokens {
    /// Reads a token file into `tokens`: a bad file stops the start, or, once serving, leaves the
    /// tokens as they were (`FileWatcher` says so in the log, never the tokens themselves).
    static func load(_ path: String, into tokens: AdminTokens) throws {
        let text = try String(contentsOfFile: path, encoding: .utf8)
        tokens.replaceFileTokens(try AdminTokens.parseFile(text))
    }
}
