import Foundation
import NIOHTTP1

/// One call of the API: its method, path (under the pool's `/pools/{pool}` when the client has
/// one), query, JSON body and headers, how long its answer may take, and what its answer's
/// `data` is.
public struct Endpoint<Value: Decodable & Sendable>: Sendable {
    public var method: HTTPMethod
    public var path: String
    public var query: [(String, String)] = []
    public var body: Data?
    public var headers: [(String, String)] = []
    public var timeout: Duration = .seconds(60)

    init(_ method: HTTPMethod, _ path: String, query: [(String, String)] = [], body: [String: Any]? = nil,
         headers: [(String, String)] = [], timeout: Duration = .seconds(60)) {
        self.method = method
        self.path = path
        self.query = query
        self.body = body.flatMap { try? JSONSerialization.data(withJSONObject: $0, options: [.sortedKeys]) }
        self.headers = headers
        self.timeout = timeout
    }
}

/// A VM named by its id or its IP address (checkins take either).
public enum VMName: Sendable, Equatable {
    case id(String)
    case ip(String)
}

// MARK: A user's calls

extension Endpoint where Value == VM {
    /// Checks a VM out: of `size` (else the catalog's first), with a lease of `leaseSeconds`
    /// (else the gateway's default), waiting up to `wait` seconds when none is free. A retry with
    /// the same `idempotencyKey` is the same checkout.
    public static func checkOut(leaseSeconds: Int? = nil, size: String? = nil, wait: Int = 0, idempotencyKey: String? = nil) -> Self {
        var body: [String: Any] = [:]
        if let leaseSeconds { body["lease_seconds"] = leaseSeconds }
        if let size { body["size"] = size }
        return Self(.POST, "/v1/checkouts", query: wait > 0 ? [("wait", String(wait))] : [], body: body,
                    headers: idempotencyKey.map { [("Idempotency-Key", $0)] } ?? [], timeout: .seconds(wait + 60))
    }

    /// Renews the lease of VM `id`: `leaseSeconds` from now, else the lease's own length.
    public static func renew(_ id: String, leaseSeconds: Int? = nil) -> Self {
        Self(.POST, "/v1/checkouts/\(pathComponent(id))/renew", body: leaseSeconds.map { ["lease_seconds": $0] } ?? [:])
    }

    /// Checks in a VM the caller holds.
    public static func checkIn(_ vm: VMName) -> Self {
        switch vm {
        case .id(let id): Self(.POST, "/v1/checkins", body: ["vm_id": id])
        case .ip(let ip): Self(.POST, "/v1/checkins", body: ["ip": ip])
        }
    }

    /// One VM the caller holds (an admin: any VM).
    public static func vm(_ id: String) -> Self { Self(.GET, "/v1/vms/\(pathComponent(id))") }
}

extension Endpoint where Value == [VM] {
    /// The VMs the caller holds.
    public static var mine: Self { Self(.GET, "/v1/vms/mine") }
}

// MARK: Reservations

extension Endpoint where Value == Reservation {
    /// Reserves the VMs of `groups` as one reservation, all of them or none, with a lease of
    /// `leaseSeconds` (else the gateway's default), waiting up to `wait` seconds in the checkout
    /// queue until the whole group is free. A retry with the same `idempotencyKey` is the same
    /// reservation.
    public static func reserve(_ groups: [ReservationGroup], leaseSeconds: Int? = nil, wait: Int = 0,
                               idempotencyKey: String? = nil) -> Self {
        var body: [String: Any] = ["vms": groups.map { group -> [String: Any] in
            var entry: [String: Any] = ["count": group.count]
            if let size = group.size { entry["size"] = size }
            return entry
        }]
        if let leaseSeconds { body["lease_seconds"] = leaseSeconds }
        return Self(.POST, "/v1/reservations", query: wait > 0 ? [("wait", String(wait))] : [], body: body,
                    headers: idempotencyKey.map { [("Idempotency-Key", $0)] } ?? [], timeout: .seconds(wait + 60))
    }

    /// Reserves `count` VMs of `size` (nil: of any size) as one reservation: `reserve(_:)` with
    /// one group.
    public static func reserve(count: Int, size: String? = nil, leaseSeconds: Int? = nil, wait: Int = 0,
                               idempotencyKey: String? = nil) -> Self {
        reserve([ReservationGroup(size: size, count: count)], leaseSeconds: leaseSeconds, wait: wait, idempotencyKey: idempotencyKey)
    }

    /// One reservation of the caller's (an admin: anyone's).
    public static func reservation(_ id: String) -> Self { Self(.GET, "/v1/reservations/\(pathComponent(id))") }

