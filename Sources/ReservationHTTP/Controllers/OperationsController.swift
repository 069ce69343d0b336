import Hummingbird
import Reservations

/// `/healthz`, `/readyz`, `/metrics` and `/openapi.json`: no token needed.
struct OperationsController {
    let store: ReservationStore
    let metrics: GatewayMetrics

    /// docs/openapi.json, embedded at build time.
    static let openAPIDocument = EmbeddedDocuments.files["openapi"]!

    func addRoutes(to router: Router<GatewayRequestContext>) {
        router.get("healthz") { _, _ in
            EnvelopeResponse.success(JSONObject(fields: ["alive": true]))
        }
        router.get("readyz") { _, _ in
            guard await store.isReady() else {
                throw APIError(ReservationError.storeUnavailable)
            }
            return EnvelopeResponse.success(JSONObject(fields: ["ready": true]))
        }
        router.get("openapi.json") { request, _ in
            _ = try RequestDecoding.query(request, allowed: [])
            return Response(status: .ok, headers: [.contentType: "application/json; charset=utf-8"],
                            body: .init(byteBuffer: ByteBuffer(string: Self.openAPIDocument)))
        }
        router.get("metrics") { _, _ in
            let stats = try? await store.poolStats(.trustedAdmin(name: "admin"))  // the gateway itself reads the counts
            return Response(
                status: .ok,
                headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(bytes: metrics.scrape(stats)))
            )
        }
    }
}
