import ArgumentParser
import Foundation
import Logging
import RedisClient
import ReservationHTTP
import ServiceLifecycle

/// `vmreserve serve`: runs the HTTP gateway. Its options come in groups, one per concern; each
/// states its default once, and `ServeEnvironment` gives each its environment variable.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the HTTP gateway.",
        discussion: ServeEnvironment.rule + " A flag wins over its variable."
    )

    @OptionGroup(title: "HTTP") var http: HTTPOptions
    @OptionGroup(title: "Redis") var redis: RedisOptions
    @OptionGroup(title: "TLS to Redis") var redisTLS: RedisTLSOptions
    @OptionGroup(title: "Who may act") var auth: AuthOptions
    @OptionGroup(title: "Pools, leases and waits") var pools: PoolOptions
    @OptionGroup(title: "Provider") var provider: ProviderOptions
    @OptionGroup(title: "Logs and traces") var observability: ObservabilityOptions
    @OptionGroup(title: "Development") var development: DevOptions

    /// Everything the options say, checked.
    func gatewayConfiguration() throws -> (GatewayConfiguration, RedisURL) {
        var configuration = GatewayConfiguration()
        try http.apply(to: &configuration)
        let url = try redis.apply(to: &configuration)
        try redisTLS.apply(to: &configuration, url: url)
        try auth.apply(to: &configuration)
        try pools.apply(to: &configuration)
        try provider.apply(to: &configuration)
        try observability.apply(to: &configuration)
        try development.apply(to: &configuration)
        return (configuration, url)
    }

    func run() async throws {
        let (configuration, url) = try gatewayConfiguration()
        let logOutput = LogOutput()
        let logFormat = observability.logFormat
        LoggingSystem.bootstrap({ label, provider in
            var handler = BufferedLogHandler(label: label, output: logOutput, format: logFormat)
            handler.metadataProvider = provider
            return handler
        }, metadataProvider: observability.logMetadataProvider)
        let tracer = try observability.bootstrapTracing()
        // every task runs on the event loop that woke it (a request and its Redis round trip on one thread)
        let tasksOnEventLoops = EventLoopGlobalExecutor.install()
        let localRedis = try await development.startLocalRedisIfNeeded(url: url)
        let app = try buildApplication(configuration)
        if !tasksOnEventLoops {
            app.logger.notice("tasks run on Swift's global thread pool: this Swift runtime lets no other executor take its place")
        }
        // Services stop in reverse order: the notice is logged, the server drains, then its Redis
        // client closes, then the last spans leave, then the last log lines are written.
        // (In-flight requests finish, but a client that never does cannot hold the exit forever.)
        let drainLimit = Duration.seconds(30)
        let notice = ServiceGroupConfiguration.ServiceConfiguration(
            service: ShutdownNotice(logger: app.logger, drainLimit: drainLimit), successTerminationBehavior: .ignore)
        var group = ServiceGroupConfiguration(
            services: ([logOutput] + (tracer.map { [$0] } ?? []) + [app]).map { .init(service: $0) } + [notice],
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: app.logger
        )
        group.maximumGracefulShutdownDuration = drainLimit
        do {
            try await ServiceGroup(configuration: group).run()
        } catch {
            await localRedis?.stop()
            throw error
        }
        await localRedis?.stop()
    }
}
