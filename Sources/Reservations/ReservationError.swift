import RedisClient

/// Every way a reservation operation can fail. The scripts name these by the first word of their
/// error replies; `init(scriptError:)` is the one place that maps those words.
public enum ReservationError: Error, Sendable, Equatable {
    case unauthorized(String)
    case forbidden(String)
    case quotaExceeded(String)
    case noVMAvailable
    case maxVMCountReached
    /// Every address of the pool's IP block is taken.
    case ipPoolExhausted(String)
    case vmNotFound
    /// No such reservation, or another user's.
    case reservationNotFound
    case userNotFound(String)
    case invalidState(String)
    case badRequest(String)
    /// An Idempotency-Key the caller already used for a different request.
    case idempotencyKeyReused(String)
    /// An Idempotency-Key whose first request is still waiting for a VM.
    case idempotencyKeyInUse(String)
    /// Redis is unreachable, timing out, or not ready.
    case storeUnavailable
    /// Anything unexpected; the detail is for logs, never for clients.
    case internalError(String)

    /// Maps a failure of a script call.
    init(_ error: any Error) {
        guard let redisError = error as? RedisError else {
            self = .internalError("\(error)")
            return
        }
        if redisError.isStoreUnavailable {
            self = .storeUnavailable
            return
        }
        guard redisError.kind == .server else {
            self = .internalError(redisError.description)
            return
        }
        let message = redisError.message
        switch redisError.prefix {
        case "UNAUTHORIZED": self = .unauthorized(message)
        case "FORBIDDEN": self = .forbidden(message)
        case "QUOTA_EXCEEDED": self = .quotaExceeded(message)
        case "NO_VM_AVAILABLE": self = .noVMAvailable
        case "MAX_VM_COUNT": self = .maxVMCountReached
        case "IP_POOL_EXHAUSTED": self = .ipPoolExhausted(message)
        case "VM_NOT_FOUND": self = .vmNotFound
        case "RESERVATION_NOT_FOUND": self = .reservationNotFound
        case "USER_NOT_FOUND": self = .userNotFound(message)
        case "INVALID_STATE": self = .invalidState(message)
        case "BAD_REQUEST": self = .badRequest(message)
        case "IDEMPOTENCY_MISMATCH": self = .idempotencyKeyReused(message)
        case "IDEMPOTENCY_IN_PROGRESS": self = .idempotencyKeyInUse(message)
        default: self = .internalError(redisError.description)
        }
    }
}
