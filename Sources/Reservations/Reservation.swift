/// Several VMs checked out to one caller as one (lua/reserve.lua): all or none, with one lease,
/// renewed and returned together. A VM of it may be checked in alone; the reservation ends with
/// its last VM. Times are Unix milliseconds from Redis' clock.
public struct Reservation: Sendable, Equatable {
    public var id: String
    /// Its holder's name.
    public var user: String
    public var createdAt: Int
    /// The lease of every VM of it; nil when it has none.
    public var leaseSeconds: Int?
    public var leaseExpiresAt: Int?
    /// The VMs it still holds, in id order.
    public var vms: [VM]
}

/// Part of what a reservation asks for: `count` VMs of `size` (nil: of any size).
public struct ReservationGroup: Sendable, Equatable {
    public var size: String?
    public var count: Int

    public init(size: String?, count: Int) {
        self.size = size
        self.count = count
    }
}
