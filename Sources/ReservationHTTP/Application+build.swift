import Hummingbird
import NIOCore
import Logging
import RedisClient
import Reservations

/// Builds the gateway: a Redis client, the pool initializer and the HTTP server, as services
/// that start in that order and stop in reverse (the server drains before Redis closes).
/// - Parameter onServerRunning: called once the server listens, with its channel (tests read the
///   port from it when they ask for port 0).
public func buildApplication(
    _ configuration: GatewayConfiguration,
    onServerRunning: @escaping @Sendable (any Channel) async -> Void = { _ in }
) -> some ApplicationProtocol {
    var logger = Logger(label: "vmreserve")
    logger.logLevel = configuration.logLevel
    let redis = RedisClient(configuration: configuration.redis, scripts: Script.all, logger: logger)
    let store = ReservationStore(redis: redis, keys: PoolKeys(pool: configuration.pool), defaultQuota: configuration.defaultQuota)
    let poolInitializer = PoolInitializer(store: store, seedMaxVMCount: configuration.maxVMCount, logger: logger)
    let router = buildRouter(store: store, poolInitializer: poolInitializer, configuration: configuration)
    return Application(
        router: router,
        configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "vmreserve"),
        services: [redis, poolInitializer],
        onServerRunning: onServerRunning,
        logger: logger
    )
}

func buildRouter(store: ReservationStore, poolInitializer: PoolInitializer, configuration: GatewayConfiguration) -> Router<GatewayRequestContext> {
    let metrics = GatewayMetrics()
    let router = Router(context: GatewayRequestContext.self)
    router.addMiddleware {
        RequestTelemetryMiddleware(metrics: metrics)
        ErrorEnvelopeMiddleware()
        IdentityMiddleware(
            adminTokenDigest: configuration.adminToken.map(TokenDigest.init(of:)),
            anonymousAdmin: configuration.devMode
        )
    }
    OperationsController(store: store, poolInitializer: poolInitializer, metrics: metrics).addRoutes(to: router)

    let authenticated = router.group(context: AuthenticatedRequestContext.self)
    let vms = VMController(store: store)
    let admin = AdminVMController(store: store)
    vms.addRoutes(to: authenticated.group("v1"))
    admin.addRoutes(to: authenticated.group("v1/admin"))
    UserController(store: store).addRoutes(to: authenticated.group("v1/admin"))
    LegacyController(vms: vms, admin: admin).addRoutes(to: authenticated)
    return router
}
