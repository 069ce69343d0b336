import HTTPTypes
import Hummingbird

/// Renders answers in the JSON envelope: `{"status", "data", "message"}`, plus `code` on errors.
enum EnvelopeResponse {
    /// A success: `{"status": "success", "data": payload, "message": null}`.
    static func success(_ payload: some JSONValue, status: HTTPResponse.Status = .ok) -> Response {
        var json = JSONWriter()
        json.object { envelope in
            envelope.field("status", "success")
            envelope.field("data", payload)
            envelope.field("message", String?.none)
        }
        return response(json, status: status, headers: [:])
    }

    /// A failure: `{"status": "error", "data": null, "message": …, "code": …}`.
    static func failure(_ error: APIError) -> Response {
        var json = JSONWriter(capacity: 128)
        json.object { envelope in
            envelope.field("status", "error")
            envelope.field("data", String?.none)
            envelope.field("message", error.message)
            envelope.field("code", error.code)
        }
        return response(json, status: error.status, headers: error.headers)
    }

    private static func response(_ json: JSONWriter, status: HTTPResponse.Status, headers: HTTPFields) -> Response {
        var headers = headers
        headers[.contentType] = "application/json; charset=utf-8"
        return Response(status: status, headers: headers, body: .init(byteBuffer: json.buffer))
    }
}
