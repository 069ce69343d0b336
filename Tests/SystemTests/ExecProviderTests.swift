import Foundation
@testable import Reservations
import GatewayTestSupport
import Testing
import TestSupport

#if canImport(Glibc)
import Glibc
#endif

/// The exec provider runs real commands: what they get on standard input, what their answers
/// and failures become, and that one running too long is stopped with everything it started.
@Suite struct ExecProviderTests {
    private static let vm = VM(id: "vm-7", ip: nil, status: .provisioning, createdAt: 0, size: "large", cpu: 4, memoryMB: 8192)

    /// A directory with executable shell scripts `name` → body, removed afterwards.
    private func withScripts<T>(_ scripts: [String: String], _ body: (URL) async throws -> T) async throws -> T {
        let directory = FileManager.default.temporaryDirectory.appending(path: "vmreserve-exec-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        for (name, text) in scripts {
            let url = directory.appending(path: name)
            try ("#!/bin/sh\n" + text).write(to: url, atomically: true, encoding: .utf8)
            try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: url.path)
        }
        return try await body(directory)
    }

    private func provider(_ directory: URL, provision: String = "provision", deprovision: String = "deprovision",
                          reset: String? = nil, timeout: Duration = .seconds(60)) -> ExecProvider {
        ExecProvider(provisionCommand: directory.appending(path: provision).path,
                     deprovisionCommand: directory.appending(path: deprovision).path,
                     resetCommand: reset.map { directory.appending(path: $0).path }, timeout: timeout)
    }

    @Test func aProvisionGetsTheVMAsJSONAndItsAnswerIsTakenAsItIs() async throws {
        setenv("VMRESERVE_EXEC_TEST_SECRET", "hunter2", 1)
        try await withScripts([
            "provision": "cat > \"$(dirname \"$0\")/input\"; env > \"$(dirname \"$0\")/env\"; echo '{\"ip\": \"10.20.30.40\", \"machine_id\": \"i-0abc\"}'",
            "deprovision": "cat > \"$(dirname \"$0\")/deprovision-input\"",
        ]) { directory async throws in
            let exec = provider(directory)
            let machine = try await exec.provision(Self.vm)
            #expect(machine == ProvisionedMachine(ip: "10.20.30.40", machineID: "i-0abc"), "a private address is taken as it is")
            let input = try JSONSerialization.jsonObject(with: Data(contentsOf: directory.appending(path: "input"))) as? [String: Any]
            #expect(input?["action"] as? String == "provision" && input?["vm_id"] as? String == "vm-7")
            #expect(input?["size"] as? String == "large" && input?["cpu"] as? Int == 4 && input?["memory_mb"] as? Int == 8192)
            #expect(input?["ip"] is NSNull)
            let environment = try String(contentsOf: directory.appending(path: "env"), encoding: .utf8)
            #expect(!environment.contains("hunter2"), "no VMRESERVE_ variable reaches the command")
            #expect(environment.contains("PATH="))

            var provisioned = Self.vm
            provisioned.ip = "10.20.30.40"
            provisioned.machineID = "i-0abc"
            try await exec.deprovision(provisioned)
            let deprovisionInput = try JSONSerialization.jsonObject(
                with: Data(contentsOf: directory.appending(path: "deprovision-input"))) as? [String: Any]
            #expect(deprovisionInput?["action"] as? String == "deprovision")
            #expect(deprovisionInput?["machine_id"] as? String == "i-0abc" && deprovisionInput?["ip"] as? String == "10.20.30.40")
        }
        unsetenv("VMRESERVE_EXEC_TEST_SECRET")
    }

    @Test(arguments: [
        ("echo '{\"error\": \"no capacity in zone a\"}'; exit 1", "the provision command provision failed: no capacity in zone a"),
        ("echo '{\"error\": \"quota\"}'", "the provision command provision failed: quota"),
        ("exit 3", "the provision command provision exited with status 3"),
        ("echo 'Traceback: something'", "the provision command provision did not answer a JSON object"),
        ("echo '{\"ip\": \"10.0.0.300\"}'", "the provision command provision answered an ip that is not an IPv4 address"),
        ("echo '{\"machine_id\": \"i-1\"}'", "the provision command provision answered no ip"),
    ])
    func aFailingOrWrongAnswerIsAFailureWithAClearMessage(script: String, message: String) async throws {
        try await withScripts(["provision": "cat > /dev/null; " + script, "deprovision": "true"]) { directory async throws in
            let error = await #expect(throws: ProviderError.self) { try await provider(directory).provision(Self.vm) }
            #expect(error?.message == message)
        }
    }

    @Test func aCommandThatRunsTooLongIsStoppedWithWhatItStarted() async throws {
        try await withScripts([
            "provision": "sleep 300 & echo $! > \"$(dirname \"$0\")/child\"; wait",
            "deprovision": "true",
        ]) { directory async throws in
            let error = await #expect(throws: ProviderError.self) {
                try await provider(directory, timeout: .seconds(1)).provision(Self.vm)
            }
            #expect(error?.message == "the provision command provision took longer than 1.0 seconds and was stopped")
            let child = try #require(Int32(try String(contentsOf: directory.appending(path: "child"), encoding: .utf8)
                .trimmingCharacters(in: .whitespacesAndNewlines)))
            try await waitUntil("the command's own child is stopped too") {
                // gone, or a zombie nobody has reaped yet: either way no longer running
                let state = (try? String(contentsOfFile: "/proc/\(child)/stat", encoding: .utf8))?.split(separator: ")").last?
                    .split(separator: " ").first
                return kill(child, 0) != 0 || state == "Z"
            }
        }
    }

    @Test func aResetNeedsItsCommandAndMayKeepTheAddress() async throws {
        try await withScripts(["provision": "true", "deprovision": "true", "reset": "cat > /dev/null; echo '{}'"]) { directory async throws in
            let error = await #expect(throws: ProviderError.self) { try await provider(directory).reset(Self.vm) }
            #expect(error?.message == "no reset command is configured (--reset-cmd)")
            #expect(try await provider(directory, reset: "reset").reset(Self.vm) == ProvisionedMachine())
        }
    }
}
