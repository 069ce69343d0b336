import ArgumentParser
import Foundation
import VMReserveClient

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
                output.print(try await api.answer(.createVMs(n, size: size, idempotencyKey: UUID().uuidString))) { vmTable($0.vms) }
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "ls", abstract: "List every VM (all pages).")
        @OptionGroup var client: ClientOptions
        @Option(help: "Only VMs in this status: provisioning, available, set-aside (kept for a waiting reservation), checked-out, error or deprovisioning.")
        var status: VMStatus?
        @OptionGroup var output: OutputOptions

        func run() async throws {
            try await client.run { api in
                var vms: [VM] = [], pages: [Data] = [], cursor: String?
                repeat {
                    let page = try await api.answer(.vms(status: status, cursor: cursor, limit: 1000))
                    vms += page.value.items
                    pages.append(page.data)
                    cursor = page.value.nextCursor
                } while cursor != nil
                print(output.json ? jsonText(joinedItems(pages)) : vmTable(vms))
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
                output.printJSONIfAsked(try await api.answer(.deleteVM(id)))
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
                output.print(try await api.answer(.pool), poolTable)
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
                output.print(try await api.answer(.setCap(cap)), poolTable)
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
        @Option(help: "user or admin.") var role = Role.user
        @OptionGroup var output: OutputOptions

        func run() async throws {
            try await client.run { api in
                output.print(try await api.answer(.addUser(name, quota: quota, role: role))) { $0.token ?? "" }
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "ls", abstract: "List users with their quota and the VMs they hold.")
        @OptionGroup var client: ClientOptions
        @OptionGroup var output: OutputOptions

        func run() async throws {
            try await client.run { api in
                output.print(try await api.answer(.users)) { users in
                    alignedTable([["NAME", "ROLE", "QUOTA", "HELD"]] + users.map { [$0.name, $0.role.rawValue, "\($0.quota)", "\($0.held)"] })
                }
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
                output.printJSONIfAsked(try await api.answer(.setQuota(name, quota)))
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
                output.print(try await api.answer(.rotateToken(name))) { $0.token ?? "" }
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
                output.printJSONIfAsked(try await api.answer(.deleteUser(name)))
            }
        }
    }
}

/// VMs as a table: id, IP, status, holder, size, lease left.
private func vmTable(_ vms: [VM]) -> String {
    alignedTable([["ID", "IP", "STATUS", "USER", "SIZE", "LEASE LEFT"]] + vms.map { vm in
        [vm.id, vm.ip ?? "-", vm.status.rawValue, vm.user ?? "-", vm.size ?? "-", timeLeft(until: vm.leaseExpiresAt)]
    })
}

/// The pool as two columns: the cap, the total, each status's count, the IP pool.
private func poolTable(_ pool: Pool) -> String {
    var rows = [["max_vm_count", "\(pool.maxVMCount)"], ["total", "\(pool.total)"]]
    for status in [VMStatus.available, .setAside, .checkedOut, .provisioning, .error, .deprovisioning] {
        rows.append([status.rawValue, "\(pool.counts[status] ?? 0)"])
    }
    rows.append(["ip_pool", pool.ipPool ?? "random public addresses"])
    return alignedTable(rows)
}

/// The items of pages (each a `{"items": [...], ...}` as the gateway sent it) as one JSON array.
private func joinedItems(_ pages: [Data]) -> Data {
    let items = pages.flatMap { page in
        ((try? JSONSerialization.jsonObject(with: page)) as? [String: Any])?["items"] as? [Any] ?? []
    }
    return (try? JSONSerialization.data(withJSONObject: items)) ?? Data("[]".utf8)
}

extension VMStatus: ExpressibleByArgument {}
extension Role: ExpressibleByArgument {}
