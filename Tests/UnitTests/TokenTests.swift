import Reservations
import Testing

@Suite struct TokenTests {
    private static let lowercaseHex = Set("0123456789abcdef")

    @Test func tokensAre64LowercaseHexDigits() {
        for _ in 0..<100 {
            let token = Token.generate()
            #expect(token.count == 64)
            #expect(token.allSatisfy { Self.lowercaseHex.contains($0) }, "\(token)")
        }
    }

    @Test func tokensAreDistinct() {
        let tokens = (0..<10_000).map { _ in Token.generate() }
        #expect(Set(tokens).count == tokens.count)
    }

    @Test func tokensUseEveryHexDigit() {
        let digits = Set((0..<100).flatMap { _ in Token.generate() })
        #expect(digits == Self.lowercaseHex)
    }

    @Test func theDigestIsTheSHA256InLowercaseHex() {
        #expect(TokenDigest(of: "abc").hex == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(TokenDigest(of: "").hex == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(TokenDigest(of: "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq").hex
            == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        let digest = TokenDigest(of: Token.generate())
        #expect(digest.bytes.count == 32)
        #expect(digest.hex.count == 64)
        #expect(digest.hex.allSatisfy { Self.lowercaseHex.contains($0) })
    }

    @Test func theDigestHashesTheUTF8Bytes() {
        // "é" as one scalar and as e + combining accent are different bytes, so different digests
        #expect(TokenDigest(of: "\u{E9}") != TokenDigest(of: "e\u{301}"))
        #expect(TokenDigest(of: "\u{E9}").hex == "4a99557e4033c3539de2eb65472017cad5f9557f7a0625a09f1c3f6e2ba69c4c")
    }

    @Test func constantTimeEqualsComparesTheWholeDigest() {
        let token = Token.generate()
        let digest = TokenDigest(of: token)
        #expect(digest.constantTimeEquals(TokenDigest(of: token)))
        #expect(digest.constantTimeEquals(digest))
        #expect(!digest.constantTimeEquals(TokenDigest(of: token + "x")))
        #expect(!digest.constantTimeEquals(TokenDigest(of: Token.generate())))
        #expect(!digest.constantTimeEquals(TokenDigest(of: String(token.dropLast()))))
        for _ in 0..<100 {
            let other = TokenDigest(of: Token.generate())
            #expect(digest.constantTimeEquals(other) == (digest == other))
        }
    }
}
