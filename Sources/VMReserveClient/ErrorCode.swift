/// The `code` of an error answer: what a program tells the failures apart by (docs/API.md).
public enum ErrorCode: String, Codable, Sendable, CaseIterable {
    case badRequest = "bad_request"
    case unauthorized
    case forbidden
    case quotaExceeded = "quota_exceeded"
    case noVMAvailable = "no_vm_available"
    case maxVMCountReached = "max_vm_count_reached"
    case ipPoolExhausted = "ip_pool_exhausted"
    case vmNotFound = "vm_not_found"
    case reservationNotFound = "reservation_not_found"
    case notFound = "not_found"
    case invalidState = "invalid_state"
    case payloadTooLarge = "payload_too_large"
    case storeUnavailable = "store_unavailable"
    case idempotencyKeyReused = "idempotency_key_reused"
    case idempotencyKeyInUse = "idempotency_key_in_use"
    case tooManyFailedAuthentications = "too_many_failed_authentications"
    case methodNotAllowed = "method_not_allowed"
    case `internal`
}

/// Why a call failed.
public struct VMReserveError: Error, Sendable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// No connection could be made: the request never reached the gateway.
        case unreachable
        /// The request may have reached the gateway, but no answer came back (a timeout, a cut
        /// connection): it may have taken effect.
        case answerLost
        /// The gateway answered something that is not vmreserve's envelope.
        case notVMReserve
        /// The gateway refused it: see `status` and `code`.
        case refused
    }

    public let kind: Kind
    /// The HTTP status, when an answer came.
    public let status: Int?
    /// The envelope's code, when the gateway refused the call (nil for a code this client does
    /// not know yet: `codeText` has it).
    public let code: ErrorCode?
    public let codeText: String?
    /// One line for people: the envelope's message, or what went wrong on the way.
    public let message: String

    public var description: String { message }

    init(kind: Kind, status: Int? = nil, codeText: String? = nil, message: String) {
        self.kind = kind
        self.status = status
        self.codeText = codeText
        self.code = codeText.flatMap(ErrorCode.init(rawValue:))
        self.message = message
    }
}
