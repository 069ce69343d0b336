import Foundation
import GatewayTestSupport
import RedisClient
import RedisServerProcess
import Testing
import TestSupport

#if canImport(Glibc)
import Glibc
#endif

/// The web console in a real browser (Tests/console/console_test.py) against `vmreserve serve`
/// processes: the markup pool (a user's VMs and reservations, an admin's pool), development mode,
/// and README's picture.
@Suite(.timeLimit(.minutes(10))) struct BrowserConsoleTests {
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
            let port = try await Self.execGateway("console", provision: """
            id=$(sed -n 's/.*"vm_id" *: *"\\([^"]*\\)".*/\\1/p')
            if [ -e '\(marker.path)' ]; then
              printf '%s\\n' '{"error": "<img src=x onerror=\\"window.__xss=1\\"><script>window.__xss=2</script>"}'
              exit 0
            fi
            printf '{"ip": "198.51.%d.%d", "machine_id": "<b>m-%s</b>"}\\n' $((n / 200)) $((n % 200 + 1)) "$id"
            """, redis: redis, directory: directory, processes: processes)
            let devPort = try freeLoopbackPort()
            _ = try await GatewayProcess.start(["--dev", "--redis-url", redis.description, "--pool", "console-dev-\(UUID().uuidString)",
                                                "--log-level", "warning"],
                                               port: devPort, log: directory.appending(path: "dev-gateway.log"), processes: processes)
            let readmePort = try await Self.realisticPool(redis: redis, directory: directory, processes: processes)
            let screenshots = ProcessInfo.processInfo.environment["VMRESERVE_SCREENSHOTS"]
                ?? repositoryRoot.appending(path: "test-artifacts/console").path
            let names = ["console-admin.png", "console-user.png", "console-reservation.png", "console-readme.png"]
            for name in names {  // so that only this run's screenshots can satisfy the check below
                try? FileManager.default.removeItem(at: URL(fileURLWithPath: screenshots).appending(path: name))
            }
            let report = directory.appending(path: "selenium.log")
            let browser = try processes.start(
                ["python3", repositoryRoot.appending(path: "Tests/console/console_test.py").path, "--url", "http://127.0.0.1:\(port)",
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
        let port = try await execGateway("ec2", provision: """
        input=$(cat)
        id=$(printf '%s' "$input" | sed -n 's/.*"vm_id" *: *"\\([^"]*\\)".*/\\1/p')
        case "$input" in
          *'"size":"large"'*|*'"size": "large"'*)
            echo '{"error": "InsufficientInstanceCapacity: We currently do not have sufficient m6i.xlarge capacity in the Availability Zone you requested (eu-west-1a)."}'
            exit 0 ;;
        esac
        hex=$(printf '%s' "$id" | tr -dc '0-9a-f' | cut -c1-17)
        printf '{"ip": "10.20.%d.%d", "machine_id": "i-%s"}\\n' $((n / 200 + 4)) $((n % 200 + 17)) "$hex"
        """, arguments: ["--sizes", "small=2:4096,medium=4:16384,large=8:32768"], redis: redis, directory: directory,
                                         processes: processes)
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

    /// A `vmreserve serve` on a pool of its own on `redis` (more `arguments` given to it), whose
    /// exec provider provisions with the `sh` commands `provision` and deprovisions anything;
    /// answers its port. The commands find in `$n` a number no other call gets (0, 1, 2… in the
    /// order of the calls, which run concurrently), for addresses that never collide.
    static func execGateway(_ name: String, provision script: String, arguments: [String] = [], redis: RedisURL, directory: URL,
                            processes: TestProcesses) async throws -> Int {
        let provision = directory.appending(path: "\(name)-provision.sh"), deprovision = directory.appending(path: "\(name)-deprovision.sh")
        let counter = #"n=$(flock "$0.lock" sh -c 'n=$(cat "$1" 2>/dev/null || echo 0); echo $((n + 1)) > "$1"; echo "$n"' sh "$0.count")"#
        try ("#!/bin/sh\n" + counter + "\n" + script).write(to: provision, atomically: true, encoding: .utf8)
        try "#!/bin/sh\ncat >/dev/null\necho '{}'\n".write(to: deprovision, atomically: true, encoding: .utf8)
        for file in [provision, deprovision] { chmod(file.path, 0o755) }
        let port = try freeLoopbackPort()
        _ = try await GatewayProcess.start(["--redis-url", redis.description, "--pool", "\(name)-\(UUID().uuidString)",
                                            "--admin-token", adminToken, "--log-level", "warning", "--provider", "exec",
                                            "--provision-cmd", provision.path, "--deprovision-cmd", deprovision.path] + arguments,
                                           port: port, log: directory.appending(path: "\(name)-gateway.log"), processes: processes)
        return port
    }
}
