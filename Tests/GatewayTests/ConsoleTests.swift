import Foundation
import GatewayTestSupport
import RedisClient
import RedisServerProcess
import Testing
import TestSupport

/// The web console at `/ui`: served with a strict Content-Security-Policy and no inline script
/// or style. (BrowserConsoleTests, a system test, uses it in a real browser.)
@Suite(.timeLimit(.minutes(10))) struct ConsoleTests {

    @Test func theConsoleIsServedWithAStrictPolicyAndNoInlineScriptOrStyle() async throws {
        try await withGateway { gateway async throws in
            let page = try await gateway.call(.GET, "/ui", token: nil)
            #expect(page.status == 200 && page.headers["Content-Type"].first == "text/html; charset=utf-8")
            let policy = try #require(page.headers["Content-Security-Policy"].first)
            #expect(policy.contains("default-src 'none'") && policy.contains("script-src 'self'") && policy.contains("style-src 'self'"))
            #expect(!policy.contains("unsafe"))
            #expect(page.headers["X-Content-Type-Options"].first == "nosniff")
            #expect(page.text == (try String(contentsOf: repositoryRoot.appending(path: "console/index.html"), encoding: .utf8)))
            // every script is a file; no handler attribute, style attribute or style element
            let scripts = page.text.matches(of: /<script[^>]*>/).map { String($0.output) }
            #expect(scripts == [#"<script src="/ui/app.js" defer>"#])
            #expect(page.text.firstMatch(of: /\son[a-z]+=|\sstyle=|<style/) == nil)
            let script = try await gateway.call(.GET, "/ui/app.js", token: nil)
            #expect(script.status == 200 && script.headers["Content-Type"].first == "text/javascript; charset=utf-8")
            #expect(!script.text.contains("innerHTML") && !script.text.contains("eval("), "values reach the page as text only")
            #expect(try await gateway.call(.GET, "/ui/style.css", token: nil).headers["Content-Type"].first == "text/css; charset=utf-8")
            #expect(try await gateway.call(.GET, "/ui?token=x", token: nil).status == 400, "no query, so no token in a URL")
        }
    }
}
