import Foundation
import GatewayTestSupport
import Processes
import Testing
import TestSupport

/// The client's reservations (`checkout -n`, `with -n`, `ls`, `reservations`, and `renew` and
/// `checkin` of a reservation), run as users run them against a real gateway and Redis.
extension CommandLineClientTests {
    /// The caller's reservations as the server shows them.
    static func reservations(_ gateway: Gateway, token: String) async throws -> [[String: Any]] {
        try #require(try await gateway.call(.GET, "/v1/reservations/mine", token: token).items)
    }

    /// The IPs of a reservation as the server shows it.
    static func ips(of reservation: [String: Any]?) -> Set<String> {
        Set((reservation?["vms"] as? [[String: Any]] ?? []).compactMap { $0["ip"] as? String })
    }

    /// Runs `body` with a gateway of `vms` VMs, a client of it, and the token of alice, whose
    /// quota is `quota`.
    static func withAlice(vms: Int, quota: Int, _ body: @Sendable (Gateway, Client, String) async throws -> Void) async throws {
        try await withTestProcesses { processes in
            try await withGateway { gateway async throws in
                let client = try Client(gateway: gateway, processes: processes)
                try await gateway.createVMs(vms)
                try await body(gateway, client, try await gateway.createUser("alice", quota: quota))
            }
        }
    }

    /// The pool's count of VMs in `status`.
    static func count(_ gateway: Gateway, _ status: String) async throws -> Int? {
        (try await gateway.call(.GET, "/v1/admin/pool").data?["counts"] as? [String: Int])?[status]
    }

    @Test func checkoutNReservesTheGroupWhichLsShowsAndRenewAndCheckinTakeByItsShortForm() async throws {
        try await Self.withAlice(vms: 5, quota: 5) { gateway, client, alice in
            let checkout = try await client.run(["checkout", "-n", "3", "--lease", "1h"], token: alice)
            #expect(checkout.code == 0 && checkout.errors.isEmpty, "\(checkout)")
            #expect(checkout.lines.count == 3 && Set(checkout.lines).count == 3 && checkout.lines.allSatisfy { Self.isIP($0) }, "\(checkout)")
            let held = try await Self.reservations(gateway, token: alice)
            #expect(held.count == 1 && Self.ips(of: held.first) == Set(checkout.lines), "one reservation holds them: \(held)")
            let id = try #require(held.first?["id"] as? String)
            let single = try #require(try await client.run(["checkout"], token: alice).lines.first)

            let listed = try await client.run(["ls"], token: alice)
            #expect(listed.code == 0 && listed.lines.first?.split(separator: " ") == ["IP", "ID", "RESERVATION", "STATUS", "LEASE", "LEFT"],
                    "\(listed)")
            for ip in checkout.lines {
                let row = try #require(listed.lines.first { $0.hasPrefix(ip + " ") }, "\(listed)")
                #expect(row.split(separator: " ")[2] == id.prefix(8), "the reservation's short form: \(row)")
            }
            let alone = try #require(listed.lines.first { $0.hasPrefix(single + " ") })
            #expect(alone.split(separator: " ")[2] == "-", "a VM checked out alone: \(alone)")
            let json = try JSONSerialization.jsonObject(with: Data(try await client.run(["ls", "--json"], token: alice).output.utf8))
            #expect((json as? [[String: Any]])?.filter { $0["reservation_id"] as? String == id }.count == 3)

            let reservations = try await client.run(["reservations"], token: alice)
            #expect(reservations.code == 0 && reservations.lines.count == 2 && reservations.lines[0].hasPrefix("ID "), "\(reservations)")
            #expect(reservations.lines[1].hasPrefix(id + "  3  ") && checkout.lines.allSatisfy { reservations.lines[1].contains($0) },
                    "\(reservations)")

