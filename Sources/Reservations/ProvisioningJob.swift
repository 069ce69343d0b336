/// Work for the provider on one VM, claimed by one worker (see lua/lib/jobs.lua).
public struct ProvisioningJob: Sendable, Equatable {
    public enum Kind: String, Sendable {
        case provision
        case reset
        case deprovision
        /// Deprovision, then a fresh VM in its place.
        case replace
    }

    /// The VM as it was when the job was taken.
    public var vm: VM
    public var kind: Kind
    /// The claim take_job.lua gave: only its holder's outcome counts.
    public var claim: String
}

/// What a worker asking for a job got.
public enum JobTake: Sendable, Equatable {
    case job(ProvisioningJob)
    /// No job is due; the next is due at `nextDue` (Unix ms, nil: none queued), Redis' time being `now`.
    case none(nextDue: Int?, now: Int)
}
