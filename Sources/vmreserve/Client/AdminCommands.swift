import ArgumentParser
import Foundation

/// `vmreserve admin …`: the admin's routes, for an admin's token.
struct AdminCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "admin",
        abstract: "Manage VMs, the pool and users (needs an admin's token).",
        subcommands: [AdminVMsCommand.self, AdminPoolCommand.self, AdminUsersCommand.self]
    )
}

struct AdminVMsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vms", abstract: "Create, list and delete VMs.",
        subcommands: [Create.self, List.self, Remove.self]
    )

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "create", abstract: "Create VMs, as many as the cap allows.")
        @OptionGroup var client: ClientOptions
        @Option(name: .short, help: "How many.") var n = 1
        @Option(help: "Their size (default: the catalog's first).") var size: String?
        @OptionGroup var output: OutputOptions

        func run() async throws {
            try await client.run { api in
                var body: [String: Any] = ["count": n]
                if let size { body["size"] = size }
                let vms = try await api.call(.POST, "/v1/admin/vms", body: body, headers: [("Idempotency-Key", UUID().uuidString)])
                print(output.json ? jsonText(vms) : vmTable(vms as? [[String: Any]] ?? []))
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "ls", abstract: "List every VM (all pages).")
        @OptionGroup var client: ClientOptions
        @Option(help: "Only VMs in this status: provisioning, available, checked-out, error or deprovisioning.") var status: String?
        @OptionGroup var output: OutputOptions

        func run() async throws {
            try await client.run { api in
                var vms: [[String: Any]] = [], cursor: String?
                repeat {
                    var query = [("limit", "1000")]
                    if let status { query.append(("status", status)) }
                    if let cursor { query.append(("cursor", cursor)) }
                    let page = try await api.call(.GET, "/v1/admin/vms", query: query) as? [String: Any] ?? [:]
                    vms += page["items"] as? [[String: Any]] ?? []
                    cursor = page["next_cursor"] as? String
                } while cursor != nil
                print(output.json ? jsonText(vms) : vmTable(vms))
            }
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "rm", abstract: "Delete an available or failed VM.")
        @OptionGroup var client: ClientOptions
        @Argument(help: "The VM's id.") var id: String
        @OptionGroup var output: OutputOptions

        func run() async throws {
            try await client.run { api in
                let deleted = try await api.call(.DELETE, "/v1/admin/vms/\(APIClient.pathComponent(id))")
                output.printJSONIfAsked(deleted)
            }
        }
    }
}

struct AdminPoolCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pool", abstract: "Show the pool, or change its cap.",
        subcommands: [Show.self, SetCap.self], defaultSubcommand: Show.self
    )

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "show", abstract: "The cap and the VMs by status.")
        @OptionGroup var client: ClientOptions
        @OptionGroup var output: OutputOptions

        func run() async throws {
            try await client.run { api in
                let pool = try await api.call(.GET, "/v1/admin/pool")
                print(output.json ? jsonText(pool) : poolTable(pool as? [String: Any] ?? [:]))
            }
        }
    }

    struct SetCap: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "set-cap", abstract: "Change the cap on VMs (lowering it only refuses creates).")
        @OptionGroup var client: ClientOptions
        @Argument(help: "The new cap.") var cap: Int
        @OptionGroup var output: OutputOptions

        func run() async throws {
            try await client.run { api in
                let pool = try await api.call(.PUT, "/v1/admin/pool", body: ["max_vm_count": cap])
                print(output.json ? jsonText(pool) : poolTable(pool as? [String: Any] ?? [:]))
            }
        }
    }
}

struct AdminUsersCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "users", abstract: "Add, list, change and remove users.",
        subcommands: [Add.self, List.self, SetQuota.self, RotateToken.self, Remove.self]
    )

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "add", abstract: "Add a user and print their token (shown this once).")
        @OptionGroup var client: ClientOptions
        @Argument(help: "The user's name.") var name: String
        @Option(help: "VMs they may hold at once.") var quota: Int
        @Option(help: "user or admin.") var role = "user"
        @OptionGroup var output: OutputOptions

        func run() async throws {
            try await client.run { api in
                let user = try await api.call(.POST, "/v1/admin/users", body: ["name": name, "quota": quota, "role": role])
                print(output.json ? jsonText(user) : (user as? [String: Any])?["token"] as? String ?? "")
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "ls", abstract: "List users with their quota and the VMs they hold.")
        @OptionGroup var client: ClientOptions
        @OptionGroup var output: OutputOptions

        func run() async throws {
            try await client.run { api in
                let users = try await api.call(.GET, "/v1/admin/users") as? [[String: Any]] ?? []
                if output.json {
                    print(jsonText(users))
                    return
                }
                print(alignedTable([["NAME", "ROLE", "QUOTA", "HELD"]] + users.map { user in
                    [user["name"] as? String ?? "", user["role"] as? String ?? "", "\(user["quota"] ?? "")", "\(user["held"] ?? "")"]
                }))
            }
        }
    }

    struct SetQuota: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "set-quota", abstract: "Change a user's quota.")
        @OptionGroup var client: ClientOptions
        @Argument(help: "The user's name.") var name: String
        @Argument(help: "VMs they may hold at once.") var quota: Int
        @OptionGroup var output: OutputOptions

        func run() async throws {
            try await client.run { api in
                let user = try await api.call(.PATCH, "/v1/admin/users/\(APIClient.pathComponent(name))", body: ["quota": quota])
                output.printJSONIfAsked(user)
            }
        }
    }

    struct RotateToken: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "rotate-token",
                                                        abstract: "Give a user a new token and print it; the old one stops working.")
        @OptionGroup var client: ClientOptions
        @Argument(help: "The user's name.") var name: String
        @OptionGroup var output: OutputOptions

        func run() async throws {
            try await client.run { api in
                let user = try await api.call(.POST, "/v1/admin/users/\(APIClient.pathComponent(name))/token")
                print(output.json ? jsonText(user) : (user as? [String: Any])?["token"] as? String ?? "")
            }
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "rm", abstract: "Remove a user who holds no VMs.")
        @OptionGroup var client: ClientOptions
        @Argument(help: "The user's name.") var name: String
        @OptionGroup var output: OutputOptions

        func run() async throws {
            try await client.run { api in
                let user = try await api.call(.DELETE, "/v1/admin/users/\(APIClient.pathComponent(name))")
                output.printJSONIfAsked(user)
            }
        }
    }
}

/// VMs as a table: id, IP, status, holder, size, lease left.
private func vmTable(_ vms: [[String: Any]]) -> String {
    alignedTable([["ID", "IP", "STATUS", "USER", "SIZE", "LEASE LEFT"]] + vms.map { vm in
        [vm["vm_id"] as? String ?? "", vm["ip"] as? String ?? "-", vm["status"] as? String ?? "", vm["user"] as? String ?? "-",
         vm["size"] as? String ?? "-", timeLeft(until: vm["lease_expires_at"])]
    })
}

/// The pool as two columns: the cap, the total, each status's count, the IP pool.
private func poolTable(_ pool: [String: Any]) -> String {
    let counts = pool["counts"] as? [String: Any] ?? [:]
    var rows = [["max_vm_count", "\(pool["max_vm_count"] ?? "-")"], ["total", "\(pool["total"] ?? "-")"]]
    for status in ["available", "checked-out", "provisioning", "error", "deprovisioning"] {
        rows.append([status, "\(counts[status] ?? 0)"])
    }
    rows.append(["ip_pool", pool["ip_pool"] as? String ?? "random public addresses"])
    return alignedTable(rows)
}
