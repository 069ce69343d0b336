import Foundation
import Processes

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
        let environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("VMRESERVE_") }
        let result: ChildProcess.Result
        do {
            result = try await ChildProcess.run([command], environment: environment, input: try Self.json(input), timeout: timeout,
                                                outputLimit: Self.outputLimit)
        } catch let error as ProviderError {
            throw error
        } catch {
            throw ProviderError("cannot run \(command): \(error)")
        }
        let (output, status, timedOut) = (result.output, result.status, result.timedOut)
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

    private static func json(_ object: [String: Any]) throws(ProviderError) -> Data {
        do {
            return try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]) + Data("\n".utf8)
        } catch {
            throw ProviderError("cannot write the command's input")
        }
    }
}
