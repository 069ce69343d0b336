import Hummingbird
import Reservations

/// `/healthz`, `/readyz`, `/metrics` and `/openapi.json`: no token needed.
struct OperationsController {
    let pools: ServedPools
    let metrics: GatewayMetrics

    /// docs/openapi.json, embedded at build time.
    static let openAPIDocument = EmbeddedDocuments.files["openapi"]!

    func addRoutes(to router: Router<GatewayRequestContext>) {
        router.get("healthz") { _, _ in
            EnvelopeResponse.success(JSONObject(fields: ["alive": true]))
        }
        router.get("readyz") { _, _ in
            guard await pools.unprefixed.store.isReady() else {  // one Redis client serves every pool
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
            var stats: [String: PoolStats] = [:]
            for pool in pools.all {  // the gateway itself reads the counts
                stats[pool.name] = try? await pool.store.poolStats(.trustedAdmin(name: "admin"))
            }
            return Response(
                status: .ok,
                headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(bytes: metrics.scrape(stats)))
            )
        }
    }
}
