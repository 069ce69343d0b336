import Hummingbird
import Reservations

/// `/healthz`, `/readyz` and `/metrics`: no token needed.
struct OperationsController {
    let store: ReservationStore
    let metrics: GatewayMetrics

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