    /// Renews the lease of every VM of reservation `id`, to one end: `leaseSeconds` from now, else
    /// the reservation's own length.
    public static func renewReservation(_ id: String, leaseSeconds: Int? = nil) -> Self {
        Self(.POST, "/v1/reservations/\(pathComponent(id))/renew", body: leaseSeconds.map { ["lease_seconds": $0] } ?? [:])
    }

    /// Returns reservation `id`: checks in every VM of it, which ends it. The answer is the
    /// reservation as it was, its VMs as they are now.
    public static func returnReservation(_ id: String) -> Self { Self(.DELETE, "/v1/reservations/\(pathComponent(id))") }
}

extension Endpoint where Value == [Reservation] {
    /// The caller's reservations, oldest first.
    public static var myReservations: Self { Self(.GET, "/v1/reservations/mine") }
}

// MARK: An admin's calls

extension Endpoint where Value == CreatedVMs {
    /// Creates `count` VMs (as many as the cap allows) of `size`.
    public static func createVMs(_ count: Int, size: String? = nil, idempotencyKey: String? = nil) -> Self {
        var body: [String: Any] = ["count": count]
        if let size { body["size"] = size }
        return Self(.POST, "/v1/admin/vms", body: body, headers: idempotencyKey.map { [("Idempotency-Key", $0)] } ?? [])
    }
}

extension Endpoint where Value == Page<VM> {
    /// A page of every VM, in order, `status` only when given.
    public static func vms(status: VMStatus? = nil, cursor: String? = nil, limit: Int = 100) -> Self {
        var query = [("limit", String(limit))]
        if let status { query.append(("status", status.rawValue)) }
        if let cursor { query.append(("cursor", cursor)) }
        return Self(.GET, "/v1/admin/vms", query: query)
    }
}

extension Endpoint where Value == VM {
    /// Deletes an available or failed VM.
    public static func deleteVM(_ id: String) -> Self { Self(.DELETE, "/v1/admin/vms/\(pathComponent(id))") }
}

extension Endpoint where Value == Pool {
    /// The pool: its cap, its VMs by status, its IP pool.
    public static var pool: Self { Self(.GET, "/v1/admin/pool") }

    /// Sets the cap on VMs.
    public static func setCap(_ cap: Int) -> Self { Self(.PUT, "/v1/admin/pool", body: ["max_vm_count": cap]) }
}

extension Endpoint where Value == [User] {
    /// Every user.
    public static var users: Self { Self(.GET, "/v1/admin/users") }
}

extension Endpoint where Value == User {
    /// Adds a user; the answer carries their token, shown this once.
    public static func addUser(_ name: String, quota: Int, role: Role = .user) -> Self {
        Self(.POST, "/v1/admin/users", body: ["name": name, "quota": quota, "role": role.rawValue])
    }

    /// One user, with the VMs they hold.
    public static func user(_ name: String) -> Self { Self(.GET, "/v1/admin/users/\(pathComponent(name))") }

    /// Changes a user's quota.
    public static func setQuota(_ name: String, _ quota: Int) -> Self {
        Self(.PATCH, "/v1/admin/users/\(pathComponent(name))", body: ["quota": quota])
    }

    /// Gives a user a new token (in the answer); the old one stops working.
    public static func rotateToken(_ name: String) -> Self { Self(.POST, "/v1/admin/users/\(pathComponent(name))/token") }

    /// Removes a user who holds no VMs.
    public static func deleteUser(_ name: String) -> Self { Self(.DELETE, "/v1/admin/users/\(pathComponent(name))") }
}

extension Endpoint where Value == Page<Event> {
    /// A page of the pool's history, oldest first, of one VM or one user when given.
    public static func events(vmID: String? = nil, user: String? = nil, cursor: String? = nil, limit: Int = 100) -> Self {
        var query = [("limit", String(limit))]
        if let vmID { query.append(("vm_id", vmID)) }
        if let user { query.append(("user", user)) }
        if let cursor { query.append(("cursor", cursor)) }
        return Self(.GET, "/v1/admin/events", query: query)
    }
}

/// `text` as one path component, percent-encoded.
func pathComponent(_ text: String) -> String {
    text.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-._~"))) ?? text
}

/// What `POST /v1/admin/vms` answers: the VM made (a count of one) or the VMs made.
public struct CreatedVMs: Decodable, Sendable {
    public var vms: [VM]

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let many = try? container.decode([VM].self) {
            vms = many
        } else {
            vms = [try container.decode(VM.self)]
        }
    }
}
