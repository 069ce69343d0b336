import Foundation
import GatewayTestSupport
import RedisClient
import Processes
import RedisServerProcess
import Testing
import TestSupport

#if canImport(Glibc)
import Glibc
#endif

/// The example EC2 provider (examples/ec2) through `vmreserve serve --provider exec`, against
/// moto's EC2 server on loopback: creates really make instances there, deletes and replacements
/// really terminate them, and a gateway killed in the middle of a slow provision leaves no
/// instance that no VM knows of.
@Suite(.timeLimit(.minutes(20))) struct EC2ExampleTests {
    static let examples = repositoryRoot.appending(path: "examples/ec2")

    /// An instance as moto's EC2 API describes it.
    struct Instance: Equatable {
        var id: String, state: String, vm: String?, ip: String?, type: String
    }

    /// A moto EC2 server of the test's own, and the environment that points the AWS CLI at it.
    struct Moto {
        let environment: [String: String]
        let directory: URL

        static func start(_ processes: TestProcesses) async throws -> Moto {
            for tool in ["aws", "moto_server", "jq"] where !isOnPath(tool) {
                throw TestSupportError("\(tool) is not installed: scripts/install-deps.sh installs it (pip: awscli, moto[server]; apt: jq)")
            }
            let port = try freeLoopbackPort(), directory = try processes.temporaryDirectory("moto")
            _ = try processes.start(["moto_server", "-H", "127.0.0.1", "-p", String(port)],
                                    output: .file(directory.appending(path: "moto.log")))
            let moto = Moto(environment: [
                "AWS_ENDPOINT_URL": "http://127.0.0.1:\(port)", "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                "AWS_DEFAULT_REGION": "us-east-1", "AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
                "AWS_PAGER": "", "EC2_IMAGE_ID": "ami-12c6146b",
            ], directory: directory)
            try await waitUntil("moto answers") { (try? await moto.instances()) != nil }
            return moto
        }

        /// Every instance moto has, terminated ones included.
        func instances() async throws -> [Instance] {
            let output = directory.appending(path: "describe-\(UUID().uuidString).json")
            defer { try? FileManager.default.removeItem(at: output) }
            let aws = try ChildProcess(["aws", "ec2", "describe-instances", "--output", "json"], environment: environment,
                                       output: .file(output), errors: .discard)
            guard await aws.waitForExit() == 0 else { throw TestSupportError("aws ec2 describe-instances failed") }
            let json = try JSONSerialization.jsonObject(with: Data(contentsOf: output)) as? [String: Any]
            let reservations = json?["Reservations"] as? [[String: Any]] ?? []
            return reservations.flatMap { $0["Instances"] as? [[String: Any]] ?? [] }.map { instance in
                let tags = instance["Tags"] as? [[String: Any]] ?? []
                return Instance(
                    id: instance["InstanceId"] as? String ?? "", state: (instance["State"] as? [String: Any])?["Name"] as? String ?? "",
                    vm: tags.first { $0["Key"] as? String == "vmreserve-vm" }?["Value"] as? String,
                    ip: instance["PrivateIpAddress"] as? String, type: instance["InstanceType"] as? String ?? "")
            }
        }

        func running() async throws -> [Instance] {
            try await instances().filter { $0.state == "pending" || $0.state == "running" }
        }
    }

    private func startGateway(
        _ processes: TestProcesses, moto: Moto, redis: RedisURL, pool: String, provisionCommand: String? = nil,
        extra: [String] = [], name: String
    ) async throws -> (Gateway, ChildProcess) {
        let port = try freeLoopbackPort()
        let process = try await GatewayProcess.start([
            "--redis-url", redis.description, "--pool", pool, "--admin-token", adminToken, "--max-vm-count", "10",
            "--provider", "exec", "--provision-cmd", provisionCommand ?? Self.examples.appending(path: "provision.sh").path,
            "--deprovision-cmd", Self.examples.appending(path: "deprovision.sh").path, "--provider-timeout", "600",
        ] + extra, environment: moto.environment, port: port, log: moto.directory.appending(path: "\(name).log"), processes: processes)
        return (Gateway(port: port), process)
    }

    private func status(_ gateway: Gateway, _ id: String) async -> String? {
        try? await gateway.call(.GET, "/v1/vms/\(id)")["status"]
    }

    @Test func createsRunInstancesAndDeletesAndReplacementsTerminateThem() async throws {
        try await withTestProcesses { processes async throws in
            let moto = try await Moto.start(processes)
            let (gateway, _) = try await startGateway(processes, moto: moto, redis: try await SharedRedis.url(),
                                                      pool: "ec2-\(UUID().uuidString)", extra: ["--on-return", "replace"], name: "gateway")
            var ids: [String] = []
            for size in ["small", "large"] {
                let created = try await gateway.call(.POST, "/v1/admin/vms", body: #"{"size": "\#(size)"}"#)
                #expect(created.status == 201 && created["status"] == "provisioning")
                ids.append(try #require(created["vm_id"]))
            }
            for id in ids { try await waitUntil("\(id) runs") { await status(gateway, id) == "available" } }
            var running = try await moto.running()
            #expect(running.count == 2)
            for (id, type) in zip(ids, ["t3.small", "t3.large"]) {
                let vm = try await gateway.call(.GET, "/v1/vms/\(id)")
                let instance = try #require(running.first { $0.vm == id }, "an instance tagged with \(id)")
                #expect(vm["machine_id"] == instance.id && vm["ip"] == instance.ip && instance.type == type)
            }

            // a returned VM is replaced: its instance terminated, a fresh VM on a new one
            let alice = try await gateway.call(.POST, "/v1/admin/users", body: #"{"name": "alice", "quota": 1}"#)["token"]
            let held = try #require(try await gateway.call(.POST, "/v1/checkouts", token: alice)["vm_id"])
            let oldInstance = try await gateway.call(.GET, "/v1/vms/\(held)")["machine_id"]
            #expect(try await gateway.call(.POST, "/v1/checkins", token: alice, body: #"{"vm_id": "\#(held)"}"#)["status"] == "deprovisioning")
            try await waitUntil("the replacement runs") {
                let vms = (try? await gateway.call(.GET, "/v1/admin/vms?status=available"))?.data?["items"] as? [[String: Any]] ?? []
                return vms.count == 2 && !vms.contains { $0["vm_id"] as? String == held }
            }
            running = try await moto.running()
            #expect(running.count == 2 && !running.contains { $0.id == oldInstance })
            #expect(try await moto.instances().first { $0.id == oldInstance }?.state == "terminated")

            // deleting every VM terminates every instance
            let vms = try await gateway.call(.GET, "/v1/admin/vms").data?["items"] as? [[String: Any]] ?? []
            for id in vms.compactMap({ $0["vm_id"] as? String }) {
                #expect(try await gateway.call(.DELETE, "/v1/admin/vms/\(id)")["status"] == "deprovisioning")
            }
            try await waitUntil("every VM is gone") { (try? await gateway.call(.GET, "/v1/admin/pool"))?.data?["total"] as? Int == 0 }
            #expect(try await moto.running().isEmpty)
        }
    }

    @Test func aGatewayKilledMidProvisionLeavesNoInstanceThatNoVMKnows() async throws {
        try await withTestProcesses { processes async throws in
            let moto = try await Moto.start(processes)
            let redis = try await SharedRedis.url(), pool = "ec2-crash-\(UUID().uuidString)"
            // The example's provision, then, on a VM's first try only, a long pause before the
            // answer: the instance exists at moto, and no record knows its id yet.
            let slow = moto.directory.appending(path: "slow-provision.sh")
            try """
                #!/bin/sh
                input=$(cat)
                vm=$(printf '%s' "$input" | sed -n 's/.*"vm_id":"\\([^"]*\\)".*/\\1/p')
                answer=$(printf '%s' "$input" | "\(Self.examples.path)/provision.sh"); status=$?
                if [ ! -e "\(moto.directory.path)/first-try-$vm" ]; then
                  echo $$ > "\(moto.directory.path)/first-try-$vm"; sleep 600
                fi
                printf '%s\\n' "$answer"; exit $status
                """.write(to: slow, atomically: true, encoding: .utf8)
            try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: slow.path)
            let claim = ["--job-claim", "3"]
            let (first, firstProcess) = try await startGateway(processes, moto: moto, redis: redis, pool: pool, provisionCommand: slow.path,
                                                               extra: claim, name: "first")
            let ids = try await first.createVMs(3).compactMap { $0["vm_id"] as? String }
            let markers = ids.map { moto.directory.appending(path: "first-try-\($0)") }
            try await waitUntil("every first try has made its instance and pauses") {
                markers.allSatisfy { FileManager.default.fileExists(atPath: $0.path) }
            }
            #expect(try await moto.running().count == 3)
            // the gateway's machine dies: the gateway and the commands it ran
            await firstProcess.terminate(with: SIGKILL)
            for marker in markers {
                if let group = Int32((try String(contentsOf: marker, encoding: .utf8)).trimmingCharacters(in: .whitespacesAndNewlines)) {
                    kill(-group, SIGKILL)
                }
            }
            #expect(!firstProcess.isRunning)

            let (second, _) = try await startGateway(processes, moto: moto, redis: redis, pool: pool, provisionCommand: slow.path,
                                                     extra: claim, name: "second")
            for id in ids { try await waitUntil("\(id) is taken over and runs") { await status(second, id) == "available" } }
            let running = try await moto.running()
            #expect(running.count == 3, "the instances of the first tries, no second ones: \(running)")
            for id in ids {
                let vm = try await second.call(.GET, "/v1/vms/\(id)")
                #expect(running.filter { $0.vm == id }.map(\.id) == [vm["machine_id"]].compactMap { $0 })
            }
            let history = try await second.call(.GET, "/v1/admin/events?limit=1000").data?["items"] as? [[String: Any]] ?? []
            #expect(history.filter { $0["action"] as? String == "provisioned" }.count == 3)
            for id in ids { #expect(try await second.call(.DELETE, "/v1/admin/vms/\(id)").status == 200) }
            try await waitUntil("every VM is gone") { (try? await second.call(.GET, "/v1/admin/pool"))?.data?["total"] as? Int == 0 }
            #expect(try await moto.running().isEmpty, "nothing left running at the provider")
        }
    }
}
