/// One entry of the history: a state change, as the script that made it recorded it.
public struct Event: Sendable, Equatable {
    /// The stream entry's id, `<Unix ms>-<sequence>`: the cursor to continue after it.
    public var id: String
    /// When, in Unix milliseconds (Redis' clock).
    public var at: Int
    /// checkout, checkin, renew, lease_expired, create, delete, set_cap, user_create,
    /// user_update, user_delete, token_rotate, provisioned, provision_failed, reset,
    /// reset_failed, retry, deprovisioned, deprovision_failed...
    public var action: String
    /// Who asked: a user's or principal's name, or `system` (a lease that ran out, a first start).
    public var actor: String
    public var vmID: String?
    public var ip: String?
    /// Whom it concerns: the VM's holder, or the user changed.
    public var user: String?
    /// The VM's status after it (`deleted` once gone): the outcome.
    public var status: String?
    public var detail: String?
    /// The reservation the VM belongs to (every event of a reservation's VMs names it).
    public var reservationID: String? = nil
}

/// One page of history, oldest first. `nextCursor` is nil on the last page.
public struct EventPage: Sendable, Equatable {
    public var items: [Event]
    public var nextCursor: String?
}

/// Whose history to read.
public enum EventScope: String, Sendable {
    /// Events about the caller.
    case mine
    /// Every event (admins).
    case all
}
