import Hummingbird
import Reservations

/// Admin routes for VMs and the pool's cap.
struct AdminVMController {
    func addRoutes(to group: RouterGroup<AuthenticatedRequestContext>) {
        group.post("vms") { request, context in
            _ = try RequestDecoding.query(request, allowed: [])
            let body = try await RequestDecoding.body(CreateVMsBody.self, from: request, context: context, required: false)
            return try await create(context, count: body?.count, size: try body?.size.map(Limits.checkSize),
                                    idempotencyKey: try RequestDecoding.idempotencyKey(request))
        }
        group.delete("vms/{vm_id}") { request, context in
            let query = try RequestDecoding.query(request, allowed: ["ip"])
            return try await delete(context, id: context.parameters.require("vm_id"), ip: query["ip"])
        }
        group.post("vms/{vm_id}/retry") { request, context in
            _ = try RequestDecoding.query(request, allowed: [])
            let id = try RequestDecoding.vmID(context.parameters.require("vm_id"))
            return EnvelopeResponse.success(try await context.store.retry(context.caller, id: id))
        }
        group.get("vms") { request, context in
            let query = try RequestDecoding.query(request, allowed: ["status", "cursor", "limit"])
            let status = try query["status"].map { text throws(APIError) in
                guard let status = VMStatus(rawValue: text) else {
                    throw .badRequest("status must be one of \(VMStatus.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                return status
            }
            let cursor = try query["cursor"].map(RequestDecoding.vmID)
            let limit = try RequestDecoding.integer(query["limit"], "limit", in: Limits.pageSize) ?? Limits.defaultPageSize
            let page = try await context.store.listVMs(context.caller, status: status, cursor: cursor, limit: limit)
            return EnvelopeResponse.success(page)
        }
        group.get("pool") { request, context in
            _ = try RequestDecoding.query(request, allowed: [])
            return try EnvelopeResponse.success(await context.store.poolStats(context.caller))
        }
        group.put("pool") { request, context in
            _ = try RequestDecoding.query(request, allowed: [])
            let body = try await RequestDecoding.body(SetPoolBody.self, from: request, context: context, required: true)!
            let cap = try checked(body.maxVMCount, "max_vm_count", in: Limits.maxVMCount)
            let ipPool: IPPoolChange? = switch body.ipPool {
            case nil: nil
            case .some(nil): .randomPublic
            case .some(.some(let cidr)): .block(try Limits.checkIPBlock(cidr))
            }
            guard cap != nil || ipPool != nil else { throw APIError.badRequest("Give max_vm_count, ip_pool or both") }
            return EnvelopeResponse.success(try await context.store.setPool(context.caller, maxVMCount: cap, ipPool: ipPool))
        }
    }

    /// `POST /v1/admin/vms`: one VM, or with `count` up to that many (as many as the cap allows) as an array;
    /// with an `Idempotency-Key` used before, the first answer again.
    func create(_ context: AuthenticatedRequestContext, count: Int?, size: String? = nil, idempotencyKey: String? = nil) async throws -> Response {
        let wanted = try checked(count, "count", in: Limits.createCount)
        let vms = try await context.store.createVMs(context.caller, count: wanted ?? 1, size: size, idempotencyKey: idempotencyKey)
        if wanted == nil, let vm = vms.first {
            return EnvelopeResponse.success(vm, status: .created)
        }
        return EnvelopeResponse.success(vms, status: .created)
    }

    /// `DELETE /v1/admin/vms/{vm_id}`: only available or failed VMs; `ip` must match when given.
    func delete(_ context: AuthenticatedRequestContext, id: String, ip: String?) async throws -> Response {
        let id = try RequestDecoding.vmID(id)
        let address = try ip.map(RequestDecoding.ip)
        return EnvelopeResponse.success(try await context.store.deleteVM(context.caller, id: id, ip: address))
    }
}
