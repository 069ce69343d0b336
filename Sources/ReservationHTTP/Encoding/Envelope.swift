import Foundation
import HTTPTypes
import Hummingbird

/// The JSON envelope of every answer: `{"status", "data", "message"}`, plus `code` on errors.
struct Envelope<Payload: Encodable>: Encodable {
    let status: String
    let data: Payload?
    let message: String?
    let code: String?

    private enum CodingKeys: String, CodingKey {
        case status, data, message, code
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(status, forKey: .status)
        try container.encode(data, forKey: .data)  // null when absent, never omitted
        try container.encode(message, forKey: .message)
        try container.encodeIfPresent(code, forKey: .code)
    }
}

/// Renders payloads in the envelope.
enum EnvelopeResponse {
    private static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()

    /// A success: `{"status": "success", "data": payload, "message": null}`.
    static func success(_ payload: some Encodable, status: HTTPResponse.Status = .ok) throws -> Response {
        try response(Envelope(status: "success", data: payload, message: nil, code: nil), status: status, headers: [:])
    }

    /// A failure: `{"status": "error", "data": null, "message": …, "code": …}`.
    static func failure(_ error: APIError) -> Response {
        let body = Envelope<Never?>(status: "error", data: nil, message: error.message, code: error.code)
        // Encoding strings and nulls cannot fail.
        return (try? response(body, status: error.status, headers: error.headers)) ?? Response(status: error.status)
    }

    private static func response(_ body: some Encodable, status: HTTPResponse.Status, headers: HTTPFields) throws -> Response {
        var headers = headers
        headers[.contentType] = "application/json; charset=utf-8"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: try encoder.encode(body))))
    }
}
