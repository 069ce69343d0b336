import Logging
import ServiceLifecycle

/// Does the provider's work on VMs, as queued in Redis (see lua/lib/jobs.lua):
/// every gateway runs one. It takes the first due job (`take_job.lua`), calls the provider,
/// renews its claim every third of `policy.claim` while the provider works, and reports the
/// outcome (`finish_job.lua`). At most `policy.concurrency` calls run at once. When no job is
/// due it sleeps until the next one is, but never longer than `maximumSleep` (another gateway
/// may queue one meanwhile): one small script call a second at most, not a busy poll.
///
/// If this gateway dies mid-call, its claims run out and other gateways take the jobs over. On
/// a graceful stop it gives its jobs up at once, so another gateway need not wait for that.
public struct ProvisioningWorker: Service {
    let store: ReservationStore
    let policy: ProvisioningPolicy
    /// This gateway's id, recorded in the VMs it works on.
    let workerID: String
    let logger: Logger
    let maximumSleep: Duration

    public init(store: ReservationStore, policy: ProvisioningPolicy, workerID: String, logger: Logger,
                maximumSleep: Duration = .seconds(1)) {
        self.store = store
        self.policy = policy
        self.workerID = workerID
        self.logger = logger
        self.maximumSleep = maximumSleep
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown { await workUntilCancelled() }
    }

    private func workUntilCancelled() async {
        let (finished, finishedContinuation) = AsyncStream<Void>.makeStream()
        var finishedJobs = finished.makeAsyncIterator()
        await withDiscardingTaskGroup { group in
            var running = 0
            while !Task.isCancelled {
                if running >= policy.concurrency {
                    _ = await finishedJobs.next()
                    running -= 1
                    continue
                }
                let pause: Duration
                do throws(ReservationError) {
                    switch try await store.takeJob(worker: workerID, claim: policy.claim) {
                    case .job(let job):
                        running += 1
                        group.addTask {
                            await work(on: job)
                            finishedContinuation.yield()
                        }
                        continue
                    case .none(let nextDue, let now):
                        pause = nextDue.map { min(maximumSleep, .milliseconds(max(0, $0 - now))) } ?? maximumSleep
                    }
                } catch .storeUnavailable {
                    pause = maximumSleep  // Redis is away: the client reconnects; try again later
                } catch {
                    logger.error("taking a provisioning job failed", metadata: ["error": "\(error)"])
                    pause = maximumSleep
                }
                try? await Task.sleep(for: pause)
            }
        }
        finishedContinuation.finish()
    }

    /// Calls the provider for `job` while renewing the claim, then reports the outcome.
    func work(on job: ProvisioningJob) async {
        let metadata: Logger.Metadata = ["vm_id": "\(job.vm.id)", "job": "\(job.kind.rawValue)"]
        let outcome = await withDiscardingTaskGroup { group -> Result<ProvisionedMachine, ProviderError> in
            group.addTask { await renewClaim(on: job) }
            defer { group.cancelAll() }
            return await callProvider(for: job)
        }
        if Task.isCancelled {
            // stopping: give the job up, so another gateway takes it at once
            _ = try? await store.extendJob(job, claim: .zero)
            return
        }
        if case .failure(let error) = outcome {
            logger.warning("the provider failed", metadata: metadata.merging(["error": "\(error.message)"]) { $1 })
        }
        do {
            try await store.finishJob(job, outcome: outcome)
        } catch .invalidState {
            logger.info("another gateway took this job over; its outcome counts", metadata: metadata)
        } catch {
            // The claim runs out and the job is done again; the provider finds its own machine.
            logger.error("recording the provider's outcome failed", metadata: metadata.merging(["error": "\(error)"]) { $1 })
        }
    }

    private func callProvider(for job: ProvisioningJob) async -> Result<ProvisionedMachine, ProviderError> {
        do throws(ProviderError) {
            switch job.kind {
            case .provision: return .success(try await policy.provider.provision(job.vm))
            case .reset: return .success(try await policy.provider.reset(job.vm))
            case .deprovision, .replace:
                try await policy.provider.deprovision(job.vm)
                return .success(ProvisionedMachine())
            }
        } catch {
            return .failure(error)
        }
    }

    private func renewClaim(on job: ProvisioningJob) async {
        while true {
            do {
                try await Task.sleep(for: policy.claim / 3)
            } catch {
                return
            }
            do {
                if try await !store.extendJob(job, claim: policy.claim) {
                    logger.warning("lost the claim on a provisioning job", metadata: ["vm_id": "\(job.vm.id)"])
                    return
                }
            } catch {
                // Redis is away for now: the next renewal may still come in time
            }
        }
    }
}
