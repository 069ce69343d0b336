import Hummingbird
import Reservations

/// Admin routes for users, quotas and tokens.
struct UserController {
    func addRoutes(to group: RouterGroup<AuthenticatedRequestContext>) {
        group.post("users") { request, context in
            _ = try RequestDecoding.query(request, allowed: [])
            let body = try await RequestDecoding.body(CreateUserBody.self, from: request, context: context, required: true)!
            let name = try Limits.checkUserName(body.name)
            let quota = try checked(body.quota, "quota", in: Limits.quota)
            let issued = try await context.store.createUser(context.caller, name: name, role: body.role ?? .user, quota: quota)
            return EnvelopeResponse.success(UserRepresentation(user: issued.user, token: issued.token), status: .created)
        }
        group.get("users") { request, context in
            _ = try RequestDecoding.query(request, allowed: [])
            return try EnvelopeResponse.success(await context.store.users(context.caller).map { UserRepresentation(user: $0) })
        }
        group.get("users/{name}") { request, context in
            _ = try RequestDecoding.query(request, allowed: [])
            let detail = try await context.store.user(context.caller, name: try name(context))
            return EnvelopeResponse.success(UserRepresentation(user: detail.user, vms: detail.vms))
        }
        group.patch("users/{name}") { request, context in
            _ = try RequestDecoding.query(request, allowed: [])
            let name = try name(context)
            let body = try await RequestDecoding.body(UpdateUserBody.self, from: request, context: context, required: true)!
            let quota = try checked(body.quota, "quota", in: Limits.quota)
            let maxLease: MaxLeaseChange? = switch body.maxLeaseSeconds {
            case nil: nil
            case .some(nil): .remove
            case .some(.some(let seconds)): .set(try checked(seconds, "max_lease_seconds", in: Limits.leaseSeconds)!)
            }
            var sizeQuotas: SizeQuotasChange?
            switch body.sizeQuotas {
            case nil:
                sizeQuotas = nil
            case .some(let quotas):
                var checkedQuotas: [String: Int] = [:]
                for (size, quota) in quotas ?? [:] {
                    checkedQuotas[try Limits.checkSize(size)] = try checked(quota, "size_quotas.\(size)", in: Limits.quota)
                }
                sizeQuotas = checkedQuotas.isEmpty ? .remove : .set(checkedQuotas)
            }
            let user = try await context.store.updateUser(context.caller, name: name, quota: quota, role: body.role, maxLease: maxLease,
                                                  sizeQuotas: sizeQuotas)
            return EnvelopeResponse.success(UserRepresentation(user: user))
        }
        group.delete("users/{name}") { request, context in
            _ = try RequestDecoding.query(request, allowed: [])
            return EnvelopeResponse.success(UserRepresentation(user: try await context.store.deleteUser(context.caller, name: try name(context))))
        }
        group.post("users/{name}/token") { request, context in
            _ = try RequestDecoding.query(request, allowed: [])
            let issued = try await context.store.rotateToken(context.caller, name: try name(context))
            return EnvelopeResponse.success(UserRepresentation(user: issued.user, token: issued.token))
        }
    }

    private func name(_ context: AuthenticatedRequestContext) throws -> String {
        try Limits.checkUserName(context.parameters.require("name"))
    }
}
