import Foundation
import Hummingbird
import Reservations

/// The history: every state change, recorded by the script that made it. Admins read all of it,
/// a user what concerns them.
struct HistoryController {
    func addRoutes(user: RouterGroup<AuthenticatedRequestContext>, admin: RouterGroup<AuthenticatedRequestContext>) {
        // `GET /v1/admin/events?vm_id=&user=&since=&cursor=&limit=`
        admin.get("events") { request, context in
            try await page(request, context, scope: .all, filters: ["vm_id", "user"])
        }
        // `GET /v1/vms/mine/history?vm_id=&since=&cursor=&limit=`
        user.get("vms/mine/history") { request, context in
            try await page(request, context, scope: .mine, filters: ["vm_id"])
        }
    }

    private func page(_ request: Request, _ context: AuthenticatedRequestContext, scope: EventScope, filters: [String]) async throws -> Response {
        let query = try RequestDecoding.query(request, allowed: filters + ["since", "cursor", "limit"])
        let vmID = try query["vm_id"].map(RequestDecoding.vmID)
        let user = try query["user"].map(Limits.checkUserName)
        let since = try query["since"].map { text throws(APIError) in
            guard let milliseconds = RFC3339.parse(text) else {
                throw .badRequest("since must be an RFC 3339 time such as 2026-11-24T22:40:02Z")
            }
            return milliseconds
        }
        let limit = try RequestDecoding.integer(query["limit"], "limit", in: Limits.pageSize) ?? Limits.defaultPageSize
        let page = try await context.store.events(context.caller, scope: scope, vmID: vmID, user: user, since: since,
                                          cursor: query["cursor"], limit: limit)
        return EnvelopeResponse.success(page)
    }
}
