import Testing
@testable import vmreserve

/// How the command-line client writes what it shows.
@Suite struct ClientFormattingTests {
    /// Reservations' short forms: 8 characters, more when two share their start, one length for all.
    @Test func shortFormsAreUniqueAndOfOneLength() {
        #expect(shortForms(of: []).isEmpty)
        #expect(shortForms(of: ["3f2a9c4e-0000-4000-8000-000000000001"]) == ["3f2a9c4e-0000-4000-8000-000000000001": "3f2a9c4e"])
        let shared = ["3f2a9c4e-1111-4000-8000-000000000001", "3f2a9c4e-1122-4000-8000-000000000002", "0b7d2e61-0000-4000-8000-000000000003"]
        #expect(shortForms(of: Set(shared)) == [shared[0]: "3f2a9c4e-111", shared[1]: "3f2a9c4e-112", shared[2]: "0b7d2e61-000"])
    }
}
