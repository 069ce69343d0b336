import Foundation
import Testing

@testable import ReservationHTTP

@Suite struct JSONWriterTests {
    private func text(_ value: some JSONValue) -> String {
        var json = JSONWriter()
        value.write(to: &json)
        return String(buffer: json.buffer)
    }

    @Test func escapesWhatJSONRequires() throws {
        let tricky = "quote\" backslash\\ newline\n tab\t bell\u{7} é 🚀"
        let written = text(tricky)
        #expect(written == #""quote\" backslash\\ newline\n tab\t bell\u0007 é 🚀""#)
        let parsed = try JSONSerialization.jsonObject(with: Data(written.utf8), options: .fragmentsAllowed) as? String
        #expect(parsed == tricky)
    }

    @Test func separatesMembersOfNestedObjectsAndArrays() {
        let value = JSONObject(fields: ["a": [1, 2, 3], "b": JSONObject(fields: ["c": String?.none, "d": true]), "e": [[Int]]()])
        #expect(text(value) == #"{"a":[1,2,3],"b":{"c":null,"d":true},"e":[]}"#)
    }

    @Test func separatesMembersAtEveryDepthAndAgainAfterAnInnerValueCloses() {
        let value: [[[[[Int]]]]] = [[[[[1, 2], [3]], []], [[[4]]]], []]
        #expect(text(value) == "[[[[[1,2],[3]],[]],[[[4]]]],[]]")
    }
}

@Suite struct RFC3339Tests {
    @Test func writesUnixMillisecondsAsUTCToTheMillisecond() {
        func text(_ milliseconds: Int) -> String {
            var json = JSONWriter()
            json.array([RFC3339.Time(milliseconds)])  // within an array: nothing written past its 24 bytes
            return String(buffer: json.buffer)
        }
        #expect(text(0) == #"["1970-01-01T00:00:00.000Z"]"#)
        #expect(text(1_795_560_002_137) == #"["2026-11-24T22:40:02.137Z"]"#)
        #expect(text(951_782_400_009) == #"["2000-02-29T00:00:00.009Z"]"#)
        #expect(text(951_782_399_999) == #"["2000-02-28T23:59:59.999Z"]"#)
        #expect(text(-1) == #"["1969-12-31T23:59:59.999Z"]"#)
    }

    @Test func aFieldNamedByDataIsEscapedAndTheAPIsOwnAreWrittenAsTheyAre() {
        var json = JSONWriter()
        json.object { object in
            object.field("created_at", RFC3339.Time(0))
            object.field(named: "a \"size\"", 1)
        }
        #expect(String(buffer: json.buffer) == #"{"created_at":"1970-01-01T00:00:00.000Z","a \"size\"":1}"#)
    }
}
