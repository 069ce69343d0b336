import Foundation
import Synchronization
import TestSupport

/// What the clients have been told, shared between them.
public final class ClientLedger: Sendable {
    public struct State: Sendable {
        public var holderOf: [String: String] = [:]
        public var idOfIP: [String: String] = [:]
        public var heldBy: [String: Int] = [:]
        public var violations: [String] = []
        public var checkouts = 0
        public var refusals: [Int: Int] = [:]
    }
    public let state = Mutex(State())

    public init() {}

    /// A client was handed `id` at `ip`.
    public func handedOut(id: String, ip: String, to user: String, quota: Int) {
        state.withLock { state in
            state.checkouts += 1
            if let holder = state.holderOf[id] { state.violations.append("\(id) handed to \(user) while \(holder) holds it") }
            if let known = state.idOfIP[ip], known != id { state.violations.append("ip \(ip) belongs to \(known) and \(id)") }
            state.idOfIP[ip] = id
            state.holderOf[id] = user
            state.heldBy[user, default: 0] += 1
            if state.heldBy[user]! > quota { state.violations.append("\(user) holds \(state.heldBy[user]!) > quota \(quota)") }
        }
    }

    /// Called just before the client sends its checkin.
    public func returning(id: String, by user: String) {
        state.withLock { state in
            if state.holderOf.removeValue(forKey: id) != user { state.violations.append("\(user) returns \(id) it does not hold") }
            state.heldBy[user, default: 0] -= 1
        }
    }

    public func refused(_ status: Int) {
        state.withLock { $0.refusals[status, default: 0] += 1 }
    }
}

/// One client: check out one or two VMs on random gateways, hold them briefly, check them
/// in on other random gateways; sometimes ask which VMs it holds.
public func checkoutCycle(as user: String, token: String, quota: Int, gateways: [Gateway], until goal: WorkGoal,
                          ledger: ClientLedger) async throws {
    var held: [(id: String, ip: String)] = []
    while !goal.isReached {
        try Task.checkCancellation()
        let wanted = Int.random(in: 1...(quota + 1))  // sometimes one more than the quota allows
        while held.count < wanted {
            let response = try await gateways.randomElement()!.call(.POST, "/v1/checkouts", token: token)
            guard response.status == 201, let id = response["vm_id"], let ip = response["ip"] else {
                ledger.refused(response.status)
                break
            }
            ledger.handedOut(id: id, ip: ip, to: user, quota: quota)
            goal.record()
            held.append((id, ip))
        }
        if Int.random(in: 0..<10) == 0 {
            let mine = try await gateways.randomElement()!.call(.GET, "/v1/vms/mine", token: token)
            let ids = Set(mine.items?.compactMap { $0["vm_id"] as? String } ?? [])
            if ids != Set(held.map(\.id)) { ledger.state.withLock { $0.violations.append("\(user) sees \(ids), holds \(held)") } }
        }
        try await Task.sleep(for: .microseconds(Int.random(in: 0...2000)))
        for vm in held {
            ledger.returning(id: vm.id, by: user)
            let body = Bool.random() ? #"{"vm_id": "\#(vm.id)"}"# : #"{"ip": "\#(vm.ip)"}"#
            let response = try await gateways.randomElement()!.call(.POST, "/v1/checkins", token: token, body: body)
            if response.status != 200 { ledger.state.withLock { $0.violations.append("checkin of \(vm.id) answered \(response.status)") } }
        }
        held.removeAll()
    }
}
