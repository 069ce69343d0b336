import Hummingbird
import NIOCore
import Logging
import RedisClient
import Reservations
import ServiceLifecycle

/// Builds the gateway: a Redis client (and one for the blocking wait of waiting checkouts), the
/// lease reaper, the handoff listener, the provisioning worker, the pool keeper when configured,
/// and the HTTP server, as services that start in that order
/// and stop in reverse (the server drains in-flight requests before Redis closes).
/// - Parameter onServerRunning: called once the server listens, with its channel (tests read the
///   port from it when they ask for port 0).
public func buildApplication(
    _ configuration: GatewayConfiguration,
    onServerRunning: @escaping @Sendable (any Channel) async -> Void = { _ in }
) -> some ApplicationProtocol {
    var logger = Logger(label: "vmreserve")
    logger.logLevel = configuration.logLevel
    let keys = PoolKeys(pool: configuration.pool)
    var redisConfiguration = configuration.redis
    redisConfiguration.traced = configuration.tracing
    let redis = RedisClient(
        configuration: redisConfiguration,
        library: Script.library,
        setupCommands: [
            ReservationStore.initializePoolCommand(keys: keys, maxVMCount: configuration.maxVMCount, ipPool: configuration.ipPool,
                                                   sizes: configuration.sizes, provisioning: configuration.provisioning),
        ],
        logger: logger
    )
    let store = ReservationStore(redis: redis, keys: keys, defaultQuota: configuration.defaultQuota, leases: configuration.leases,
                                 providerAssignsAddresses: configuration.provisioning.provider.assignsAddresses,
                                 idempotencyWindow: configuration.idempotencyWindow,
                                 replicaAcknowledgements: configuration.minReplicasAck > 0
                                     ? (configuration.minReplicasAck, configuration.replicaAckTimeout) : nil)
    // waiting checkouts: a connection of their own blocks on this gateway's handoff list
    var blockingConfiguration = configuration.redis
    blockingConfiguration.connectionCount = 1
    blockingConfiguration.commandTimeout = .seconds(HandoffListener.block) + configuration.redis.commandTimeout
    let blockingRedis = RedisClient(configuration: blockingConfiguration, logger: logger)
    let room = WaitingRoom()
    let adminTokens = AdminTokens(configuration.adminTokens)
    if let path = configuration.adminTokenFile {
        do {
            try AdminTokenFileWatcher.load(path, into: adminTokens)
        } catch {
            logger.error("the admin token file is unusable; it is read again when it changes", metadata: ["path": "\(path)"])
        }
    }
    let router = buildRouter(store: store, room: room, adminTokens: adminTokens, configuration: configuration)
    var services: [any Service] = [
        redis, blockingRedis, LeaseReaper(store: store, logger: logger),
        HandoffListener(room: room, redis: blockingRedis, keys: keys, logger: logger),
        ProvisioningWorker(store: store, policy: configuration.provisioning, workerID: room.gatewayID, logger: logger),
        RedisSettingsCheck(redis: redis, logger: logger),
    ]
    if let path = configuration.adminTokenFile {
        services.append(AdminTokenFileWatcher(path: path, tokens: adminTokens, interval: .seconds(2), logger: logger))
    }
    if configuration.idleDeleteAfter != nil || configuration.minReady > 0 {
        services.append(PoolKeeper(store: store, idleSeconds: configuration.idleDeleteAfter, minReady: configuration.minReady,
                                   interval: configuration.poolUpkeepInterval, logger: logger))
    }
    return Application(
        router: router,
        server: .http1(configuration: .init(idleTimeout: TimeAmount(configuration.idleTimeout))),
        configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "vmreserve"),
        services: services,
        onServerRunning: onServerRunning,
        logger: logger
    )
}

func buildRouter(
    store: ReservationStore, room: WaitingRoom, adminTokens: AdminTokens, configuration: GatewayConfiguration
) -> Router<GatewayRequestContext> {
    let metrics = GatewayMetrics()
    let router = Router(context: GatewayRequestContext.self)
    let routeMethods = RouteMethods()
    router.addMiddleware {
        if configuration.tracing {
            TracingMiddleware()
        }
        RequestTelemetryMiddleware(metrics: metrics)
        ErrorEnvelopeMiddleware()
        MethodNotAllowedMiddleware(routes: routeMethods)
        if configuration.authenticationFailureLimit > 0 {
            AuthenticationLimitMiddleware(failures: AuthenticationFailures(limit: configuration.authenticationFailureLimit),
                                          trustForwardedFor: configuration.trustForwardedFor)
        }
        IdentityMiddleware(adminTokens: adminTokens, anonymousAdmin: configuration.devMode,
                           oidc: configuration.oidc.map { OIDCVerifier(configuration: $0, logger: Logger(label: "vmreserve")) })
    }
    OperationsController(store: store, metrics: metrics).addRoutes(to: router)

    let authenticated = router.group(context: AuthenticatedRequestContext.self)
    let userRoutes = authenticated.group().add(middleware: CallerFirstMiddleware(store: store, requiredRole: .user))
    let adminRoutes = authenticated.group().add(middleware: CallerFirstMiddleware(store: store, requiredRole: .admin))
    let vms = VMController(store: store, room: room, maxWait: configuration.maxWait)
    let admin = AdminVMController(store: store)
    vms.addRoutes(to: userRoutes.group("v1"))
    admin.addRoutes(to: adminRoutes.group("v1/admin"))
    UserController(store: store).addRoutes(to: adminRoutes.group("v1/admin"))
    HistoryController(store: store).addRoutes(user: userRoutes.group("v1"), admin: adminRoutes.group("v1/admin"))
    LegacyController(vms: vms, admin: admin).addRoutes(userRoutes: userRoutes, adminRoutes: adminRoutes)
    routeMethods.learn(from: router)
    return router
}
