import Reservations

/// A pool this gateway serves: the store of its Redis keys and the waiting room of its waiting
/// checkouts. A class: every request's context holds one, and is copied several times.
final class ServedPool: Sendable {
    let name: String
    let store: ReservationStore
    let room: WaitingRoom

    init(name: String, store: ReservationStore, room: WaitingRoom) {
        self.name = name
        self.store = store
        self.room = room
    }
}

/// The pools a gateway serves (`--pool`, repeated). The first is served at the routes as
/// docs/API.md writes them; every pool, the first included, also under `/pools/{name}`.
struct ServedPools: Sendable {
    /// In the order configured; never empty.
    let all: [ServedPool]
    private let byName: [String: ServedPool]

    init(_ pools: [ServedPool]) {
        precondition(!pools.isEmpty, "a gateway serves at least one pool")
        all = pools
        byName = Dictionary(pools.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
    }

    /// The pool of routes without a `/pools/{name}` prefix.
    var unprefixed: ServedPool { all[0] }

    subscript(name: String) -> ServedPool? { byName[name] }
}
