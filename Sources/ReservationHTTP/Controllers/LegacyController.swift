import Hummingbird
import Reservations

/// The original design's GET routes with query parameters. Each one answers exactly as its
/// `/v1` twin, by calling the same controller function.
struct LegacyController {
    let vms: VMController
    let admin: AdminVMController

    func addRoutes(userRoutes: RouterGroup<AuthenticatedRequestContext>, adminRoutes: RouterGroup<AuthenticatedRequestContext>) {
        adminRoutes.get("createVM") { request, context in
            _ = try RequestDecoding.query(request, allowed: [])
            return try await admin.create(context, count: nil, idempotencyKey: try RequestDecoding.idempotencyKey(request))
        }
        userRoutes.get("checkoutVM") { request, context in
            _ = try RequestDecoding.query(request, allowed: [])
            return try await vms.checkout(context, leaseSeconds: nil, idempotencyKey: try RequestDecoding.idempotencyKey(request))
        }
        userRoutes.get("checkinVM") { request, context in
            let query = try RequestDecoding.query(request, allowed: ["vm_id", "ip"])
            return try await vms.checkin(context, vmID: query["vm_id"], ip: query["ip"])
        }
        adminRoutes.get("deleteVM") { request, context in
            let query = try RequestDecoding.query(request, allowed: ["vm_id", "ip"])
            guard let id = query["vm_id"] else { throw APIError.badRequest("vm_id is required") }
            return try await admin.delete(context, id: id, ip: query["ip"])
        }
        userRoutes.get("getVM") { request, context in
            try await vms.vm(context, id: try vmID(request))
        }
        userRoutes.get("getVMStatus") { request, context in
            try await vms.status(context, id: try vmID(request))
        }
    }

    private func vmID(_ request: Request) throws -> String {
        guard let id = try RequestDecoding.query(request, allowed: ["vm_id"])["vm_id"] else {
            throw APIError.badRequest("vm_id is required")
        }
        return id
    }
}
