import Logging
import RedisClient
import Reservations

/// Everything `vmreserve serve` can be told, already validated.
public struct GatewayConfiguration: Sendable {
    public var host: String
    public var port: Int
    /// When set, the gateway serves HTTPS (only) with this certificate, read again when its files change.
    public var serverCertificate: ServerCertificate?
    /// With HTTPS: offer HTTP/2 as well as HTTP/1.1, by ALPN.
    public var http2 = false
    public var redis: RedisClient.Configuration
    /// The admin's tokens from the configuration (several while one is rotated); never a baked-in default.
    public var adminTokens: [String]
    /// A file of further admin tokens, one per line, read again whenever it changes.
    public var adminTokenFile: String?
    /// Failed authentications one client address may make per minute before its requests with a
    /// token are refused (429) for the rest of that minute; 0: no limit.
    public var authenticationFailureLimit = 10
    /// Single sign-on: JWTs from this OpenID Connect issuer name vmreserve users; nil: off.
    public var oidc: OIDCConfiguration?
    /// Take the client's address from the last `X-Forwarded-For` entry (behind a proxy that sets it).
    public var trustForwardedFor = false
    /// Seeds the cap only when Redis has none yet.
    public var maxVMCount: Int
    public var defaultQuota: Int
    /// The default and maximum lease of checkouts.
    public var leases = LeasePolicy()
    /// With a replicated Redis: every change is answered only once this many replicas have it
    /// (WAIT, within `replicaAckTimeout`; else 503), so that no answered change is lost with the
    /// primary. 0: answers do not wait for replicas.
    public var minReplicasAck = 0
    public var replicaAckTimeout: Duration = .seconds(1)
    /// How long the answer to a checkout or create with an Idempotency-Key is kept for a retry.
    public var idempotencyWindow: Duration = .seconds(86_400)
    /// The longest a checkout or reservation may wait (`?wait=`); longer asks wait this long.
    public var maxWait: Duration = .seconds(30)
    /// A waiting reservation's claim on its place in the queue, renewed by its gateway every third
    /// of it: when the gateway dies, the wait ends this long after, and its set-aside VMs go back.
    public var waitClaim: Duration = .seconds(30)
    /// Available VMs nobody has checked out for this many seconds are deleted (never below
    /// `minReady`); nil: never.
    public var idleDeleteAfter: Int?
    /// VMs to keep available: created (within the cap) when fewer are, kept by idle cleanup.
    public var minReady = 0
    /// How often the pool upkeep (idle cleanup, warm pool) runs, when either is configured.
    public var poolUpkeepInterval: Duration = .seconds(5)
    /// Seeds the pool's size catalog only when Redis has none yet; the first size is the default.
    public var sizes = VMSize.defaultCatalog
    /// Seeds the IP pool (a CIDR block new VMs take their addresses from) only when Redis has
    /// none yet; nil: random public addresses, until an admin sets one.
    public var ipPool: String?
    /// The provider, what becomes of returned VMs, and how this gateway's worker claims jobs.
    /// Every gateway of a pool must have the same (each writes it to the pool at start).
    public var provisioning = ProvisioningPolicy()

    /// Requests without a token act as the `anonymous` admin. Only on a loopback address.
    public var devMode: Bool
    /// The pools served, by name (each the hash tag of its Redis keys); never empty. The first is
    /// served at the routes as docs/API.md writes them, every one under `/pools/{name}`.
    public var pools: [String]
    public var logLevel: Logger.Level
    /// A connection that sends nothing for this long (no request, or a request that stopped
    /// arriving) is closed, so that idle or stalled clients cannot pile up.
    public var idleTimeout: Duration = .seconds(60)
    /// A span per request, and a child span per Redis call, for the tracer bootstrapped
    /// (`vmreserve serve --otlp-endpoint`). Off, neither is ever asked for.
    public var tracing = false

    public init(
        host: String = "127.0.0.1",
        port: Int = 5000,
        redis: RedisClient.Configuration = .init(url: RedisURL()),
        adminToken: String? = nil,
        maxVMCount: Int = 100,
        defaultQuota: Int = 5,
        devMode: Bool = false,
        pool: String = "default",
        logLevel: Logger.Level = .info
    ) {
        self.host = host
        self.port = port
        self.redis = redis
        self.adminTokens = adminToken.map { [$0] } ?? []
        self.maxVMCount = maxVMCount
        self.defaultQuota = defaultQuota
        self.devMode = devMode
        self.pools = [pool]
        self.logLevel = logLevel
    }
}
