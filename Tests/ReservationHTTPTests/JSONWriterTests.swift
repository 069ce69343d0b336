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
}
