import ArgumentParser
import Foundation
import Processes
import VMReserveClient

/// `vmreserve with [-n N] -- CMD ARGS…`: what Jenkins' `lock {}` step gives a pipeline, for any
/// shell. Checks a VM out (with `-n`, a reservation of N VMs, all or none), runs CMD with
/// `Holding.environment` in its environment (`VMRESERVE_IPS`, `VMRESERVE_IP`, `VMRESERVE_VM_ID`,
/// and `VMRESERVE_RESERVATION_ID` for a reservation), renews the lease while CMD runs, and gives
/// the VM (the whole reservation) back when CMD exits (also when this process is told to stop:
/// SIGTERM and SIGHUP are passed on to CMD, Ctrl-C reaches it from the terminal), then exits with
/// CMD's status (128 + N for a CMD killed by signal N).
struct WithCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "with",
        abstract: "Run a command with a VM (with -n, a reservation of several) checked out for it, and give it back when it exits.",
        discussion: """
            The command finds VMRESERVE_IPS (every IP, space-separated), VMRESERVE_IP and VMRESERVE_VM_ID (the first VM's) \
            and, with -n, VMRESERVE_RESERVATION_ID in its environment. The lease is renewed while it runs. Exits with the \
            command's status.
            """
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
            // a stop while the checkout waits ends the wait (the server gives back what it handed meanwhile)
            let checkingOut = Task { [checkout] in try await api.checkOut(checkout).value }
            let watcher = Task { await stops.watch { _ in checkingOut.cancel() } }
            let result = await checkingOut.result
            watcher.cancel()
            if let signal = stops.first {
                if case .success(let held) = result { try? await held.giveBack(api) }
                status = 128 + signal
                return
            }
            let held = try result.get()
            let renewal = Task { await keepLeased(api, held) }
            status = await runCommand(environment: held.environment, stops: stops)
            renewal.cancel()
            // the command ran: its status is the answer, whatever giving back meets
            do throws(VMReserveError) {
                try await giveBackPersistently(api, held)
            } catch {
                Terminal.error("vmreserve: could not \(held.givingBack): \(error.message)")
            }
        }
        if status != 0 { throw ExitCode(status) }
    }

    /// Renews the lease halfway through each lease, while the command runs.
    /// (A renewal without `--lease` keeps the lease's own length.)
    /// A renewal that fails is tried again every tenth of the lease, until one succeeds.
    private func keepLeased(_ api: VMReserveClient, _ held: Holding) async {
        guard let seconds = held.leaseSeconds else { return }  // no lease: nothing to renew
        var pause = max(1, seconds / 2)
        while !Task.isCancelled {
            try? await Task.sleep(for: .seconds(pause))
            if Task.isCancelled { return }
            let renewed = (try? await held.renew(api, leaseSeconds: checkout.lease?.seconds)) != nil
            pause = renewed ? max(1, seconds / 2) : max(1, seconds / 10)
        }
    }

    /// The checkin (the reservation's return), asked again for up to a minute while the server
    /// cannot be reached.
    private func giveBackPersistently(_ api: VMReserveClient, _ held: Holding) async throws(VMReserveError) {
        let deadline = ContinuousClock.now + .seconds(60)
        while true {
            do {
                try await held.giveBack(api)
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
