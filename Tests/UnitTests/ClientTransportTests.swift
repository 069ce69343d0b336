import Testing
@testable import vmreserve

/// Where the command-line client may send a token over plain http: to this machine only.
@Suite struct ClientTransportTests {
    @Test(arguments: [
        ("http://127.0.0.1:5000", true), ("http://127.8.9.10", true), ("http://localhost:5000", true),
        ("http://LOCALHOST", true), ("http://[::1]:5000", true), ("http://api.localhost", true),
        ("http://10.0.0.1:5000", false), ("http://0.0.0.0:5000", false), ("http://vmreserve.example.com", false),
        ("http://127.0.0.1.example.com", false), ("http://localhost.example.com", false), ("http://[::ffff:10.0.0.1]", false),
    ])
    func onlyLoopbackHostsAreThisMachine(server: String, isLoopback: Bool) throws {
        let host = try #require(ClientSettings.plainHTTPHost(server))
        #expect(ClientSettings.isLoopback(host) == isLoopback, "\(host)")
    }

    @Test func httpsAndOtherSchemesAreNotPlainHTTP() {
        #expect(ClientSettings.plainHTTPHost("https://vmreserve.example.com") == nil)
        #expect(ClientSettings.plainHTTPHost("HTTP://vmreserve.example.com") == "vmreserve.example.com")
    }
}
