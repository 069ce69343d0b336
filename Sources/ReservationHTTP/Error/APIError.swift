import HTTPTypes
import Hummingbird
import Reservations

/// An error as the API shows it: HTTP status, stable `code`, a sentence for people, and extra
/// headers. Every failure is mapped here, in one table; nothing else reaches a client.
struct APIError: Error, Sendable {
    let status: HTTPResponse.Status
    let code: String
    let message: String
    var headers: HTTPFields = [:]

    static func badRequest(_ message: String) -> APIError {
        APIError(status: .badRequest, code: "bad_request", message: message)
    }

    static let unauthorized = APIError(
        status: .unauthorized, code: "unauthorized", message: "A valid bearer token is required",
        headers: [.wwwAuthenticate: "Bearer"]
    )
    /// With `Connection: close`: the client should stop sending the rest of the body and go.
    static let payloadTooLarge = APIError(
        status: .contentTooLarge, code: "payload_too_large", message: "The request body is larger than 1 MiB",
        headers: [.connection: "close"]
    )
    static func tooManyAuthenticationFailures(retryAfter seconds: Int) -> APIError {
        APIError(status: .tooManyRequests, code: "too_many_failed_authentications",
                 message: "Too many failed authentications from this address; retry in \(seconds) seconds",
                 headers: [.retryAfter: String(seconds)])
    }
    static func methodNotAllowed(_ allowed: [String]) -> APIError {
        APIError(status: .methodNotAllowed, code: "method_not_allowed",
                 message: "This route answers \(allowed.joined(separator: ", ")) only", headers: [.allow: allowed.joined(separator: ", ")])
    }
    static let routeNotFound = APIError(status: .notFound, code: "not_found", message: "No such route")
    static func poolNotFound(_ message: String) -> APIError {
        APIError(status: .notFound, code: "not_found", message: sentence(message))
    }
    static let internalError = APIError(status: .internalServerError, code: "internal", message: "Internal error")

    /// The table from domain errors to the API.
    init(_ error: ReservationError) {
        switch error {
        case .unauthorized:
            self = .unauthorized
        case .forbidden(let message):
            self.init(status: .forbidden, code: "forbidden", message: Self.sentence(message))
        case .quotaExceeded(let message):
            self.init(status: .tooManyRequests, code: "quota_exceeded", message: Self.sentence(message))
        case .noVMAvailable:
            self.init(status: .serviceUnavailable, code: "no_vm_available",
                      message: "No VMs currently available, please try after some time", headers: [.retryAfter: "5"])
        case .maxVMCountReached:
            self.init(status: .conflict, code: "max_vm_count_reached", message: "Error: Maximum VM Count reached")
        case .ipPoolExhausted(let message):
            self.init(status: .conflict, code: "ip_pool_exhausted", message: Self.sentence(message))
        case .vmNotFound:
            self.init(status: .notFound, code: "vm_not_found", message: "Could not find a vm with given details")
        case .reservationNotFound:
            self.init(status: .notFound, code: "reservation_not_found", message: "Could not find a reservation with given details")
        case .userNotFound(let message):
            self.init(status: .notFound, code: "not_found", message: Self.sentence(message))
        case .invalidState(let message):
            self.init(status: .conflict, code: "invalid_state", message: Self.sentence(message))
        case .badRequest(let message):
            self = .badRequest(Self.sentence(message))
        case .idempotencyKeyReused(let message):
            self.init(status: .unprocessableContent, code: "idempotency_key_reused", message: Self.sentence(message))
        case .idempotencyKeyInUse(let message):
            self.init(status: .conflict, code: "idempotency_key_in_use", message: Self.sentence(message), headers: [.retryAfter: "1"])
        case .storeUnavailable:
            self.init(status: .serviceUnavailable, code: "store_unavailable",
                      message: "The reservation store is unavailable, please retry shortly", headers: [.retryAfter: "1"])
        case .internalError:
            self = .internalError
        }
    }

    private init(status: HTTPResponse.Status, code: String, message: String, headers: HTTPFields = [:]) {
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers
    }

    /// Scripts write lowercase fragments ("quota of 2 VMs reached"); the API answers sentences.
    private static func sentence(_ text: String) -> String {
        guard let first = text.first else { return text }
        return first.uppercased() + text.dropFirst()
    }

    /// Any error thrown while handling a request, as the client will see it.
    static func from(_ error: any Error) -> APIError {
        switch error {
        case let error as APIError: return error
        case let error as ReservationError: return APIError(error)
        case let error as any HTTPResponseError:  // Hummingbird's own, e.g. a streamed body over the limit
            switch error.status {
            case .notFound: return .routeNotFound
            case .contentTooLarge: return .payloadTooLarge
            case .badRequest: return .badRequest("The request is malformed")
            case .unauthorized: return .unauthorized
            default: return .internalError
            }
        case let error as DecodingError: return .badRequest(RequestDecoding.describe(error))
        default: return .internalError
        }
    }
}
