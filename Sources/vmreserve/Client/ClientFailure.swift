import ArgumentParser
import VMReserveClient

/// Why a client command failed: one line for people (the envelope's message, where the server
/// gave one) and the exit code scripts tell the cases apart by (README, "Command-line client").
struct ClientFailure: Error, CustomStringConvertible {
    /// The documented exit codes. (Usage errors exit 64, as argument parsing does.)
    enum Kind: Int32 {
        /// Anything else the server refused (409 invalid_state, 400 bad_request…).
        case other = 1
        /// Not signed in, an unknown token (401), or not allowed (403).
        case authentication = 3
        /// No VM available (503 no_vm_available: too few for a reservation), also after `--wait`.
        case noneAvailable = 4
        /// The caller's quota is reached (429 quota_exceeded).
        case quota = 5
        /// No such VM, reservation, user or pool (404).
        case notFound = 6
        /// The server cannot be reached, or its Redis cannot (503 store_unavailable).
        case unreachable = 7
    }

    let kind: Kind
    let message: String
    /// The envelope's `code`, when the server answered; `answer_lost` when the request may have
    /// reached the server but no answer came back (a timeout, a connection cut).
    var code: String?

    var description: String { message }
}

extension ClientFailure {
    /// The failure for what the client library met.
    /// - Parameter signedIn: whether the call carried a token (a 401 without one means "log in").
    init(_ error: VMReserveError, signedIn: Bool) {
        let kind: Kind = switch (error.kind, error.status, error.code) {
        case (.unreachable, _, _), (.answerLost, _, _): .unreachable
        case (.notVMReserve, let status?, _) where [502, 503, 504].contains(status): .unreachable
        case (_, 401, _), (_, 403, _): .authentication
        case (_, _, .noVMAvailable): .noneAvailable
        case (_, _, .quotaExceeded): .quota
        case (_, 404, _): .notFound
        case (_, _, .storeUnavailable): .unreachable
        default: .other
        }
        let message = error.status == 401 && !signedIn
            ? "not signed in: run `vmreserve login --server URL`, or set VMRESERVE_TOKEN" : error.message
        self.init(kind: kind, message: message, code: error.kind == .answerLost ? "answer_lost" : error.codeText)
    }
}

extension ClientFailure {
    /// Prints the failure as one line on standard error and exits with its code.
    func exit() -> ExitCode {
        Terminal.error("vmreserve: \(message)")
        return ExitCode(kind.rawValue)
    }
}
