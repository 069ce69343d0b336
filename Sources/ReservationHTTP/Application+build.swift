import Hummingbird
import HummingbirdCore
import HummingbirdHTTP2
import HummingbirdTLS
import NIOCore
import Logging
import RedisClient
import Reservations
import ServiceLifecycle

/// Builds the gateway: a Redis client, the services of each pool served (`poolServices`) and the
/// HTTP server, as services that start in that order and stop in reverse (the server drains
/// in-flight requests before Redis closes).
/// - Parameter onServerRunning: called once the server listens, with its channel (tests read the
///   port from it when they ask for port 0).
/// - Throws: only when the HTTPS certificate cannot be used (`ServerCertificate` has read it already).
public func buildApplication(
    _ configuration: GatewayConfiguration,
    onServerRunning: @escaping @Sendable (any Channel) async -> Void = { _ in }
) throws -> some ApplicationProtocol {
    var logger = Logger(label: "vmreserve")
    logger.logLevel = configuration.logLevel
    var redisConfiguration = configuration.redis
    redisConfiguration.traced = configuration.tracing
    redisConfiguration.fatalSetupCodes = ["INVALID_STATE"]  // init_pool: a pool of a layout this version cannot read
    let redis = RedisClient(
        configuration: redisConfiguration,
        library: Script.library,
        setupCommands: configuration.pools.map { pool in
            ReservationStore.initializePoolCommand(keys: PoolKeys(pool: pool), maxVMCount: configuration.maxVMCount,
                                                   ipPool: configuration.ipPool, sizes: configuration.sizes,
                                                   provisioning: configuration.provisioning,
                                                   idleCleanup: configuration.idleDeleteAfter != nil)
        },
        logger: logger
    )
    let adminTokens = AdminTokens(configuration.adminTokens)
    if let path = configuration.adminTokenFile {
        do {
            try AdminTokens.load(path, into: adminTokens)
        } catch {
            logger.error("the admin token file is unusable; it is read again when it changes", metadata: ["path": "\(path)"])
        }
    }
    var services: [any Service] = [redis, RedisDurabilityCheck(redis: redis, logger: logger)]
    var pools: [ServedPool] = []
    for name in configuration.pools {
        let pool = ServedPool(name: name, store: makeStore(keys: PoolKeys(pool: name), redis: redis, configuration: configuration),
                              room: WaitingRoom())
        pools.append(pool)
        services += poolServices(pool, configuration: configuration, logger: logger)
    }
    let router = buildRouter(pools: ServedPools(pools), adminTokens: adminTokens, configuration: configuration)
    if let path = configuration.adminTokenFile {
        services.append(FileWatcher(what: "the admin tokens", paths: [path], interval: .seconds(2), logger: logger,
                                    describedErrors: [AdminTokens.TokenFileError.self]) {
            try AdminTokens.load(path, into: adminTokens)
        })
    }
    let http1 = HTTP1Channel.Configuration(additionalChannelHandlers: [ClientDepartureHandler()],
                                           idleTimeout: TimeAmount(configuration.idleTimeout))
    var server = HTTPServerBuilder.http1(configuration: http1)
    if let certificate = configuration.serverCertificate {
        // with HTTP/2, the protocol the client's ALPN asks for; each HTTP/2 stream is served as an HTTP/1 request
        server = configuration.http2
            ? try .http2Upgrade(tlsConfiguration: certificate.tlsConfiguration,
                                configuration: .init(idleTimeout: configuration.idleTimeout, streamConfiguration: http1))
            : try .tls(server, tlsConfiguration: certificate.tlsConfiguration)
        services.append(FileWatcher(what: "the HTTPS certificate", paths: [certificate.certificateFile, certificate.keyFile],
                                    interval: .seconds(2), logger: logger, describedErrors: [ServerCertificate.FileError.self]) {
            try certificate.reload()
        })
    }
    return Application(
        router: router,
        server: server,
        configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "vmreserve"),
        services: services,
        onServerRunning: onServerRunning,
        logger: logger
    )
}

/// The store of one pool.
func makeStore(keys: PoolKeys, redis: RedisClient, configuration: GatewayConfiguration) -> ReservationStore {
    ReservationStore(redis: redis, keys: keys, defaultQuota: configuration.defaultQuota, leases: configuration.leases,
                     providerAssignsAddresses: configuration.provisioning.provider.assignsAddresses,
                     idempotencyWindow: configuration.idempotencyWindow,
                     replicaAcknowledgements: configuration.minReplicasAck > 0
                         ? (configuration.minReplicasAck, configuration.replicaAckTimeout) : nil)
}

/// What keeps one pool going: the lease reaper, the handoff listener of its waiting checkouts (on
/// a Redis connection of its own, which blocks), the provisioning worker, and the pool keeper when
/// configured.
private func poolServices(_ pool: ServedPool, configuration: GatewayConfiguration, logger: Logger) -> [any Service] {
    var blockingConfiguration = configuration.redis
    blockingConfiguration.connectionCount = 1
    blockingConfiguration.commandTimeout = .seconds(HandoffListener.block) + configuration.redis.commandTimeout
    let blockingRedis = RedisClient(configuration: blockingConfiguration, logger: logger)
    var services: [any Service] = [
        blockingRedis, LeaseReaper(store: pool.store, logger: logger),
        HandoffListener(room: pool.room, redis: blockingRedis, keys: pool.store.keys, logger: logger),
        ProvisioningWorker(store: pool.store, policy: configuration.provisioning, workerID: pool.room.gatewayID, logger: logger),
    ]
    if configuration.idleDeleteAfter != nil || configuration.minReady > 0 {
        services.append(PoolKeeper(store: pool.store, idleSeconds: configuration.idleDeleteAfter, minReady: configuration.minReady,
                                   interval: configuration.poolUpkeepInterval, logger: logger))
    }
    return services
}

func buildRouter(pools: ServedPools, adminTokens: AdminTokens, configuration: GatewayConfiguration) -> Router<GatewayRequestContext> {
    let metrics = GatewayMetrics(pools: pools.all.map(\.name))
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
    OperationsController(pools: pools, metrics: metrics).addRoutes(to: router)
    ConsoleController().addRoutes(to: router)
    // a pool's routes: the first pool's as written, every pool's under /pools/{pool}
    for base in [router.group(), router.group("pools/{pool}")] {
        addPoolRoutes(to: base.add(middleware: PoolSelectionMiddleware(pools: pools)),
                      waits: QueueWaits(longest: configuration.maxWait, claim: configuration.waitClaim))
    }
    routeMethods.learn(from: router)
    return router
}

/// The routes that act on one pool (`context.pool`), below `base`.
private func addPoolRoutes(to base: RouterGroup<GatewayRequestContext>, waits: QueueWaits) {
    let authenticated = base.group(context: AuthenticatedRequestContext.self)
    let userRoutes = authenticated.group().add(middleware: CallerFirstMiddleware(requiredRole: .user))
    let adminRoutes = authenticated.group().add(middleware: CallerFirstMiddleware(requiredRole: .admin))
    let vms = VMController(waits: waits)
    let admin = AdminVMController()
    vms.addRoutes(to: userRoutes.group("v1"))
    ReservationController(waits: waits).addRoutes(to: userRoutes.group("v1"))
    admin.addRoutes(to: adminRoutes.group("v1/admin"))
    UserController().addRoutes(to: adminRoutes.group("v1/admin"))
    HistoryController().addRoutes(user: userRoutes.group("v1"), admin: adminRoutes.group("v1/admin"))
    LegacyController(vms: vms, admin: admin).addRoutes(userRoutes: userRoutes, adminRoutes: adminRoutes)
}
