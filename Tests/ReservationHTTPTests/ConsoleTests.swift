import Foundation
import RedisClient
import RedisServerProcess
import Testing
import TestSupport

/// The web console at `/ui`: served with a strict Content-Security-Policy and no inline script
/// or style, and used for real in headless Chromium (Tests/console/console_test.py, Selenium).
@Suite(.timeLimit(.minutes(10))) struct ConsoleTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    @Test func theConsoleIsServedWithAStrictPolicyAndNoInlineScriptOrStyle() async throws {
        try await withGateway { gateway async throws in
            let page = try await gateway.call(.GET, "/ui", token: nil)
            #expect(page.status == 200 && page.headers["Content-Type"].first == "text/html; charset=utf-8")
            let policy = try #require(page.headers["Content-Security-Policy"].first)
            #expect(policy.contains("default-src 'none'") && policy.contains("script-src 'self'") && policy.contains("style-src 'self'"))
            #expect(!policy.contains("unsafe"))
            #expect(page.headers["X-Content-Type-Options"].first == "nosniff")
            #expect(page.text == (try String(contentsOf: Self.repository.appending(path: "console/index.html"), encoding: .utf8)))
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

    /// Headless Chromium (Debian's `chromium` and `chromium-driver`) and Selenium (PyPI), which
    /// `scripts/install-deps.sh --test` installs; screenshots go to test-artifacts/console/ (or
    /// $VMRESERVE_SCREENSHOTS).
    @Test func aRealBrowserSignsInChecksOutAndSeesTheGaugeChange() async throws {
        for tool in ["chromium", "chromedriver", "python3"] where !isOnPath(tool) {
            throw TestSupportError("\(tool) is not installed: scripts/install-deps.sh --test installs it")
        }
        try await withTestProcesses { processes in
            let redis = try await SharedRedis.url()
            let directory = try processes.temporaryDirectory("console")
            let marker = directory.appending(path: "fail")
            // the provider: machines named with markup; once the marker exists, a failure whose
            // message is markup
            let provision = directory.appending(path: "provision.sh")
            try """
            #!/bin/sh
            id=$(sed -n 's/.*"vm_id" *: *"\\([^"]*\\)".*/\\1/p')
            if [ -e '\(marker.path)' ]; then
              printf '%s\\n' '{"error": "<img src=x onerror=\\"window.__xss=1\\"><script>window.__xss=2</script>"}'
              exit 0
            fi
            a=$(printf '%d' "0x$(printf '%s' "$id" | cut -c1-2)")
            b=$(printf '%d' "0x$(printf '%s' "$id" | cut -c3-4)")
            printf '{"ip": "198.51.%d.%d", "machine_id": "<b>m-%s</b>"}\\n' "$a" "$b" "$id"
            """.write(to: provision, atomically: true, encoding: .utf8)
            let deprovision = directory.appending(path: "deprovision.sh")
            try "#!/bin/sh\ncat >/dev/null\necho '{}'\n".write(to: deprovision, atomically: true, encoding: .utf8)
            for script in [provision, deprovision] { chmod(script.path, 0o755) }
            let port = try freeLoopbackPort()
            _ = try await GatewayProcess.start(["--redis-url", redis.description, "--pool", "console-\(UUID().uuidString)",
                                                "--admin-token", adminToken, "--log-level", "warning", "--provider", "exec",
                                                "--provision-cmd", provision.path, "--deprovision-cmd", deprovision.path],
                                               port: port, log: directory.appending(path: "gateway.log"), processes: processes)
            let devPort = try freeLoopbackPort()
            _ = try await GatewayProcess.start(["--dev", "--redis-url", redis.description, "--pool", "console-dev-\(UUID().uuidString)",
                                                "--log-level", "warning"],
                                               port: devPort, log: directory.appending(path: "dev-gateway.log"), processes: processes)
            let readmePort = try await Self.realisticPool(redis: redis, directory: directory, processes: processes)
            let screenshots = ProcessInfo.processInfo.environment["VMRESERVE_SCREENSHOTS"]
                ?? Self.repository.appending(path: "test-artifacts/console").path
            let names = ["console-admin.png", "console-user.png", "console-readme.png"]
            for name in names {  // so that only this run's screenshots can satisfy the check below
                try? FileManager.default.removeItem(at: URL(fileURLWithPath: screenshots).appending(path: name))
            }
            let report = directory.appending(path: "selenium.log")
            let browser = try processes.start(
                ["python3", Self.repository.appending(path: "Tests/console/console_test.py").path, "--url", "http://127.0.0.1:\(port)",
                 "--admin-token", adminToken, "--fail-marker", marker.path, "--screenshots", screenshots,
                 "--dev-url", "http://127.0.0.1:\(devPort)", "--readme-url", "http://127.0.0.1:\(readmePort)"],
                output: .file(report))
            let code = await browser.waitForExit()
            let text = (try? String(contentsOf: report, encoding: .utf8)) ?? ""
            #expect(code == 0, "the console test failed:\n\(text.suffix(6000))")
            #expect(text.contains("console test passed"))
            for name in names {
                #expect(FileManager.default.fileExists(atPath: URL(fileURLWithPath: screenshots).appending(path: name).path))
            }
        }
    }

    /// A gateway on a pool as an operator would see it, for README's picture: EC2-like machines
    /// of three sizes, a large one the cloud had no capacity for, and three people's VMs with
    /// leases running (one of them renewed). Answers the gateway's port.
    static func realisticPool(redis: RedisURL, directory: URL, processes: TestProcesses) async throws -> Int {
        let provision = directory.appending(path: "ec2-provision.sh")
        try """
        #!/bin/sh
        input=$(cat)
        id=$(printf '%s' "$input" | sed -n 's/.*"vm_id" *: *"\\([^"]*\\)".*/\\1/p')
        case "$input" in
          *'"size":"large"'*|*'"size": "large"'*)
            echo '{"error": "InsufficientInstanceCapacity: We currently do not have sufficient m6i.xlarge capacity in the Availability Zone you requested (eu-west-1a)."}'
            exit 0 ;;
        esac
        hex=$(printf '%s' "$id" | tr -dc '0-9a-f' | cut -c1-17)
        a=$(printf '%d' "0x$(printf '%s' "$hex" | cut -c1-2)")
        b=$(printf '%d' "0x$(printf '%s' "$hex" | cut -c3-4)")
        printf '{"ip": "10.20.%d.%d", "machine_id": "i-%s"}\\n' "$a" "$b" "$hex"
        """.write(to: provision, atomically: true, encoding: .utf8)
        let deprovision = directory.appending(path: "ec2-deprovision.sh")
        try "#!/bin/sh\ncat >/dev/null\necho '{}'\n".write(to: deprovision, atomically: true, encoding: .utf8)
        for script in [provision, deprovision] { chmod(script.path, 0o755) }
        let port = try freeLoopbackPort()
        _ = try await GatewayProcess.start(["--redis-url", redis.description, "--pool", "console-readme-\(UUID().uuidString)",
                                            "--admin-token", adminToken, "--log-level", "warning", "--provider", "exec",
                                            "--provision-cmd", provision.path, "--deprovision-cmd", deprovision.path,
                                            "--sizes", "small=2:4096,medium=4:16384,large=8:32768"],
                                           port: port, log: directory.appending(path: "readme-gateway.log"), processes: processes)
        let gateway = Gateway(port: port)
        for (size, count) in [("small", 6), ("medium", 3), ("large", 1)] {
            _ = try await gateway.call(.POST, "/v1/admin/vms", body: #"{"count": \#(count), "size": "\#(size)"}"#)
        }
        try await waitUntil("the machines are made") {
            let counts = (try? await gateway.call(.GET, "/v1/admin/pool"))?.data?["counts"] as? [String: Int]
            return counts?["available"] == 9 && counts?["error"] == 1
        }
        for (user, leases) in [("alice", [3600, 9000]), ("bob", [2700]), ("ci-runner", [900])] {
            let token = try await gateway.createUser(user, quota: 3)
            for lease in leases {
                let size = lease == 9000 ? "medium" : "small"
                let checkout = try await gateway.call(.POST, "/v1/checkouts", token: token,
                                                      body: #"{"lease_seconds": \#(lease), "size": "\#(size)"}"#)
                #expect(checkout.status == 201, "\(checkout.text)")
            }
        }
        return port
    }
}
