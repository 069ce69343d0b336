/// A provider that makes no machines but behaves like one that does: every provision and reset
/// takes `bootDelay` and fails with probability `failureRate`; a deprovision takes `bootDelay`
/// and always succeeds. vmreserve gives the addresses (the IP pool, or random public ones).
/// With no delay and no failures (the default) VMs are available at once.
public struct SimulatedProvider: Provider {
    public let bootDelay: Duration
    public let failureRate: Double

    public init(bootDelay: Duration = .zero, failureRate: Double = 0) {
        precondition((0...1).contains(failureRate), "a failure rate is a probability, 0 to 1")
        self.bootDelay = bootDelay
        self.failureRate = failureRate
    }

    public var needsJobs: Bool { bootDelay > .zero || failureRate > 0 }
    public var assignsAddresses: Bool { false }

    public func provision(_ vm: VM) async throws(ProviderError) -> ProvisionedMachine {
        try await boot("provisioning")
        return ProvisionedMachine(machineID: "sim-" + vm.id)
    }

    public func reset(_ vm: VM) async throws(ProviderError) -> ProvisionedMachine {
        try await boot("reset")
        return ProvisionedMachine()
    }

    public func deprovision(_ vm: VM) async throws(ProviderError) {
        try await pause()
    }

    private func boot(_ what: String) async throws(ProviderError) {
        try await pause()
        if Double.random(in: 0..<1) < failureRate { throw ProviderError("simulated \(what) failure") }
    }

    private func pause() async throws(ProviderError) {
        guard bootDelay > .zero else { return }
        do {
            try await Task.sleep(for: bootDelay)
        } catch {
            throw ProviderError("cancelled")
        }
    }
}
