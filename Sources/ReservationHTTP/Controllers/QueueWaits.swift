import Foundation
import Hummingbird
import Reservations

/// How requests with `?wait=N` wait in the queue that every gateway of a pool shares, first come
/// first served (lua/lib/waiters.lua): waiting checkouts and waiting reservations alike.
struct QueueWaits: Sendable {
    /// The longest `?wait=` honoured.
    let longest: Duration
    /// A waiting reservation's claim on its place, renewed every third of it while its request
    /// waits: when its gateway dies, the wait ends this long after, and its set-aside VMs go back.
    let claim: Duration

    /// The wait `request` asks for with `?wait=N` (N from 0 to 3600 seconds, its only query
    /// parameter), at most `longest`; nil for none. Anything else in the query is 400.
    func asked(by request: Request) throws -> Duration? {
        let query = try RequestDecoding.query(request, allowed: ["wait"])
        guard let seconds = try RequestDecoding.integer(query["wait"], "wait", in: 0...3600),
              case let wait = min(.seconds(seconds), longest), wait > .zero else { return nil }
        return wait
    }

    /// A request that may wait `wait`: `start` asks Redis with a new ticket (its gateway's id is
    /// the pool's waiting room's) and answers at once, or queues it; then this sleeps until the
    /// ticket has been handed what it waits for, and takes it with `take`. When the wait ends
    /// without it, the request leaves the queue and the answer is 503 (unless it was handed
    /// something just then: that is its). A client that goes away leaves the queue, and what was
    /// already handed to it goes back to the pool. `holdsClaim`: the gateway renews the wait's
    /// claim while it waits (a waiting reservation).
    func answer<Value: Sendable & Equatable>(
        waiting wait: Duration, idempotencyKey key: String?, holdsClaim: Bool, context: AuthenticatedRequestContext,
        start: (_ ticket: String) async throws -> ReservationStore.WaitStart<Value>,
        take: @escaping @Sendable (_ ticket: String) async throws -> Value
    ) async throws -> Value {
        let ticket = UUID().uuidString.lowercased()
        let deadline = ContinuousClock.now + wait
        switch try await start(ticket) {
        case .answered(let value):
            return value
        case .queued:
            return try await outcome(of: ticket, until: deadline, idempotencyKey: key, holdsClaim: holdsClaim, context: context) {
                try await take(ticket)
            }
        }
    }

    /// Sleeps until queued `ticket` has an outcome, and answers as `answer` says.
    private func outcome<Value: Sendable>(
        of ticket: String, until deadline: ContinuousClock.Instant, idempotencyKey key: String?, holdsClaim: Bool,
        context: AuthenticatedRequestContext, take: @Sendable () async throws -> Value
    ) async throws -> Value {
        let (caller, store, room, channel, claim) = (context.caller, context.store, context.pool.room, context.channel, claim)
        let holder = holdsClaim ? Task {
            while !Task.isCancelled {
                try? await Task.sleep(for: claim / 3)
                // (a failed renewal is tried again; a wait that is over is over for its request too)
                if (try? await store.holdWait(caller, ticket: ticket, claim: claim)) == .gone { room.resolve(ticket, .timedOut) }
            }
        } : nil
        defer { holder?.cancel() }
        let outcome = await room.wait(for: ticket, until: deadline) { gone in
            ClientDepartureHandler.whenGone(of: channel, gone)
        }
        holder?.cancel()
        switch outcome {
        case .handed:
            break
        case .quotaReached:
            if key != nil { _ = try await store.leaveQueue(caller, ticket: ticket, giveBack: true, idempotencyKey: key) }
            throw ReservationError.quotaExceeded("quota reached while waiting")
        case .timedOut:
            // something may have been handed over just now: then it is this request's
            guard case .handed = try await store.leaveQueue(caller, ticket: ticket, giveBack: false, idempotencyKey: key) else {
                throw ReservationError.noVMAvailable
            }
        case .disconnected:
            _ = try await store.leaveQueue(caller, ticket: ticket, giveBack: true, idempotencyKey: key)
            throw ReservationError.noVMAvailable  // nobody is left to read it
        }
        return try await take()
    }
}
