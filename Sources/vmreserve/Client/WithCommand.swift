import ArgumentParser
import Foundation
import Processes
import VMReserveClient

/// `vmreserve with -- CMD ARGS…`: what Jenkins' `lock {}` step gives a pipeline, for any shell.
/// Checks a VM out, runs CMD with `VMRESERVE_IP` and `VMRESERVE_VM_ID` in its environment,
/// renews the lease while CMD runs, and checks the VM in when CMD exits (also when this process
/// is told to stop: SIGTERM and SIGHUP are passed on to CMD, Ctrl-C reaches it from the
/// terminal), then exits with CMD's status (128 + N for a CMD killed by signal N).
struct WithCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "with",
        abstract: "Run a command with a VM checked out for it (VMRESERVE_IP, VMRESERVE_VM_ID), and check the VM in when it exits.",
        discussion: "Exits with the command's status. The lease is renewed while the command runs."
    )

    @OptionGroup var client: ClientOptions
    @OptionGroup var checkout: CheckoutOptions
    @Argument(parsing: .postTerminator, help: ArgumentHelp("The command and its arguments, after --.", valueName: "command"))
    var command: [String] = []

    func validate() throws {
        guard !command.isEmpty else { throw ValidationError("give the command after --: vmreserve with -- make test") }
    }

    func run() async throws {
        let stops = StopSignals()
        var status: Int32 = 0
        try await client.run { api in
            // a stop while the checkout waits ends the wait (the server gives back a VM handed meanwhile)
            let checkingOut = Task { [checkout] in try await api.checkOut(checkout).value }
            let watcher = Task { await stops.watch { _ in checkingOut.cancel() } }
            let result = await checkingOut.result
            watcher.cancel()
            if let signal = stops.first {
                if case .success(let vm) = result { _ = try? await api.call(.checkIn(.id(vm.id))) }
                status = 128 + signal
                return
            }
            let vm = try result.get(), id = vm.id
            let seconds = leaseSeconds(of: vm)
            let renewal = Task { await keepLeased(api, id: id, leaseSeconds: seconds) }
            status = await runCommand(environment: ["VMRESERVE_IP": vm.ip ?? "", "VMRESERVE_VM_ID": id], stops: stops)
            renewal.cancel()
            // the command ran: its status is the answer, whatever the checkin meets
            do throws(VMReserveError) {
                try await checkInPersistently(api, id: id)
            } catch {
                Terminal.error("vmreserve: could not check in \(vm.ip ?? id): \(error.message)")
            }
        }
        if status != 0 { throw ExitCode(status) }
    }

    /// Renews the lease halfway through each lease, while the command runs.
    /// (A renewal without `--lease` keeps the lease's own length.)
    /// A renewal that fails is tried again every tenth of the lease, until one succeeds.
    private func keepLeased(_ api: VMReserveClient, id: String, leaseSeconds: Int?) async {
        guard let seconds = leaseSeconds else { return }  // no lease: nothing to renew
        var pause = max(1, seconds / 2)
        while !Task.isCancelled {
            try? await Task.sleep(for: .seconds(pause))
            if Task.isCancelled { return }
            let renewed = (try? await api.call(.renew(id, leaseSeconds: checkout.lease?.seconds))) != nil
            pause = renewed ? max(1, seconds / 2) : max(1, seconds / 10)
        }
    }

    /// The checkin, asked again for up to a minute while the server cannot be reached.
    private func checkInPersistently(_ api: VMReserveClient, id: String) async throws(VMReserveError) {
        let deadline = ContinuousClock.now + .seconds(60)
        while true {
            do {
                _ = try await api.call(.checkIn(.id(id)))
                return
            } catch where (error.kind != .refused || error.code == .storeUnavailable) && ContinuousClock.now < deadline {
                try? await Task.sleep(for: .seconds(1))
            }
        }
    }

    /// Runs the command (found on PATH) with `environment` added, on this process' standard
    /// input, output and error, passing stop signals on; its status.
    private func runCommand(environment: [String: String], stops: StopSignals) async -> Int32 {
        let child: ChildProcess
        do {
            // (ChildProcess gives the command the default signal actions and an empty signal mask,
            // whatever this process' threads have)
            child = try ChildProcess(command, environment: environment, input: STDIN_FILENO, output: .descriptor(STDOUT_FILENO),
                                     errors: .descriptor(STDERR_FILENO))
        } catch {
            Terminal.error("vmreserve: \(error)")
            return 127
        }
        let forwarder = Task { await stops.watch { signal in if signal != SIGINT { child.signal(signal) } } }
        let status = await child.waitForExit()
        forwarder.cancel()
        return status
    }
}
