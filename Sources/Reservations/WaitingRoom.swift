import Foundation
import Logging
import RedisClient
import ServiceLifecycle
import Synchronization

/// The waiting checkouts of one gateway, and how they learn their outcome. The queue itself is
/// in Redis (see `waiters.serve` in lua/lib/waiters.lua), shared by every gateway, first come first
/// served; this is only where a waiting request sleeps until one of four things happens first:
/// the script hands it a VM (or finds it at its quota) and the `HandoffListener` delivers that,
/// its wait ends, or its client goes away.
public final class WaitingRoom: Sendable {
    public enum Outcome: Sendable, Equatable {
        /// A VM was handed to the ticket: claim it.
        case handed(String)
        /// The waiter had reached its quota by the time a VM freed up.
        case quotaReached
        case timedOut
        case disconnected
    }

    /// This gateway's id: the name of its handoff list in Redis.
    public let gatewayID: String
    private let state = Mutex(State())

    private struct State {
        var waiters: [String: CheckedContinuation<Outcome, Never>] = [:]
        /// Outcomes that arrived before their request began to wait, for a little while.
        var early: [String: (outcome: Outcome, arrived: ContinuousClock.Instant)] = [:]
    }

    public init(gatewayID: String = UUID().uuidString.lowercased()) {
        self.gatewayID = gatewayID
    }

    /// Sleeps until `ticket` has an outcome, at the latest `deadline` (then `.timedOut`).
    /// - Parameter whenDisconnected: called with a function to call once the client has gone.
    public func wait(
        for ticket: String, until deadline: ContinuousClock.Instant, whenDisconnected: (@escaping @Sendable () -> Void) -> Void
    ) async -> Outcome {
        var timer: Task<Void, Never>?
        defer { timer?.cancel() }
        return await withCheckedContinuation { continuation in
            let early = state.withLock { state -> Outcome? in
                if let early = state.early.removeValue(forKey: ticket) { return early.outcome }
                state.waiters[ticket] = continuation
                return nil
            }
            if let early {
                continuation.resume(returning: early)
                return
            }
            // only now that the waiter is in place, so that neither can come too early to count
            timer = Task { [weak self] in
                try? await Task.sleep(until: deadline)
                self?.resolve(ticket, .timedOut)
            }
            whenDisconnected { [weak self] in self?.resolve(ticket, .disconnected) }
        }
    }

    /// Gives `ticket` its outcome, unless it has one already.
    public func resolve(_ ticket: String, _ outcome: Outcome) {
        state.withLock { $0.waiters.removeValue(forKey: ticket) }?.resume(returning: outcome)
    }

    /// A handoff from Redis, `<ticket> <vm id>` or `<ticket> QUOTA`.
    func deliver(_ message: String) {
        let parts = message.split(separator: " ", maxSplits: 1).map(String.init)
        guard parts.count == 2 else { return }
        let outcome: Outcome = parts[1] == "QUOTA" ? .quotaReached : .handed(parts[1])
        let waiter = state.withLock { state -> CheckedContinuation<Outcome, Never>? in
            if let waiter = state.waiters.removeValue(forKey: parts[0]) { return waiter }
            let now = ContinuousClock.now
            state.early = state.early.filter { now - $0.value.arrived < .seconds(60) }
            state.early[parts[0]] = (outcome, now)
            return nil
        }
        waiter?.resume(returning: outcome)
    }

    /// Ends every wait (graceful shutdown): each request leaves the queue and answers.
    func resolveAll(_ outcome: Outcome) {
        let all = state.withLock { state in
            defer { state.waiters.removeAll() }
            return Array(state.waiters.values)
        }
        for waiter in all { waiter.resume(returning: outcome) }
    }
}

/// Delivers handoffs to this gateway's `WaitingRoom`: a loop of `BLPOP` on the gateway's handoff
/// list, on a Redis connection of its own (a blocking command would hold up the pipelined ones).
/// Whatever the number of waiting requests, that is one command every few seconds while idle,
/// and one per batch of handoffs.
public struct HandoffListener: Service {
    let room: WaitingRoom
    let redis: RedisClient
    let keys: PoolKeys
    let logger: Logger
    /// How long one BLPOP blocks; the connection's command timeout must be longer.
    public static let block = 5

    public init(room: WaitingRoom, redis: RedisClient, keys: PoolKeys, logger: Logger) {
        self.room = room
        self.redis = redis
        self.keys = keys
        self.logger = logger
    }

    public func run() async throws {
        try await cancelWhenGracefulShutdown { await listen() }
        room.resolveAll(.timedOut)
    }

    private func listen() async {
        let list = "\(keys.prefix):handoff:\(room.gatewayID)"
        while !Task.isCancelled {
            do {
                let reply = try await redis.send(RedisCommand("BLPOP", [list, String(Self.block)]))
                if let message = reply.array?.last?.string { room.deliver(message) }
            } catch {
                if !Task.isCancelled { logger.debug("handoff listener waiting for Redis", metadata: ["error": "\(error)"]) }
                try? await Task.sleep(for: .milliseconds(200))
            }
        }
    }
}
