import Foundation
import Testing
import TestSupport

@testable import ReservationHTTP

/// Property tests of request-body checking: every JSON text a client may write is accepted and
/// means what Foundation reads in it; a JSON text changed at random is never accepted unless it
/// is still JSON; nothing makes the check crash.
@Suite struct StrictJSONPropertyTests {
    private func accepts(_ bytes: [UInt8]) -> Bool {
        do throws(StrictJSON.Violation) {
            try StrictJSON.validate(bytes)
            return true
        } catch {
            return false
        }
    }

    /// A random JSON text (distinct member names), written with random spacing and escapes.
    private func json(_ random: inout SeededGenerator, depth: Int) -> String {
        let space = { (random: inout SeededGenerator) in [" ", "", "\n", "\t", "\r\n"].randomElement(using: &random)! }
        switch Int.random(in: 0..<(depth > 0 ? 8 : 6), using: &random) {
        case 0: return ["true", "false", "null"].randomElement(using: &random)!
        case 1: return String(Int.random(in: -1_000_000...1_000_000, using: &random))
        case 2: return ["0.5", "-0", "1e10", "2.5E-3", "-12.125e+2", "0"].randomElement(using: &random)!
        case 3, 4, 5: return string(&random)
        case 6:
            let elements = (0..<Int.random(in: 0..<4, using: &random)).map { _ in space(&random) + json(&random, depth: depth - 1) + space(&random) }
            return "[" + elements.joined(separator: ",") + "]"
        default:
            let names = Set((0..<Int.random(in: 0..<4, using: &random)).map { _ in "k\(Int.random(in: 0..<1000, using: &random))" })
            let members = names.map { space(&random) + "\"\($0)\"" + space(&random) + ":" + space(&random) + json(&random, depth: depth - 1) }
            return "{" + members.joined(separator: ",") + space(&random) + "}"
        }
    }

    private func string(_ random: inout SeededGenerator) -> String {
        let pieces = ["a", "Z", "0", " ", "é", "😀", "\\n", "\\\"", "\\\\", "\\/", "\\u00e9", "\\ud83d\\ude00", "\\t", "-"]
        return "\"" + (0..<Int.random(in: 0..<8, using: &random)).map { _ in pieces.randomElement(using: &random)! }.joined() + "\""
    }

    @Test func everyJSONTextIsAcceptedAndReadAsFoundationReadsIt() {
        let seed = SeededGenerator.seed()
        var random = SeededGenerator(seed: seed)
        for _ in 0..<3000 {
            let text = json(&random, depth: 5)
            #expect(accepts(Array(text.utf8)), "seed \(seed): refused \(text)")
            #expect((try? JSONSerialization.jsonObject(with: Data(text.utf8), options: .fragmentsAllowed)) != nil,
                    "seed \(seed): Foundation cannot read \(text)")
        }
    }

    @Test func aChangedTextIsAcceptedOnlyIfItIsStillJSON() {
        let seed = SeededGenerator.seed()
        var random = SeededGenerator(seed: seed)
        let alphabet = Array("{}[],:\"\\ .-+eE0123456789tfnulrsa/'\u{0}\t\n#".utf8)
        var refused = 0
        for _ in 0..<5000 {
            var bytes = Array(json(&random, depth: 4).utf8)
            for _ in 0..<Int.random(in: 1...3, using: &random) {
                let position = Int.random(in: 0...bytes.count, using: &random)
                switch Int.random(in: 0..<3, using: &random) {
                case 0 where position < bytes.count: bytes.remove(at: position)
                case 1: bytes.insert(alphabet.randomElement(using: &random)!, at: position)
                default: if position < bytes.count { bytes[position] = UInt8.random(in: 0...255, using: &random) }
                }
            }
            if accepts(bytes) {
                // then Foundation reads it too: the check never lets through what is not JSON
                #expect((try? JSONSerialization.jsonObject(with: Data(bytes), options: .fragmentsAllowed)) != nil,
                        "seed \(seed): accepted \(String(decoding: bytes, as: UTF8.self))")
            } else {
                refused += 1
            }
        }
        #expect(refused > 1000, "the changes do break most texts")
    }

    @Test func nestingDeeperThanTheLimitIsRefusedAtAnyLength() {
        for depth in [StrictJSON.maxDepth + 1, 1000, 100_000] {
            let text = String(repeating: "[", count: depth) + String(repeating: "]", count: depth)
            #expect(!accepts(Array(text.utf8)))
        }
        let deepest = String(repeating: "[", count: StrictJSON.maxDepth) + String(repeating: "]", count: StrictJSON.maxDepth)
        #expect(accepts(Array(deepest.utf8)))
    }
}
