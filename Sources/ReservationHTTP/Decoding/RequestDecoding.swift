import Foundation
import HTTPTypes
import Hummingbird
import Reservations

/// Reads and checks what clients send: bodies (strict RFC 8259 JSON, see `StrictJSON`, at most 1 MiB), path and query values.
/// Anything malformed becomes a 400 `bad_request` before any Redis call, so it changes nothing.
enum RequestDecoding {
    static let maxBodySize = 1 << 20

    private static let decoder = JSONDecoder()

    /// The body decoded as `T`, or nil when the request has no body and `T` is optional there.
    static func body<T: Decodable>(_ type: T.Type, from request: Request, context: some RequestContext, required: Bool) async throws -> T? {
        if let length = request.headers.value(.contentLength).flatMap({ Int($0) }), length > maxBodySize {
            throw APIError.payloadTooLarge
        }
        let buffer = try await request.body.collect(upTo: maxBodySize)
        if buffer.readableBytes == 0 {
            if required { throw APIError.badRequest("A JSON body is required") }
            return nil
        }
        let flat: StrictJSON.Flat?
        do throws(StrictJSON.Violation) {
            flat = try StrictJSON.validate(Array(buffer.readableBytesView))
        } catch {
            throw APIError.badRequest(error.message)
        }
        // the usual bodies, read already; anything else (and every mistake, for its message) by Codable
        if let flat, let type = T.self as? any FlatDecodable.Type, let body = type.init(flat: flat) as? T {
            return body
        }
        do {
            return try decoder.decode(T.self, from: buffer)
        } catch let error as DecodingError {
            throw APIError.badRequest(describe(error))
        }
    }

    /// A short, safe description of why JSON did not decode.
    static func describe(_ error: DecodingError) -> String {
        func path(_ context: DecodingError.Context) -> String {
            let keys = context.codingPath.map(\.stringValue).filter { !$0.isEmpty }
            return keys.isEmpty ? "the body" : "'\(keys.joined(separator: "."))'"
        }
        switch error {
        case .typeMismatch(_, let context):
            return "Wrong type for \(path(context))"
        case .valueNotFound(_, let context):
            return "Missing value for \(path(context))"
        case .keyNotFound(let key, _):
            return "Missing field '\(key.stringValue)'"
        case .dataCorrupted(let context):
            if context.codingPath.isEmpty, context.underlyingError != nil { return "The body is not valid JSON" }
            return context.debugDescription.isEmpty ? "Invalid value for \(path(context))" : context.debugDescription
        @unknown default:
            return "The body could not be decoded"
        }
    }

    static let idempotencyKeyField = HTTPField.Name("Idempotency-Key")!

    /// The request's `Idempotency-Key` header, if any: 1 to 255 visible ASCII characters, once.
    static func idempotencyKey(_ request: Request) throws(APIError) -> String? {
        let values = request.headers[values: idempotencyKeyField]
        guard let key = values.first else { return nil }
        guard values.count == 1 else { throw .badRequest("Give Idempotency-Key once") }
        guard (1...255).contains(key.utf8.count), key.utf8.allSatisfy({ (0x21...0x7E).contains($0) }) else {
            throw .badRequest("Idempotency-Key must be 1 to 255 visible ASCII characters")
        }
        return key
    }

    /// A VM id: a UUID, answered in its canonical lowercase form.
    static func vmID(_ text: String) throws(APIError) -> String {
        guard let uuid = UUID(uuidString: text) else { throw .badRequest("vm_id must be a UUID") }
        return uuid.uuidString.lowercased()
    }

    /// A dotted-quad IPv4 address.
    static func ip(_ text: String) throws(APIError) -> String {
        guard let address = IPv4Address(parsing: text) else { throw .badRequest("ip must be an IPv4 address such as 203.0.113.7") }
        return address.description
    }

    /// The query's parameters, refusing any not in `allowed` and any given twice. A parameter
    /// left empty counts as absent, as in API.md's own templates (`?cursor=&limit=`,
    /// `/checkinVM/?vm_id=&ip=`).
    static func query(_ request: Request, allowed: [String]) throws(APIError) -> [String: String] {
        var values: [String: String] = [:]
        for (name, value) in request.uri.queryParameters {
            let name = String(name)
            guard allowed.contains(name) else { throw .badRequest("Unknown query parameter '\(name)'") }
            guard values[name] == nil else { throw .badRequest("Query parameter '\(name)' is given twice") }
            values[name] = String(value)
        }
        return values.isEmpty ? values : values.filter { !$0.value.isEmpty }
    }

    /// A whole number in `range` from a query parameter.
    static func integer(_ text: String?, _ name: String, in range: ClosedRange<Int>) throws(APIError) -> Int? {
        guard let text else { return nil }
        guard let value = Int(text), range.contains(value) else {
            throw .badRequest("\(name) must be a whole number from \(range.lowerBound) to \(range.upperBound)")
        }
        return value
    }
}

/// Decoding that refuses fields the type does not know.
protocol StrictDecodable: Decodable {
    associatedtype Field: CodingKey & CaseIterable
}

extension StrictDecodable {
    /// The body's fields, after checking there are no others.
    static func fields(from decoder: any Decoder) throws -> KeyedDecodingContainer<Field> {
        let names = Set(Field.allCases.map(\.stringValue))
        let all = try decoder.container(keyedBy: AnyKey.self)
        if let unknown = all.allKeys.first(where: { !names.contains($0.stringValue) }) {
            throw DecodingError.dataCorrupted(.init(codingPath: [], debugDescription: "Unknown field '\(unknown.stringValue)'"))
        }
        return try decoder.container(keyedBy: Field.self)
    }
}

private struct AnyKey: CodingKey {
    let stringValue: String
    let intValue: Int? = nil
    init(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
}

/// A whole number that must fall in a range, or a 400 naming the field.
func checked(_ value: Int?, _ name: String, in range: ClosedRange<Int>) throws(APIError) -> Int? {
    guard let value else { return nil }
    guard range.contains(value) else {
        throw .badRequest("\(name) must be a whole number from \(range.lowerBound) to \(range.upperBound)")
    }
    return value
}