            let renewed = try await client.run(["renew", String(id.prefix(8)), "--lease", "2h"], token: alice)
            #expect(renewed.code == 0 && renewed.output.hasPrefix("\(id) (3 VMs) leased until ")
                        && (renewed.output.contains("(2h00m left)") || renewed.output.contains("(1h59m left)")), "\(renewed)")
            #expect(try await Self.reservations(gateway, token: alice).first?["lease_seconds"] as? Int == 7200)

            let returned = try await client.run(["checkin", String(id.prefix(8))], token: alice)
            #expect(returned.code == 0 && returned.output.isEmpty, "\(returned)")
            #expect(try await Self.reservations(gateway, token: alice).isEmpty)
            #expect(try await client.run(["ls"], token: alice).lines.count == 2, "the single VM is still held")
            #expect(try await Self.count(gateway, "available") == 4)

            // --json: the reservation; checked in by its whole id
            let asJSON = try await client.run(["checkout", "-n", "2", "--json"], token: alice)
            let reservation = try JSONSerialization.jsonObject(with: Data(asJSON.output.utf8)) as? [String: Any]
            let secondID = try #require(reservation?["id"] as? String, "\(asJSON)")
            #expect((reservation?["vms"] as? [[String: Any]])?.count == 2)
            let jsonReturn = try await client.run(["checkin", secondID, "--json"], token: alice)
            #expect(jsonReturn.code == 0 && jsonReturn.output.contains(#""id" : "\#(secondID)""#), "\(jsonReturn)")
            #expect(try await Self.reservations(gateway, token: alice).isEmpty)
            let gone = try await client.run(["checkin", secondID], token: alice)
            #expect(gone.code == 6 && gone.saysOneLine, "a reservation returned already is no VM either: \(gone)")
        }
    }

    /// A group larger than the available VMs: all or none, so none, and `with` runs nothing.
    @Test func aGroupLargerThanWhatIsAvailableTakesNothing() async throws {
        try await Self.withAlice(vms: 3, quota: 5) { gateway, client, alice in
            let before = try await gateway.snapshot()
            let refused = try await client.run(["checkout", "-n", "4"], token: alice)
            #expect(refused.code == 4 && refused.output.isEmpty && refused.saysOneLine, "\(refused)")
            let marker = client.home.appending(path: "ran")
            let notRun = try await client.run(["with", "-n", "4", "--", "touch", marker.path], token: alice)
            #expect(notRun.code == 4 && notRun.saysOneLine, "\(notRun)")
            #expect(!FileManager.default.fileExists(atPath: marker.path))
            #expect(try await gateway.snapshot() == before, "nothing held, nothing changed, nothing written")
            let usage = try await client.run(["checkout", "-n", "0"], token: alice)
            #expect(usage.code == 64, "\(usage)")
        }
    }

    @Test func withNRunsTheCommandWithTheGroupAndReturnsItAfterSuccessFailureAndSIGTERM() async throws {
        try await Self.withAlice(vms: 3, quota: 3) { gateway, client, alice in
            let go = client.home.appending(path: "go")
            let script = #"echo "$VMRESERVE_IPS|$VMRESERVE_IP|$VMRESERVE_RESERVATION_ID|$VMRESERVE_VM_ID"; "#
                + "while [ ! -e '\(go.path)' ]; do sleep 0.1; done"
            let running = try client.start(["with", "-n", "2", "--", "sh", "-c", script], token: alice, tag: "group")
            try await waitUntil("the command runs") { client.written("group").output.contains("\n") }
            let seen = client.written("group").output.trimmingCharacters(in: .newlines).split(separator: "|", omittingEmptySubsequences: false)
                .map(String.init)
            #expect(seen.count == 4, "\(seen)")
            let ips = seen[0].split(separator: " ").map(String.init)
            let held = try await Self.reservations(gateway, token: alice)
            #expect(held.count == 1 && held.first?["id"] as? String == seen[2], "VMRESERVE_RESERVATION_ID: \(seen) \(held)")
            #expect(ips.count == 2 && Set(ips) == Self.ips(of: held.first), "VMRESERVE_IPS: \(seen)")
            let first = (held.first?["vms"] as? [[String: Any]])?.first
            #expect(seen[1] == ips.first && seen[1] == first?["ip"] as? String, "VMRESERVE_IP is the first: \(seen)")
            #expect(seen[3] == first?["vm_id"] as? String, "VMRESERVE_VM_ID is the first's: \(seen)")
            #expect(FileManager.default.createFile(atPath: go.path, contents: nil))
            #expect(await running.waitForExit() == 0, "\(client.written("group"))")
            #expect(try await Self.reservations(gateway, token: alice).isEmpty)
            #expect(try await Self.count(gateway, "available") == 3)

            let failure = try await client.run(["with", "-n", "3", "--", "sh", "-c", "exit 3"], token: alice)
            #expect(failure.code == 3, "\(failure)")
            #expect(try await Self.reservations(gateway, token: alice).isEmpty)

            // SIGTERM to vmreserve: passed on to the command, then the return, then its status
            let stopped = try client.start(["with", "-n", "2", "--", "sh", "-c", "echo started; exec sleep 600"], token: alice, tag: "term")
            try await waitUntil("the command runs") { client.written("term").output.contains("started") }
            #expect(try await Self.reservations(gateway, token: alice).count == 1)
            stopped.signal(SIGTERM)
            #expect(await stopped.waitForExit() == 128 + SIGTERM)
            #expect(try await Self.reservations(gateway, token: alice).isEmpty)
            #expect(try await Self.count(gateway, "available") == 3)
        }
    }

    /// `with -n --lease`: the reservation is renewed while the command runs, so a command that
    /// outlives the lease (twice renewed) never sees it run out.
    @Test func withNRenewsTheReservationWhileTheCommandRuns() async throws {
        try await Self.withAlice(vms: 2, quota: 2) { gateway, client, alice in
            let go = client.home.appending(path: "go")
            let running = try client.start(["with", "-n", "2", "--lease", "6s", "--", "sh", "-c",
                                            "while [ ! -e '\(go.path)' ]; do sleep 0.1; done"], token: alice, tag: "renewing")
            func actions() async -> [String] {
                let events = (try? await gateway.call(.GET, "/v1/admin/events?user=alice&limit=1000"))?.data?["items"] as? [[String: Any]]
                return events?.compactMap { $0["action"] as? String } ?? []
            }
            // two renewals of both VMs: the command has run longer than the lease
            try await waitUntil("the reservation is renewed twice") { await actions().filter { $0 == "renew" }.count >= 4 }
            #expect(try await Self.reservations(gateway, token: alice).count == 1)
            #expect(FileManager.default.createFile(atPath: go.path, contents: nil))
            #expect(await running.waitForExit() == 0, "\(client.written("renewing"))")
            #expect(await actions().filter { $0 != "renew" } == ["user_create", "checkout", "checkout", "checkin", "checkin"])
        }
    }
}
