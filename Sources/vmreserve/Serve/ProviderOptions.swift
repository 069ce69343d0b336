import ArgumentParser
import Foundation
import ReservationHTTP
import Reservations

/// Where VMs' machines come from, and what becomes of a VM that comes back.
struct ProviderOptions: ParsableArguments {
    @Option(help: "Where VMs' machines come from: simulator, or exec (an operator's commands).")
    var provider = "simulator"
    @Option(help: "Simulator: seconds a provision, reset or deprovision takes; while it runs the VM is provisioning (or deprovisioning).")
    var bootDelay = 0.0
    @Option(help: "Simulator: the probability, 0 to 1, that a provision or reset fails and leaves the VM in error.")
    var failureRate = 0.0
    @Option(name: .customLong("provision-cmd"), help: "Exec provider: the command that makes a machine (JSON on stdin and stdout, see README).")
    var provisionCommand: String?
    @Option(name: .customLong("deprovision-cmd"), help: "Exec provider: the command that destroys a machine.")
    var deprovisionCommand: String?
    @Option(name: .customLong("reset-cmd"), help: "Exec provider: the command that resets a returned machine (needed for --on-return reset).")
    var resetCommand: String?
    @Option(help: "Exec provider: seconds a command may run before it is killed and the call fails.")
    var providerTimeout = 600
    @Option(help: "What happens to a VM that comes back: reuse (available again), reset (the provider resets it first) or replace (deprovisioned, a fresh one created in its place).")
    var onReturn = GatewayConfiguration.defaults.provisioning.onReturn.rawValue
    @Option(help: "Seconds a gateway's claim on provider work lasts unless renewed: how soon another gateway takes over the work of one that died.")
    var jobClaim = Int(GatewayConfiguration.defaults.provisioning.claim.components.seconds)

    func apply(to configuration: inout GatewayConfiguration) throws {
        guard let onReturn = ReturnPolicy(rawValue: onReturn) else { throw ValidationError("--on-return: reuse, reset or replace") }
        let claim = try OptionChecks.within(jobClaim, 3...3600, "job-claim")
        configuration.provisioning = ProvisioningPolicy(provider: try makeProvider(onReturn: onReturn), onReturn: onReturn, claim: .seconds(claim))
    }

    private func makeProvider(onReturn: ReturnPolicy) throws -> any Provider {
        switch provider {
        case "simulator":
            guard provisionCommand == nil, deprovisionCommand == nil, resetCommand == nil else {
                throw ValidationError("--provision-cmd, --deprovision-cmd and --reset-cmd need --provider exec")
            }
            guard (0...86_400).contains(bootDelay) else { throw ValidationError("--boot-delay: from 0 to 86400 seconds") }
            guard (0...1).contains(failureRate) else { throw ValidationError("--failure-rate: a probability from 0 to 1") }
            return SimulatedProvider(bootDelay: .milliseconds(Int(bootDelay * 1000)), failureRate: failureRate)
        case "exec":
            guard bootDelay == 0, failureRate == 0 else { throw ValidationError("--boot-delay and --failure-rate are the simulator's") }
            guard let provisionCommand, let deprovisionCommand else {
                throw ValidationError("--provider exec needs --provision-cmd and --deprovision-cmd")
            }
            if onReturn == .reset, resetCommand == nil { throw ValidationError("--on-return reset with --provider exec needs --reset-cmd") }
            for (flag, path) in [("--provision-cmd", provisionCommand), ("--deprovision-cmd", deprovisionCommand), ("--reset-cmd", resetCommand)] {
                if let path, !FileManager.default.isExecutableFile(atPath: path) {
                    throw ValidationError("\(flag): \(path) is not an executable file")
                }
            }
            let timeout = try OptionChecks.within(providerTimeout, 1...86_400, "provider-timeout")
            return ExecProvider(provisionCommand: provisionCommand, deprovisionCommand: deprovisionCommand,
                                resetCommand: resetCommand, timeout: .seconds(timeout))
        default:
            throw ValidationError("--provider: simulator or exec")
        }
    }
}
