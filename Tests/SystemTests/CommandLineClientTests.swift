import Foundation
import GatewayTestSupport
import Processes
import RedisServerProcess
import Testing
import TestSupport

/// The `vmreserve` client commands, run as users run them: the real binary, in a process of its
/// own, against a real gateway and Redis, with a home and config folder of the test's own.
@Suite(.timeLimit(.minutes(10))) struct CommandLineClientTests {
    /// What a finished command left: its exit code, standard output and standard error.
    struct Outcome: CustomStringConvertible {
        let code: Int32
        let output: String
        let errors: String

        var description: String { "exit \(code)\nstdout: \(output)\nstderr: \(errors)" }
        /// The output's lines.
        var lines: [String] { output.split(separator: "\n").map(String.init) }
        /// True when standard error is exactly one line starting `vmreserve: `.
        var saysOneLine: Bool { errors.hasPrefix("vmreserve: ") && errors.filter { $0 == "\n" }.count == 1 }
    }

    /// The client as one user on one machine: a home folder of its own, no VMRESERVE_* variables
    /// but those given.
    struct Client {
        let home: URL
        let server: String

        init(gateway: Gateway, processes: TestProcesses) throws {
            try self.init(server: "http://127.0.0.1:\(gateway.port)", processes: processes)
        }

        init(server: String, processes: TestProcesses) throws {
            home = try processes.temporaryDirectory("cli-home")
            self.server = server
        }

        var configFile: URL { home.appending(path: "config/vmreserve/config.json") }

        /// The environment of a command: the server and token (when given) as variables.
        func environment(token: String?, server: String?, _ extra: [String: String]) -> [String: String] {
            var environment = ["PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin", "HOME": home.path,
                               "XDG_CONFIG_HOME": home.appending(path: "config").path]
            if let server { environment["VMRESERVE_SERVER"] = server }
            if let token { environment["VMRESERVE_TOKEN"] = token }
            return environment.merging(extra) { _, new in new }
        }

        /// Starts `vmreserve arguments…`; its output goes to files `tag`.out and `tag`.err.
        func start(_ arguments: [String], token: String?, server: String? = nil, input: String? = nil, tag: String,
                   environment extra: [String: String] = [:]) throws -> ChildProcess {
            var inputDescriptor: Int32?
            if let input {
                let file = home.appending(path: "\(tag).in")
                try input.write(to: file, atomically: true, encoding: .utf8)
                inputDescriptor = open(file.path, O_RDONLY)
            }
            defer { if let inputDescriptor { close(inputDescriptor) } }
            return try ChildProcess([GatewayProcess.executable] + arguments,
                                    environment: environment(token: token, server: server ?? self.server, extra), inheritEnvironment: false,
                                    input: inputDescriptor, output: .file(home.appending(path: "\(tag).out")),
                                    errors: .file(home.appending(path: "\(tag).err")), stopsWithThisProcess: true)
        }

        /// What `tag`'s command has written so far.
        func written(_ tag: String) -> (output: String, errors: String) {
            ((try? String(contentsOf: home.appending(path: "\(tag).out"), encoding: .utf8)) ?? "",
             (try? String(contentsOf: home.appending(path: "\(tag).err"), encoding: .utf8)) ?? "")
        }

        /// Runs `vmreserve arguments…` to its end.
        func run(_ arguments: [String], token: String?, server: String? = nil, input: String? = nil,
                 environment extra: [String: String] = [:]) async throws -> Outcome {
            let tag = UUID().uuidString
            let process = try start(arguments, token: token, server: server, input: input, tag: tag, environment: extra)
            let code = await process.waitForExit()
            let (output, errors) = written(tag)
            return Outcome(code: code, output: output, errors: errors)
        }
    }

    /// Whether `text` is an IPv4 address, as the server writes them.
    static func isIP(_ text: some StringProtocol) -> Bool {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 4 && parts.allSatisfy { !$0.isEmpty && $0.allSatisfy(\.isNumber) && Int($0).map { $0 <= 255 } == true }
    }

    @Test func loginStoresTheServerAndTokenForTheUserAloneAndTheVariablesOverrideThem() async throws {
        try await withTestProcesses { processes in
            try await withGateway { gateway async throws in
                let client = try Client(gateway: gateway, processes: processes)
                let alice = try await gateway.createUser("alice", quota: 1)
                // a wrong token, or a server that does not answer: nothing is stored
                let refused = try await client.run(["login", "--server", client.server], token: nil, server: "", input: "wrong-token\n")
                #expect(refused.code == 3 && refused.saysOneLine, "\(refused)")
                let unreachable = try await client.run(["login", "--server", "http://127.0.0.1:\(try freeLoopbackPort())"], token: nil,
                                                       server: "", input: alice + "\n")
                #expect(unreachable.code == 7 && unreachable.saysOneLine, "\(unreachable)")
                #expect(!FileManager.default.fileExists(atPath: client.configFile.path))

                let login = try await client.run(["login", "--server", client.server], token: nil, server: "", input: alice + "\n")
                #expect(login.code == 0 && login.output.isEmpty, "\(login)")
                let attributes = try FileManager.default.attributesOfItem(atPath: client.configFile.path)
                #expect((attributes[.posixPermissions] as? Int) == 0o600)
                let stored = try JSONSerialization.jsonObject(with: Data(contentsOf: client.configFile)) as? [String: Any]
                #expect(stored?["server"] as? String == client.server && stored?["token"] as? String == alice)
                // the stored settings serve the other commands; the variables win over them
                let listed = try await client.run(["ls"], token: nil, server: "")
                #expect(listed.code == 0 && listed.lines == ["IP  ID  RESERVATION  STATUS  LEASE LEFT"], "\(listed)")
                let overridden = try await client.run(["ls"], token: "someone-else", server: "")
                #expect(overridden.code == 3 && overridden.saysOneLine, "\(overridden)")
                // another server (here the same one by another name) never gets the stored token
                let elsewhere = try await client.run(["ls", "--server", "http://localhost:\(gateway.port)"], token: nil, server: "")
                #expect(elsewhere.code == 3 && elsewhere.errors.contains("not signed in"), "\(elsewhere)")
            }
        }
    }

    /// On a terminal, login asks for the token with the echo off, and a Ctrl-C at that prompt
    /// leaves the terminal echoing again. (A pty from util-linux's `script`, whose input is a pipe
    /// of the test's: Ctrl-C is the byte 0x03; the shell ignores it and runs `stty` afterwards.)
    @Test func aCtrlCAtTheTokenPromptGivesTheTerminalItsEchoBack() async throws {
        try await withTestProcesses { processes in
            try await withGateway { gateway async throws in
                let client = try Client(gateway: gateway, processes: processes)
                var ends: [Int32] = [0, 0]
                #expect(pipe(&ends) == 0)
                defer { close(ends[1]) }
                let transcript = client.home.appending(path: "prompt.out")
                let session = client.home.appending(path: "prompt.sh")
                try """
                #!/bin/sh
                trap '' INT
                '\(GatewayProcess.executable)' login --server '\(client.server)'
                echo "status $?"
                stty -a
                """.write(to: session, atomically: true, encoding: .utf8)
                chmod(session.path, 0o755)
                let terminal = try ChildProcess(["script", "-qec", session.path, "/dev/null"],
                                                environment: client.environment(token: nil, server: nil, [:]), inheritEnvironment: false,
                                                input: ends[0], output: .file(transcript), stopsWithThisProcess: true)
                close(ends[0])
                let written = { (try? String(contentsOf: transcript, encoding: .utf8)) ?? "" }
                try await waitUntil("the prompt shows") { written().contains("Token for \(client.server): ") }
                #expect(write(ends[1], [UInt8(3)], 1) == 1)
                try await waitUntil("stty has run") { written().contains("status 130") && written().contains("speed") }
                let settings = written().split(whereSeparator: \.isWhitespace)
                #expect(settings.contains("echo") && !settings.contains("-echo"), "\(written())")
                #expect(!FileManager.default.fileExists(atPath: client.configFile.path))
                _ = await terminal.terminate()
            }
        }
    }

    @Test func checkoutPrintsJustTheIPAndTheOtherCommandsFindTheVM() async throws {
        try await withTestProcesses { processes in
            try await withGateway { gateway async throws in
                let client = try Client(gateway: gateway, processes: processes)
                try await gateway.createVMs(2)
                let alice = try await gateway.createUser("alice", quota: 2)

                let checkout = try await client.run(["checkout", "--lease", "1h"], token: alice)
                #expect(checkout.code == 0 && checkout.errors.isEmpty, "\(checkout)")
                let ip = try #require(checkout.lines.first)
                #expect(checkout.lines.count == 1 && Self.isIP(ip), "\(checkout)")
                let json = try await client.run(["checkout", "--json"], token: alice)
                let second = try #require(try JSONSerialization.jsonObject(with: Data(json.output.utf8)) as? [String: Any])
                let secondID = try #require(second["vm_id"] as? String)
                #expect(second["status"] as? String == "checked-out" && second["user"] as? String == "alice")

                let listed = try await client.run(["ls"], token: alice)
                #expect(listed.code == 0 && listed.lines.count == 3, "\(listed)")
                #expect(listed.lines[0].hasPrefix("IP ") && listed.lines[0].contains("LEASE LEFT"))
                let row = try #require(listed.lines.first { $0.hasPrefix(ip + " ") })
                // (a slow machine may show a second or more gone: 59m59s)
                let left = String(row.split(separator: " ").last ?? "")
                #expect(row.contains("checked-out") && left.wholeMatch(of: /1h00m|[1-5]?\dm(\d{1,2}s)?/) != nil, "a lease of about an hour: \(row)")
                #expect(listed.lines.contains { $0.contains(secondID) && $0.hasSuffix(" -") }, "no lease: \(listed)")
                let columns = listed.lines.map { $0.range(of: "checked-out")?.lowerBound.utf16Offset(in: $0) }
                #expect(Set(columns.dropFirst()).count == 1, "aligned: \(listed.output)")
                let listedJSON = try JSONSerialization.jsonObject(with: Data(try await client.run(["ls", "--json"], token: alice).output.utf8))
                #expect((listedJSON as? [[String: Any]])?.count == 2)

                let renewed = try await client.run(["renew", ip, "--lease", "2h"], token: alice)
                #expect(renewed.code == 0 && renewed.output.hasPrefix("\(ip) leased until ") && (renewed.output.contains("(2h00m left)") || renewed.output.contains("(1h59m left)")),
                        "\(renewed)")
                let byID = try await client.run(["renew", secondID, "--lease", "90s", "--json"], token: alice)
                #expect((try JSONSerialization.jsonObject(with: Data(byID.output.utf8)) as? [String: Any])?["lease_expires_at"] is String,
                        "\(byID)")

                #expect(try await client.run(["checkin", ip], token: alice).code == 0)
                let checkedIn = try await client.run(["checkin", secondID, "--json"], token: alice)
                #expect(checkedIn.code == 0 && checkedIn.output.contains(#""status" : "available""#), "\(checkedIn)")
                #expect(try await client.run(["ls"], token: alice).lines.count == 1)
                let again = try await client.run(["checkin", ip], token: alice)
                #expect(again.code != 0 && again.saysOneLine, "\(again)")
            }
        }
    }

    @Test func exitCodesSayWhatWentWrongInOneLine() async throws {
        try await withTestProcesses { processes in
            try await withGateway { gateway async throws in
                let client = try Client(gateway: gateway, processes: processes)
                let alice = try await gateway.createUser("alice", quota: 1)
                let none = try await client.run(["checkout"], token: alice)
                #expect(none.code == 4 && none.errors == "vmreserve: No VMs currently available, please try after some time\n", "\(none)")
                try await gateway.createVMs(2)
                #expect(try await client.run(["checkout"], token: alice).code == 0)
                let quota = try await client.run(["checkout"], token: alice)
                #expect(quota.code == 5 && quota.saysOneLine, "\(quota)")
                let unknownVM = try await client.run(["checkin", UUID().uuidString.lowercased()], token: alice)
                #expect(unknownVM.code == 6 && unknownVM.errors == "vmreserve: Could not find a vm with given details\n", "\(unknownVM)")
                let notHeld = try await client.run(["renew", "203.0.113.9"], token: alice)
                #expect(notHeld.code == 6 && notHeld.saysOneLine, "\(notHeld)")
                let badToken = try await client.run(["ls"], token: "not-a-token")
                #expect(badToken.code == 3 && badToken.saysOneLine, "\(badToken)")
                let notAdmin = try await client.run(["admin", "users", "ls"], token: alice)
                #expect(notAdmin.code == 3 && notAdmin.saysOneLine, "\(notAdmin)")
                let signedOut = try await client.run(["ls"], token: nil)
                #expect(signedOut.code == 3 && signedOut.errors.contains("vmreserve login"), "\(signedOut)")
                let unreachable = try await client.run(["ls"], token: alice, server: "http://127.0.0.1:\(try freeLoopbackPort())")
                #expect(unreachable.code == 7 && unreachable.saysOneLine, "\(unreachable)")
                for usage in [["checkout", "--wait", "soon"], ["checkout", "--lease", "forever"], ["with"], ["checkin"], ["frobnicate"]] {
                    let outcome = try await client.run(usage, token: alice)
                    #expect(outcome.code == 64 && !outcome.errors.isEmpty, "\(usage): \(outcome)")
                }
            }
        }
    }

    /// `--wait` longer than the server's `--max-wait`: the client asks again until its own wait
    /// ends, here until another client frees a VM (with `-n 3`, the one that completes the
    /// group: this needs the server's waiting reservations, issue 26). Standard error is no
    /// terminal here, so no spinner.
    @Test(arguments: [nil, 3] as [Int?])
    func aWaitingCheckoutOutlastsTheServersLongestWait(group: Int?) async throws {
        try await withTestProcesses { processes in
            try await withGateway(configure: { $0.maxWait = .seconds(1) }) { gateway async throws in
                let client = try Client(gateway: gateway, processes: processes)
                try await gateway.createVMs(group ?? 1)
                let bob = try await gateway.createUser("bob", quota: 1)
                let alice = try await gateway.createUser("alice", quota: group ?? 1)
                let held = try #require(try await gateway.call(.POST, "/v1/checkouts", token: bob)["ip"])
                let waiting = try client.start(["checkout", "--wait", "600"] + (group.map { ["-n", "\($0)"] } ?? []), token: alice,
                                               tag: "waiting")
                let route = group == nil ? "/v1/checkouts" : "/v1/reservations"
                try await waitUntil("the server's wait ended once") {
                    let metrics = (try? await gateway.call(.GET, "/metrics", token: nil).text) ?? ""
                    return !waiting.isRunning || metrics.contains(#"route="\#(route)",code="503"}"#)
                }
                #expect(waiting.isRunning, "\(client.written("waiting"))")
                #expect(try await gateway.call(.POST, "/v1/checkins", token: bob, body: #"{"ip": "\#(held)"}"#).status == 200)
                #expect(await waiting.waitForExit() == 0, "\(client.written("waiting"))")
                let printed = client.written("waiting").output.split(separator: "\n").map(String.init)
                #expect(printed.count == (group ?? 1) && printed.contains(held), "\(printed)")
                #expect(client.written("waiting").errors.isEmpty, "no spinner without a terminal")
                if group != nil {
                    let reservations = try await Self.reservations(gateway, token: alice)
                    #expect(reservations.count == 1 && Self.ips(of: reservations.first) == Set(printed), "one reservation holds them")
                }
            }
        }
    }

    /// On a terminal (a pty, from util-linux's `script`), a waiting checkout shows a spinner with
    /// the time waited on standard error, and clears it before the IP is printed.
    @Test func aWaitingCheckoutSpinsOnATerminal() async throws {
        try await withTestProcesses { processes in
            try await withGateway { gateway async throws in
                let client = try Client(gateway: gateway, processes: processes)
                try await gateway.createVMs(1)
                let bob = try await gateway.createUser("bob", quota: 1)
                let alice = try await gateway.createUser("alice", quota: 1)
                let held = try #require(try await gateway.call(.POST, "/v1/checkouts", token: bob)["ip"])
                let transcript = client.home.appending(path: "terminal.out")
                let terminal = try ChildProcess(["script", "-qec", "\(GatewayProcess.executable) checkout --wait 600", "/dev/null"],
                                                environment: client.environment(token: alice, server: client.server, [:]),
                                                inheritEnvironment: false, output: .file(transcript), stopsWithThisProcess: true)
                let written = { (try? String(contentsOf: transcript, encoding: .utf8)) ?? "" }
                try await waitUntil("the spinner shows") { written().contains("waiting for a VM 1s") }
                #expect(try await gateway.call(.POST, "/v1/checkins", token: bob, body: #"{"ip": "\#(held)"}"#).status == 200)
                #expect(await terminal.waitForExit() == 0)
                let output = written()
                #expect(output.contains("⠋ waiting for a VM 0s") && output.contains("\r\u{1B}[K"), "\(output.debugDescription)")
                #expect(output.hasSuffix("\u{1B}[K" + held + "\r\n"), "the IP on a clean line: \(output.debugDescription)")
            }
        }
    }

    @Test func withRunsTheCommandAndChecksTheVMInAfterSuccessFailureAndSIGTERM() async throws {
        try await withTestProcesses { processes in
            try await withGateway { gateway async throws in
                let client = try Client(gateway: gateway, processes: processes)
                try await gateway.createVMs(1)
                let alice = try await gateway.createUser("alice", quota: 1)
                func heldByAlice() async throws -> Int {
                    try await gateway.call(.GET, "/v1/vms/mine", token: alice).items?.count ?? -1
                }

                let success = try await client.run(["with", "--", "sh", "-c", #"echo "$VMRESERVE_IP $VMRESERVE_VM_ID""#], token: alice)
                #expect(success.code == 0, "\(success)")
                let words = success.output.split(separator: " ").map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
                #expect(words.count == 2 && Self.isIP(words[0]) && words[1].count == 36, "\(success)")
                #expect(try await heldByAlice() == 0)

                let failure = try await client.run(["with", "--", "sh", "-c", "exit 3"], token: alice)
                #expect(failure.code == 3, "\(failure)")
                #expect(try await heldByAlice() == 0)
                let missing = try await client.run(["with", "--", "no-such-command-here"], token: alice)
                #expect(missing.code == 127, "\(missing)")
                #expect(try await heldByAlice() == 0)
                // a checkin that fails after the command (it checked the VM in itself): a warning, and the command's status
                let selfReturning = try await client.run(
                    ["with", "--", "sh", "-c", "\"$0\" checkin \"$VMRESERVE_VM_ID\" && exit 5", GatewayProcess.executable], token: alice)
                #expect(selfReturning.code == 5 && selfReturning.errors.hasPrefix("vmreserve: could not check in "), "\(selfReturning)")
                #expect(try await heldByAlice() == 0)

                // SIGTERM to vmreserve: passed on to the command, then the checkin, then its status
                let running = try client.start(["with", "--", "sh", "-c", "echo started; exec sleep 600"], token: alice, tag: "term")
                try await waitUntil("the command runs") { client.written("term").output.contains("started") }
                #expect(try await heldByAlice() == 1)
                running.signal(SIGTERM)
                #expect(await running.waitForExit() == 128 + SIGTERM)
                #expect(try await heldByAlice() == 0)
            }
        }
    }

    /// `with --lease`: the lease is renewed while the command runs, so it never runs out under it.
    @Test func withRenewsTheLeaseWhileTheCommandRuns() async throws {
        try await withTestProcesses { processes in
            try await withGateway { gateway async throws in
                let client = try Client(gateway: gateway, processes: processes)
                let id = try #require(try await gateway.createVMs(1).first?["vm_id"] as? String)
                let alice = try await gateway.createUser("alice", quota: 1)
                let go = client.home.appending(path: "go")
                let running = try client.start(["with", "--lease", "6s", "--", "sh", "-c", "while [ ! -e '\(go.path)' ]; do sleep 0.1; done"],
                                               token: alice, tag: "renewing")
                try await waitUntil("the lease is renewed") {
                    let events = (try? await gateway.call(.GET, "/v1/admin/events?vm_id=\(id)&limit=1000"))?.data?["items"] as? [[String: Any]]
                    return events?.contains { $0["action"] as? String == "renew" } == true
                }
                FileManager.default.createFile(atPath: go.path, contents: nil)
                #expect(await running.waitForExit() == 0, "\(client.written("renewing"))")
                let events = try await gateway.call(.GET, "/v1/admin/events?vm_id=\(id)&limit=1000").data?["items"] as? [[String: Any]] ?? []
                #expect(events.compactMap { $0["action"] as? String }.filter { $0 != "renew" } == ["create", "checkout", "checkin"])
            }
        }
    }

    @Test func adminCommandsManageVMsThePoolAndUsers() async throws {
        try await withTestProcesses { processes in
            try await withGateway { gateway async throws in
                let client = try Client(gateway: gateway, processes: processes)
                let created = try await client.run(["admin", "vms", "create", "-n", "3"], token: adminToken)
                #expect(created.code == 0 && created.lines.count == 4 && created.lines[0].hasPrefix("ID "), "\(created)")
                let available = try await client.run(["admin", "vms", "ls", "--status", "available"], token: adminToken)
                #expect(available.lines.count == 4, "\(available)")
                let capped = try await client.run(["admin", "pool", "set-cap", "10"], token: adminToken)
                #expect(capped.code == 0 && capped.lines.contains { $0.hasPrefix("max_vm_count") && $0.hasSuffix(" 10") }, "\(capped)")
                let shown = try await client.run(["admin", "pool"], token: adminToken)
                #expect(shown.lines.contains { $0.hasPrefix("available") && $0.hasSuffix(" 3") }, "\(shown)")

                let added = try await client.run(["admin", "users", "add", "bob", "--quota", "2"], token: adminToken)
                let bob = added.output.trimmingCharacters(in: .whitespacesAndNewlines)
                #expect(added.code == 0 && bob.count == 64, "\(added)")
                #expect(try await client.run(["checkout"], token: bob).code == 0)
                let users = try await client.run(["admin", "users", "ls"], token: adminToken)
                #expect(users.lines.first == "NAME  ROLE  QUOTA  HELD" && users.lines.contains("bob   user  2      1"), "\(users)")
                #expect(try await client.run(["admin", "users", "set-quota", "bob", "3"], token: adminToken).code == 0)
                let listed = try JSONSerialization.jsonObject(
                    with: Data(try await client.run(["admin", "users", "ls", "--json"], token: adminToken).output.utf8)) as? [[String: Any]]
                #expect(listed?.first { $0["name"] as? String == "bob" }?["quota"] as? Int == 3)
                let rotated = try await client.run(["admin", "users", "rotate-token", "bob"], token: adminToken)
                let newBob = rotated.output.trimmingCharacters(in: .whitespacesAndNewlines)
                #expect(rotated.code == 0 && newBob.count == 64 && newBob != bob, "\(rotated)")
                #expect(try await client.run(["ls"], token: bob).code == 3)
                let bobs = try await client.run(["ls"], token: newBob)
                #expect(bobs.code == 0 && bobs.lines.count == 2)
                let refused = try await client.run(["admin", "users", "rm", "bob"], token: adminToken)
                #expect(refused.code == 1 && refused.saysOneLine, "bob holds a VM: \(refused)")
                let heldIP = try #require(bobs.lines[1].split(separator: " ").first.map(String.init))
                #expect(try await client.run(["checkin", heldIP], token: newBob).code == 0)
                #expect(try await client.run(["admin", "users", "rm", "bob"], token: adminToken).code == 0)
                #expect(try await client.run(["admin", "users", "rm", "bob"], token: adminToken).code == 6)

                let id = try #require(available.lines[1].split(separator: " ").first.map(String.init))
                #expect(try await client.run(["admin", "vms", "rm", id], token: adminToken).code == 0)
                let left = try await client.run(["admin", "vms", "ls", "--json"], token: adminToken)
                let ids = (try JSONSerialization.jsonObject(with: Data(left.output.utf8)) as? [[String: Any]])?.compactMap { $0["vm_id"] as? String }
                #expect(ids?.count == 2 && ids?.contains(id) == false, "\(left)")
                #expect(try await client.run(["admin", "vms", "rm", id], token: adminToken).code == 6)
            }
        }
    }

    @Test func poolChoosesAPoolOfAGatewayThatServesSeveral() async throws {
        try await withTestProcesses { processes in
            let red = "red-\(UUID().uuidString)", blue = "blue-\(UUID().uuidString)"
            try await withGateways(pool: red, configure: { $0.pools = [red, blue] }) { gateways in
                let client = try Client(gateway: gateways[0], processes: processes)
                let blueIDs = try await gateways[0].pool(blue).createVMs(1).compactMap { $0["vm_id"] as? String }
                let carol = try await gateways[0].pool(blue).createUser("carol", quota: 1)
                #expect(try await client.run(["checkout"], token: carol).code == 3, "carol is blue's, not red's")
                let checkout = try await client.run(["checkout", "--pool", blue, "--json"], token: carol)
                let vm = try JSONSerialization.jsonObject(with: Data(checkout.output.utf8)) as? [String: Any]
                #expect(blueIDs == [vm?["vm_id"] as? String ?? ""], "\(checkout)")
                // stored at login, as the server is
                _ = try await client.run(["login", "--server", client.server, "--pool", blue], token: nil, server: "", input: carol + "\n")
                #expect(try await client.run(["ls"], token: nil, server: "").lines.count == 2)
                let elsewhere = try await client.run(["ls", "--pool", "green"], token: nil, server: "")
                #expect(elsewhere.code == 6 && elsewhere.saysOneLine, "\(elsewhere)")
            }
        }
    }

    @Test func completionScriptsComeFromTheCommands() async throws {
        try await withTestProcesses { processes in
            try await withGateway { gateway async throws in
                let client = try Client(gateway: gateway, processes: processes)
                for shell in ["bash", "zsh", "fish"] {
                    let script = try await client.run(["--generate-completion-script", shell], token: nil)
                    #expect(script.code == 0 && script.output.contains("checkout") && script.output.contains("rotate-token"), "\(shell)")
                }
            }
        }
    }
}
