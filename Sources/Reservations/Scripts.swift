import RedisClient

/// The Lua scripts of `lua/`, embedded at build time by the EmbedFilesPlugin. Each script runs as
/// the prelude followed by the script's own text.
public enum Script: String, CaseIterable, Sendable {
    case initPool = "init_pool"
    case createVMs = "create_vms"
    case checkout
    case checkin
    case renew
    case reapLeases = "reap_leases"
    case deleteVM = "delete_vm"
    case getVM = "get_vm"
    case listMine = "list_mine"
    case listVMs = "list_vms"
    case poolStats = "pool_stats"
    case setPool = "set_pool"
    case createUser = "create_user"
    case getUser = "get_user"
    case listUsers = "list_users"
    case updateUser = "update_user"
    case deleteUser = "delete_user"
    case rotateToken = "rotate_token"
    case whoami
    case listEvents = "list_events"
    case waitCheckout = "wait_checkout"
    case claim
    case leaveQueue = "leave_queue"
    case maintainPool = "maintain_pool"
    case takeJob = "take_job"
    case extendJob = "extend_job"
    case finishJob = "finish_job"
    case retryVM = "retry_vm"

    /// Whether the script's answer tells a client that a change they asked for was made: with
    /// `--min-replicas-ack` such an answer waits until replicas have the change. (The reading
    /// scripts also return leases that ran out, but losing that in a failover loses nothing:
    /// the next script returns them again.)
    public var acknowledgesChange: Bool {
        switch self {
        case .getVM, .listMine, .listVMs, .poolStats, .getUser, .listUsers, .whoami, .listEvents: false
        default: true
        }
    }

    /// The script as Redis runs it.
    public var redisScript: RedisScript { Self.loaded[self]! }

    /// Every script, for loading on connect.
    public static var all: [RedisScript] { allCases.map(\.redisScript) }

    private static let loaded: [Script: RedisScript] = {
        guard let prelude = EmbeddedLua.files["_prelude"] else { fatalError("lua/_prelude.lua was not embedded") }
        var scripts: [Script: RedisScript] = [:]
        for script in allCases {
            guard let body = EmbeddedLua.files[script.rawValue] else { fatalError("lua/\(script.rawValue).lua was not embedded") }
            scripts[script] = RedisScript(name: script.rawValue, source: prelude + "\n" + body)
        }
        return scripts
    }()
}
