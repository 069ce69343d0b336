import HTTPTypes
import Hummingbird

/// Renders answers in the JSON envelope: `{"status", "data", "message"}`, plus `code` on errors.
enum EnvelopeResponse {
    /// A success: `{"status": "success", "data": payload, "message": null}`.
    static func success(_ payload: some JSONValue, status: HTTPResponse.Status = .ok) -> Response {
        var json = JSONWriter(capacity: 512)  // a VM's answer, whole
        json.object { envelope in
            envelope.field("status", "success")
            envelope.field("data", payload)
            envelope.field("message", String?.none)
        }
        return Response(status: status, headers: jsonHeaders, body: .init(byteBuffer: json.buffer))
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
        var headers = error.headers
        headers[.contentType] = jsonHeaders[.contentType]
        return Response(status: error.status, headers: headers, body: .init(byteBuffer: json.buffer))
    }

    /// Built once: a success's only header (setting it on new fields cost three allocations).
    private static let jsonHeaders: HTTPFields = [.contentType: "application/json; charset=utf-8"]
}
