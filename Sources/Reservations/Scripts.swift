import Crypto
import Foundation
import RedisClient

/// The Lua scripts of `lua/`, embedded at build time by the EmbedFilesPlugin, each a function of
/// one Redis Functions library (`library`).
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
    case reserve
    case getReservation = "get_reservation"
    case listReservations = "list_reservations"
    case renewReservation = "renew_reservation"
    case returnReservation = "return_reservation"
    case claimReservation = "claim_reservation"
    case holdWait = "hold_wait"

    /// Whether the script's answer tells a client that a change they asked for was made: with
    /// `--min-replicas-ack` such an answer waits until replicas have the change. (The reading
    /// scripts also return leases that ran out, but losing that in a failover loses nothing:
    /// the next script returns them again.)
    public var acknowledgesChange: Bool {
        switch self {
        case .getVM, .listMine, .listVMs, .poolStats, .getUser, .listUsers, .whoami, .listEvents, .getReservation,
             .listReservations: false
        default: true
        }
    }

    /// The name to FCALL this script by: a function of `library`.
    public var functionName: String { "\(Self.library.name)_\(rawValue)" }

    /// Every script as one Redis Functions library, loaded by the gateway on connect (see
    /// `library(helpers:reading:)`), built from the files embedded at build time.
    public static let library: RedisFunctionLibrary = {
        do {
            let helpers = EmbeddedLua.files.keys.filter { $0.hasPrefix("lib/") }.map { String($0.dropFirst(4)) }
            return try library(helpers: helpers) { name in
                guard let text = EmbeddedLua.files[name] else { throw ScriptSourceError(missing: "lua/\(name).lua (not embedded)") }
                return text
            }
        } catch {
            fatalError("\(error)")
        }
    }()

    /// The library built from the `.lua` files of a folder and its `lib/`, e.g. to try lua/ edits
    /// without building the binary again (`vmreserve lua-library --from lua`).
    public static func library(from folder: URL) throws -> RedisFunctionLibrary {
        let lib = folder.appendingPathComponent("lib")
        let helpers = try FileManager.default.contentsOfDirectory(atPath: lib.path)
            .filter { $0.hasSuffix(".lua") }.map { String($0.dropLast(4)) }
        return try library(helpers: helpers) { name in
            let file = folder.appendingPathComponent(name + ".lua")
            guard let text = try? String(contentsOf: file, encoding: .utf8) else { throw ScriptSourceError(missing: file.path) }
            return text
        }
    }

    /// The helper files of `lua/lib/`, each defining the functions of the table named after it
    /// (`vms.load` in lib/vms.lua), then one function per script, whose body is the script's file.
    /// The tables are declared first, so that helpers may call each other whatever their order;
    /// each helper file is a block of its own, so that its locals stay its own. The library's name
    /// carries a digest of the sources, so that gateways of two versions sharing a Redis (a
    /// rolling upgrade) each call their own scripts.
    private static func library(helpers: [String], reading source: (String) throws -> String) throws -> RedisFunctionLibrary {
        let helpers = helpers.sorted()
        let helperTexts = try helpers.map { try source("lib/" + $0) }
        let bodies = try allCases.map { script in (script, try source(script.rawValue)) }
        let digest = SHA256.hash(data: Array((helperTexts.joined() + bodies.map(\.1).joined()).utf8))
        let name = "vmreserve_" + lowercaseHex(digest).prefix(12)
        var code = "local " + helpers.joined(separator: ", ") + " = " + helpers.map { _ in "{}" }.joined(separator: ", ") + "\n"
        for text in helperTexts { code += "do\n\(text)\nend\n" }
        for (script, body) in bodies {
            code += "redis.register_function('\(name)_\(script.rawValue)', function(KEYS, ARGV)\n\(body)\nend)\n"
        }
        return RedisFunctionLibrary(name: name, code: code)
    }
}

/// A script file that the library needs and cannot be read.
public struct ScriptSourceError: Error, CustomStringConvertible {
    public let missing: String
    public var description: String { "cannot read \(missing)" }
}
