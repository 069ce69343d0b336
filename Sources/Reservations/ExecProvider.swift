import Foundation
import RedisServerProcess
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A provider that runs an operator's commands (`--provider exec`): one to provision, one to
/// deprovision and, optionally, one to reset a machine. Each gets one JSON object on standard
/// input and answers one on standard output:
///
///     in:  {"action": "provision", "vm_id": "…", "size": "small", "cpu": 1, "memory_mb": 2048,
///           "ip": null, "machine_id": null}
///     out: {"ip": "10.0.3.7", "machine_id": "i-0abc…"}   or   {"error": "no capacity in eu-west-1a"}
///
/// A provision must answer an `ip` (IPv4, taken as it is: private addresses too); a
/// reset may. Exit status 0 with no `error` is success. A command that runs longer than
/// `timeout` is killed with its whole process group, and the call fails. Standard error goes to
/// the gateway's own. The command's environment is the gateway's (cloud credentials come from
/// there) without `VMRESERVE_*` variables, so no admin token reaches it.
///
/// The same VM may be provisioned twice after a crash (see `Provider`): the command must find
/// the machine made for `vm_id` before it makes one (examples/ec2 tags instances with it).
public struct ExecProvider: Provider {
    public let provisionCommand: String
    public let deprovisionCommand: String
    public let resetCommand: String?
    public let timeout: Duration

    /// Answers larger than this are cut there (and then fail to parse).
    static let outputLimit = 64 * 1024

    public init(provisionCommand: String, deprovisionCommand: String, resetCommand: String? = nil,
                timeout: Duration = .seconds(600)) {
        self.provisionCommand = provisionCommand
        self.deprovisionCommand = deprovisionCommand
        self.resetCommand = resetCommand
        self.timeout = timeout
    }

    public var needsJobs: Bool { true }
    public var assignsAddresses: Bool { true }

    public func provision(_ vm: VM) async throws(ProviderError) -> ProvisionedMachine {
        let answer = try await run(provisionCommand, action: "provision", vm: vm)
        guard answer.ip != nil else {
            throw ProviderError("the provision command \((provisionCommand as NSString).lastPathComponent) answered no ip")
        }
        return answer
    }

    public func reset(_ vm: VM) async throws(ProviderError) -> ProvisionedMachine {
        guard let resetCommand else { throw ProviderError("no reset command is configured (--reset-cmd)") }
        return try await run(resetCommand, action: "reset", vm: vm)
    }

    public func deprovision(_ vm: VM) async throws(ProviderError) {
        _ = try await run(deprovisionCommand, action: "deprovision", vm: vm)
    }

    // MARK: Running a command

    private func run(_ command: String, action: String, vm: VM) async throws(ProviderError) -> ProvisionedMachine {
        let input: [String: Any] = [
            "action": action, "vm_id": vm.id, "size": vm.size ?? NSNull(), "cpu": vm.cpu ?? NSNull(),
            "memory_mb": vm.memoryMB ?? NSNull(), "ip": vm.ip ?? NSNull(), "machine_id": vm.machineID ?? NSNull(),
        ]
        let (output, status, timedOut) = try await execute(command, input: try Self.json(input))
        let name = (command as NSString).lastPathComponent
        if timedOut { throw ProviderError("the \(action) command \(name) took longer than \(timeout) and was stopped") }
        let answer = try? JSONSerialization.jsonObject(with: Data(output)) as? [String: Any]
        if let message = answer?["error"] as? String {
            throw ProviderError("the \(action) command \(name) failed: \(message.prefix(300))")
        }
        guard status == 0 else { throw ProviderError("the \(action) command \(name) exited with status \(status)") }
        guard let answer else {
            if action == "deprovision" { return ProvisionedMachine() } // nothing to say is fine
            throw ProviderError("the \(action) command \(name) did not answer a JSON object")
        }
        var ip: String?
        if let text = answer["ip"] as? String {
            guard let address = IPv4Address(parsing: text) else {
                throw ProviderError("the \(action) command \(name) answered an ip that is not an IPv4 address")
            }
            ip = address.description
        }
        let machineID = (answer["machine_id"] as? String).map { String($0.prefix(256)) }
        return ProvisionedMachine(ip: ip, machineID: machineID)
    }

    /// Runs `command` with `input` on its standard input; answers its standard output, its exit
    /// status, and whether it was stopped for taking longer than `timeout`.
    private func execute(_ command: String, input: Data) async throws(ProviderError) -> ([UInt8], Int32, Bool) {
        var inputPipe: [Int32] = [-1, -1]
        var outputPipe: [Int32] = [-1, -1]
        // (every child this process starts closes descriptors from 3 up, so none inherits these)
        guard pipe(&inputPipe) == 0 else { throw ProviderError("cannot create a pipe") }
        guard pipe(&outputPipe) == 0 else {
            close(inputPipe[0]); close(inputPipe[1])
            throw ProviderError("cannot create a pipe")
        }
        let environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("VMRESERVE_") }
        let child: ChildProcess
        do {
            child = try ChildProcess([command], environment: environment, inheritEnvironment: false, ownProcessGroup: true,
                                     input: inputPipe[0], output: .descriptor(outputPipe[1]), errors: .descriptor(2))
        } catch {
            for end in inputPipe + outputPipe { close(end) }
            throw ProviderError("cannot run \(command): \(error)")
        }
        close(inputPipe[0])
        close(outputPipe[1])
        input.withUnsafeBytes { bytes in
            var offset = 0
            while offset < bytes.count {
                let written = write(inputPipe[1], bytes.baseAddress! + offset, bytes.count - offset)
                if written > 0 { offset += written } else if written < 0 && errno == EINTR { continue } else { break }
            }
        }
        close(inputPipe[1])

        let timedOut = Atomic(false)
        let timer = Task { [timeout] in
            try? await Task.sleep(for: timeout)
            guard !Task.isCancelled else { return }
            timedOut.store(true, ordering: .relaxed)
            child.signalGroup(SIGKILL)
        }
        defer { timer.cancel() }
        let output = await withTaskCancellationHandler {
            await Self.readToEnd(outputPipe[0])
        } onCancel: {
            child.signalGroup(SIGTERM)
        }
        let status = await child.waitForExit()
        return (output, status, timedOut.load(ordering: .relaxed))
    }

    /// Reads `descriptor` to its end (at most `outputLimit` bytes kept) on a thread of its own, so
    /// that no thread of Swift's cooperative pool waits on a command; closes it.
    private static func readToEnd(_ descriptor: Int32) async -> [UInt8] {
        await withCheckedContinuation { continuation in
            let thread = Thread {
                var kept: [UInt8] = []
                var chunk = [UInt8](repeating: 0, count: 4096)
                while true {
                    let count = read(descriptor, &chunk, chunk.count)
                    if count > 0 {
                        if kept.count < outputLimit { kept += chunk[0..<min(count, outputLimit - kept.count)] }
                    } else if count < 0 && errno == EINTR {
                        continue
                    } else {
                        break
                    }
                }
                close(descriptor)
                continuation.resume(returning: kept)
            }
            thread.start()
        }
    }

    private static func json(_ object: [String: Any]) throws(ProviderError) -> Data {
        do {
            return try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]) + Data("\n".utf8)
        } catch {
            throw ProviderError("cannot write the command's input")
        }
    }
}
