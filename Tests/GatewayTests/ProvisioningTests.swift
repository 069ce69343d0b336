import Foundation
import GatewayTestSupport
import Reservations
@testable import ReservationHTTP
import Testing
import TestSupport

/// VMs made through a provider, on gateways with real Redis: the simulator's boot delay and
/// failures, retry, deletion through deprovisioning, what returned VMs become, and the work of
/// three gateways sharing the jobs.
@Suite(.timeLimit(.minutes(10))) struct ProvisioningTests {
    private static func simulator(
        bootDelay: Duration = .zero, failureRate: Double = 0, onReturn: ReturnPolicy = .reuse
    ) -> @Sendable (inout GatewayConfiguration) -> Void {
        { configuration in
            configuration.provisioning = ProvisioningPolicy(
                provider: SimulatedProvider(bootDelay: bootDelay, failureRate: failureRate), onReturn: onReturn)
            configuration.maxWait = .seconds(600)
        }
    }

    /// An exec provider whose commands are the scripts `provision` and `deprovision`, written to
    /// `directory`.
    private static func execProvider(in directory: URL, provision: String, deprovision: String) throws -> ExecProvider {
        for (name, text) in [("provision", provision), ("deprovision", deprovision)] {
            try text.write(to: directory.appending(path: name), atomically: true, encoding: .utf8)
            try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: directory.appending(path: name).path)
        }
        return ExecProvider(provisionCommand: directory.appending(path: "provision").path,
                            deprovisionCommand: directory.appending(path: "deprovision").path)
    }

    private func status(_ gateway: Gateway, _ id: String) async -> String? {
        try? await gateway.call(.GET, "/v1/vms/\(id)")["status"]
    }

    private func events(_ gateway: Gateway, vm id: String) async throws -> [[String: Any]] {
        try await gateway.call(.GET, "/v1/admin/events?vm_id=\(id)&limit=1000").data?["items"] as? [[String: Any]] ?? []
    }

    private func millisecondsBetween(_ first: [String: Any]?, _ second: [String: Any]?) -> Int? {
        guard let a = (first?["at"] as? String).flatMap(RFC3339.parse),
              let b = (second?["at"] as? String).flatMap(RFC3339.parse) else { return nil }
        return b - a
    }

    @Test func aBootingVMIsProvisioningThenAvailableAndAWaitingCheckoutGetsIt() async throws {
        try await withGateway(configure: Self.simulator(bootDelay: .milliseconds(800))) { gateway async throws in
            let alice = try await gateway.createUser("alice", quota: 1)
            let created = try await gateway.call(.POST, "/v1/admin/vms", body: #"{"size": "medium"}"#)
            #expect(created.status == 201 && created["status"] == "provisioning" && created["size"] == "medium")
            #expect(created["ip"] != nil, "the simulator's VMs get vmreserve's addresses at once")
            let id = try #require(created["vm_id"])
            let pool = try await gateway.call(.GET, "/v1/admin/pool")
            #expect((pool.data?["counts"] as? [String: Int])?["provisioning"] == 1 || (pool.data?["counts"] as? [String: Int])?["available"] == 1)
            // a waiting checkout gets it once it has booted
            let checkout = try await gateway.call(.POST, "/v1/checkouts?wait=600", token: alice)
            #expect(checkout.status == 201 && checkout["vm_id"] == id)
            let history = try await events(gateway, vm: id)
            #expect(history.compactMap { $0["action"] as? String } == ["create", "provisioned", "checkout"])
            #expect(history.first?["status"] as? String == "provisioning" && history[1]["status"] as? String == "available")
            #expect(history[1]["detail"] as? String == "sim-" + id, "the provider's machine id")
            let booted = try #require(millisecondsBetween(history.first, history[1]))
            #expect(booted >= 800, "never available before the boot delay")
            #expect(try await gateway.call(.GET, "/v1/vms/\(id)").data?["machine_id"] as? String == "sim-" + id)
        }
    }

    @Test func failedVMsAreInErrorCountTowardsTheCapAndRetryProvisionsThemAgain() async throws {
        let pool = "provisioning-\(UUID().uuidString)"
        // first a provider that always fails
        let ids = try await withGateways(pool: pool, configure: {
            Self.simulator(failureRate: 1)(&$0)
            $0.maxVMCount = 2
        }) { gateways async throws in
            let gateway = gateways[0]
            let ids = try await gateway.createVMs(2).compactMap { $0["vm_id"] as? String }
            for id in ids { try await waitUntil("\(id) fails") { await status(gateway, id) == "error" } }
            let vm = try await gateway.call(.GET, "/v1/vms/\(ids[0])")
            #expect(vm.data?["error"] as? String == "simulated provisioning failure")
            let full = try await gateway.call(.POST, "/v1/admin/vms")
            #expect(full.status == 409 && full.code == "max_vm_count_reached", "VMs in error count towards the cap")
            let alice = try await gateway.createUser("alice", quota: 1)
            #expect(try await gateway.call(.POST, "/v1/admin/vms/\(ids[0])/retry", token: alice).status == 403)
            #expect(try await gateway.call(.POST, "/v1/admin/vms/\(UUID().uuidString)/retry").code == "vm_not_found")
            #expect(try await gateway.call(.POST, "/v1/admin/vms/no-such-vm/retry").code == "bad_request")
            #expect(try await gateway.call(.POST, "/v1/admin/vms/\(ids[0])/retry?force=1").status == 400)
            let retried = try await gateway.call(.POST, "/v1/admin/vms/\(ids[0])/retry")
            #expect(retried.status == 200 && retried["status"] == "provisioning" && retried.data?["error"] is NSNull)
            try await waitUntil("the retry fails as well") { await status(gateway, ids[0]) == "error" }
            return ids
        }
        // then one that works: a retry brings the VM up, with the same id and address
        try await withGateways(pool: pool, configure: Self.simulator(bootDelay: .milliseconds(100))) { gateways async throws in
            let gateway = gateways[0]
            let before = try await gateway.call(.GET, "/v1/vms/\(ids[1])")["ip"]
            #expect(try await gateway.call(.POST, "/v1/admin/vms/\(ids[1])/retry").status == 200)
            try await waitUntil("the retried VM is available") { await status(gateway, ids[1]) == "available" }
            #expect(try await gateway.call(.GET, "/v1/vms/\(ids[1])")["ip"] == before)
            let again = try await gateway.call(.POST, "/v1/admin/vms/\(ids[1])/retry")
            #expect(again.status == 409 && again.code == "invalid_state")
            #expect(again.message == "Only VMs in error can be retried; this one is available")
            let actions = try await events(gateway, vm: ids[1]).compactMap { $0["action"] as? String }
            #expect(actions == ["create", "provision_failed", "retry", "provisioned"])
        }
    }

    /// The provider's commands wait for the test's go-ahead (a file each), so the VM is
    /// provisioning, then deprovisioning, for as long as the test needs, however slow the machine.
    @Test func aDeletedVMIsDeprovisionedBeforeItIsGone() async throws {
        try await withTestProcesses { processes async throws in
            let directory = try processes.temporaryDirectory("deprovision")
            let provisioned = directory.appending(path: "provision-may-end"), deprovisioned = directory.appending(path: "deprovision-may-end")
            func waitingFor(_ marker: URL, answer: String) -> String {
                "#!/bin/sh\ncat >/dev/null\nwhile [ ! -e '\(marker.path)' ]; do sleep 0.05; done\necho '\(answer)'\n"
            }
            let provider = try Self.execProvider(in: directory,
                                                 provision: waitingFor(provisioned, answer: #"{"ip": "198.51.100.7", "machine_id": "m-1"}"#),
                                                 deprovision: waitingFor(deprovisioned, answer: "{}"))
            try await withGateway(configure: { $0.provisioning = ProvisioningPolicy(provider: provider) }) { gateway async throws in
                let id = try #require(try await gateway.createVMs(1).first?["vm_id"] as? String)
                let early = try await gateway.call(.DELETE, "/v1/admin/vms/\(id)")
                #expect(early.status == 409 && early.code == "invalid_state", "not while it is being provisioned")
                FileManager.default.createFile(atPath: provisioned.path, contents: nil)
                try await waitUntil("the VM is available") { await status(gateway, id) == "available" }
                let deleted = try await gateway.call(.DELETE, "/v1/admin/vms/\(id)")
                #expect(deleted.status == 200 && deleted["status"] == "deprovisioning")
                #expect(await status(gateway, id) == "deprovisioning", "still there while its machine is being destroyed")
                FileManager.default.createFile(atPath: deprovisioned.path, contents: nil)
                try await waitUntil("the VM is gone") { (try? await gateway.call(.GET, "/v1/vms/\(id)").status) == 404 }
                let history = try await events(gateway, vm: id)
                #expect(history.suffix(2).compactMap { $0["action"] as? String } == ["delete", "deprovisioned"])
                #expect(try await gateway.call(.GET, "/v1/admin/pool").data?["total"] as? Int == 0)
            }
        }
    }

    @Test func aResetReturnComesBackClean() async throws {
        try await withGateway(configure: Self.simulator(bootDelay: .milliseconds(300), onReturn: .reset)) { gateway async throws in
            let alice = try await gateway.createUser("alice", quota: 1)
            let id = try #require(try await gateway.createVMs(1).first?["vm_id"] as? String)
            #expect(try await gateway.call(.POST, "/v1/checkouts?wait=600", token: alice)["vm_id"] == id)
            let back = try await gateway.call(.POST, "/v1/checkins", token: alice, body: #"{"vm_id": "\#(id)"}"#)
            #expect(back.status == 200 && back["status"] == "provisioning" && back.data?["user"] is NSNull)
            #expect(try await gateway.call(.POST, "/v1/checkouts?wait=600", token: alice)["vm_id"] == id)
            let actions = try await events(gateway, vm: id).compactMap { $0["action"] as? String }
            #expect(actions == ["create", "provisioned", "checkout", "checkin", "reset", "checkout"])
        }
    }

    @Test func aReplaceReturnGivesAFreshVMInItsPlace() async throws {
        try await withGateway(configure: {
            Self.simulator(bootDelay: .milliseconds(200), onReturn: .replace)(&$0)
            $0.maxVMCount = 1
        }) { gateway async throws in
            let alice = try await gateway.createUser("alice", quota: 1)
            let id = try #require(try await gateway.call(.POST, "/v1/admin/vms", body: #"{"size": "large"}"#)["vm_id"])
            #expect(try await gateway.call(.POST, "/v1/checkouts?wait=600", token: alice)["vm_id"] == id)
            let back = try await gateway.call(.POST, "/v1/checkins", token: alice, body: #"{"vm_id": "\#(id)"}"#)
            #expect(back["status"] == "deprovisioning")
            let fresh = try await gateway.call(.POST, "/v1/checkouts?wait=600", token: alice)
            #expect(fresh.status == 201 && fresh["vm_id"] != id && fresh["size"] == "large")
            #expect(try await gateway.call(.GET, "/v1/vms/\(id)").status == 404)
            #expect(try await gateway.call(.GET, "/v1/admin/pool").data?["total"] as? Int == 1)
        }
    }

    @Test func threeGatewaysShareTheWorkAndEveryVMIsProvisionedOnce() async throws {
        try await withGateways(3, configure: Self.simulator(bootDelay: .milliseconds(200), failureRate: 0.3)) { gateways async throws in
            let total = 30
            for (index, gateway) in gateways.enumerated() { try await gateway.createVMs(total / 3 + (index == 0 ? total % 3 : 0)) }
            let admin = gateways[0]
            func counts() async -> [String: Int] {
                ((try? await admin.call(.GET, "/v1/admin/pool"))?.data?["counts"] as? [String: Int]) ?? [:]
            }
            // retry whatever failed until every VM is up
            try await waitUntil("every VM is available") {
                let now = await counts()
                if now["available"] == total { return true }
                let failed = (try? await admin.call(.GET, "/v1/admin/vms?status=error&limit=100"))?.data?["items"] as? [[String: Any]] ?? []
                for vm in failed {
                    if let id = vm["vm_id"] as? String { _ = try? await gateways.randomElement()!.call(.POST, "/v1/admin/vms/\(id)/retry") }
                }
                return false
            }
            let all = try await admin.call(.GET, "/v1/admin/events?limit=1000").data?["items"] as? [[String: Any]] ?? []
            var outcomes: [String: [String]] = [:]
            for event in all {
                guard let id = event["vm_id"] as? String, let action = event["action"] as? String else { continue }
                outcomes[id, default: []].append(action)
            }
            #expect(outcomes.count == total)
            for (id, actions) in outcomes {
                // every provisioning ended exactly once: a failure then a retry, ..., then success
                let ends = actions.filter { $0 == "provisioned" || $0 == "provision_failed" }
                #expect(ends.count == actions.filter { $0 == "create" || $0 == "retry" }.count, "\(id): \(actions)")
                #expect(actions.last == "provisioned", "\(id): \(actions)")
            }
            let vms = try await admin.call(.GET, "/v1/admin/vms?limit=100").data?["items"] as? [[String: Any]] ?? []
            #expect(Set(vms.compactMap { $0["ip"] as? String }).count == total, "unique addresses")
        }
    }

    @Test func anExecProviderGivesTheAddressesAndDestroysWhatItMade() async throws {
        try await withTestProcesses { processes async throws in
            let directory = try processes.temporaryDirectory("exec")
            // the machines "exist" as files named after their VM; addresses come from a counter
            let provision = """
                #!/bin/sh
                dir=$(dirname "$0"); id=$(sed -n 's/.*"vm_id":"\\([^"]*\\)".*/\\1/p')
                n=$(ls "$dir/machines" | wc -l); touch "$dir/machines/$id"
                echo "{\\"ip\\": \\"192.168.77.$((n + 10))\\", \\"machine_id\\": \\"m-$id\\"}"
                """
            let deprovision = """
                #!/bin/sh
                dir=$(dirname "$0"); id=$(sed -n 's/.*"vm_id":"\\([^"]*\\)".*/\\1/p')
                rm -f "$dir/machines/$id"
                """
            try FileManager.default.createDirectory(at: directory.appending(path: "machines"), withIntermediateDirectories: true)
            let provider = try Self.execProvider(in: directory, provision: provision, deprovision: deprovision)
            try await withGateway(configure: { $0.provisioning = ProvisioningPolicy(provider: provider) }) { gateway async throws in
                // (one at a time: the script's counter is not meant for concurrent calls)
                var ids: [String] = []
                for _ in 0..<3 {
                    let created = try await gateway.call(.POST, "/v1/admin/vms")
                    #expect(created.status == 201 && created["status"] == "provisioning")
                    #expect(created.data?["ip"] is NSNull, "no address until the provider gives one")
                    let id = try #require(created["vm_id"])
                    try await waitUntil("\(id) is provisioned") { await status(gateway, id) == "available" }
                    ids.append(id)
                }
                let vms = try await ids.asyncMap { try await gateway.call(.GET, "/v1/vms/\($0)") }
                #expect(Set(vms.compactMap { $0["ip"] }) == ["192.168.77.10", "192.168.77.11", "192.168.77.12"])
                #expect(vms.map { $0["machine_id"] } == ids.map { "m-" + $0 })
                let machines = { Set((try? FileManager.default.contentsOfDirectory(atPath: directory.appending(path: "machines").path)) ?? []) }
                #expect(machines() == Set(ids))
                #expect(try await gateway.call(.DELETE, "/v1/admin/vms/\(ids[0])")["status"] == "deprovisioning")
                try await waitUntil("the machine is destroyed and its VM gone") {
                    (try? await gateway.call(.GET, "/v1/vms/\(ids[0])").status) == 404
                }
                #expect(machines() == Set(ids.dropFirst()))
            }
        }
    }
}

private extension Array {
    func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var out: [T] = []
        for element in self { out.append(try await transform(element)) }
        return out
    }
}
