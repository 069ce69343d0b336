import Foundation
import GatewayTestSupport
import NIOHTTP1
import ReservationHTTP
import Testing
import TestSupport

/// Admin routes for VMs and the pool.
@Suite struct AdminRouteTests {
    @Test func createWithoutCountAnswersOneVMAndWithCountAnArray() async throws {
        try await withGateway { gateway async throws in
            let one = try await gateway.call(.POST, "/v1/admin/vms")
            #expect(one.status == 201)
            #expect(one["status"] == "available")
            #expect(one.data?["user"] is NSNull)
            #expect(one["created_at"]?.hasSuffix("Z") == true)
            let many = try await gateway.call(.POST, "/v1/admin/vms", body: #"{"count": 3}"#)
            #expect(many.status == 201)
            #expect(many.items?.count == 3)
        }
    }

    @Test func createStopsAtTheCapAndThenAnswers409() async throws {
        try await withGateway(configure: { $0.maxVMCount = 3 }) { gateway async throws in
            let many = try await gateway.call(.POST, "/v1/admin/vms", body: #"{"count": 5}"#)
            #expect(many.status == 201)
            #expect(many.items?.count == 3)
            let full = try await gateway.call(.POST, "/v1/admin/vms")
            #expect(full.status == 409)
            #expect(full.code == "max_vm_count_reached")
            #expect(full.message == "Error: Maximum VM Count reached")
        }
    }

    @Test func createdIPsArePublicAndUnique() async throws {
        try await withGateway { gateway async throws in
            let ips = try await gateway.createVMs(100).compactMap { $0["ip"] as? String }
            #expect(Set(ips).count == 100)
            for ip in ips {
                let first = Int(ip.split(separator: ".")[0])!
                #expect(![0, 10, 127].contains(first) && first < 224, "\(ip)")
                #expect(!ip.hasPrefix("192.168.") && !ip.hasPrefix("169.254."), "\(ip)")
            }
        }
    }

    @Test func deleteRemovesAnAvailableVMAndFreesItsIP() async throws {
        try await withGateway(configure: { $0.maxVMCount = 1 }) { gateway async throws in
            let vm = try await gateway.createVMs(1)[0]
            let id = vm["vm_id"] as! String, ip = vm["ip"] as! String
            let deleted = try await gateway.call(.DELETE, "/v1/admin/vms/\(id)?ip=\(ip)")
            #expect(deleted.status == 200)
            #expect(deleted["vm_id"] == id)
            #expect(try await gateway.call(.GET, "/v1/vms/\(id)").status == 404)
            #expect(try await gateway.call(.GET, "/v1/admin/pool").data?["total"] as? Int == 0)
            #expect(try await gateway.call(.POST, "/v1/admin/vms").status == 201, "the cap counts the deletion")
        }
    }

    @Test func deleteRefusesACheckedOutVMAndAMismatchedIP() async throws {
        try await withGateway { gateway async throws in
            let vm = try await gateway.createVMs(2)
            let id = vm[0]["vm_id"] as! String
            let wrongIP = try await gateway.call(.DELETE, "/v1/admin/vms/\(id)?ip=\(vm[1]["ip"] as! String)")
            #expect(wrongIP.status == 404)
            #expect(wrongIP.code == "vm_not_found")
            _ = try await gateway.call(.POST, "/v1/checkouts")
            _ = try await gateway.call(.POST, "/v1/checkouts")
            let busy = try await gateway.call(.DELETE, "/v1/admin/vms/\(id)")
            #expect(busy.status == 409)
            #expect(busy.code == "invalid_state")
            #expect(try await gateway.call(.DELETE, "/v1/admin/vms/\(UUID().uuidString)").code == "vm_not_found")
        }
    }

    @Test func listPaginatesAndFiltersByStatus() async throws {
        try await withGateway { gateway async throws in
            let created = Set(try await gateway.createVMs(7).compactMap { $0["vm_id"] as? String })
            for _ in 0..<3 { _ = try await gateway.call(.POST, "/v1/checkouts") }
            var seen: [String] = []
            var cursor: String?
            repeat {
                // API.md's template as written: the first page has an empty cursor
                let page = try await gateway.call(.GET, "/v1/admin/vms?cursor=\(cursor ?? "")&limit=3")
                #expect(page.status == 200)
                let items = try #require(page.data?["items"] as? [[String: Any]])
                #expect(items.count <= 3)
                seen += items.compactMap { $0["vm_id"] as? String }
                cursor = page.data?["next_cursor"] as? String
                if cursor == nil { #expect(page.data?["next_cursor"] is NSNull) }
            } while cursor != nil
            #expect(seen == seen.sorted())
            #expect(Set(seen) == created)
            let busy = try await gateway.call(.GET, "/v1/admin/vms?status=checked-out")
            #expect((busy.data?["items"] as? [[String: Any]])?.count == 3)
            #expect((busy.data?["items"] as? [[String: Any]])?.allSatisfy { $0["status"] as? String == "checked-out" } == true)
            // a filter and a cursor together
            var available: [String] = []
            cursor = nil
            repeat {
                let page = try await gateway.call(.GET, "/v1/admin/vms?status=available&limit=2&cursor=\(cursor ?? "")")
                let items = try #require(page.data?["items"] as? [[String: Any]])
                #expect(items.allSatisfy { $0["status"] as? String == "available" })
                available += items.compactMap { $0["vm_id"] as? String }
                cursor = page.data?["next_cursor"] as? String
            } while cursor != nil
            #expect(available.count == 4 && available == available.sorted())
        }
    }

    @Test func poolReportsTheCapAndCountsByStatus() async throws {
        try await withGateway(configure: { $0.maxVMCount = 10 }) { gateway async throws in
            try await gateway.createVMs(4)
            _ = try await gateway.call(.POST, "/v1/checkouts")
            let pool = try await gateway.call(.GET, "/v1/admin/pool")
            #expect(pool.status == 200)
            #expect(pool.data?["max_vm_count"] as? Int == 10)
            let counts = try #require(pool.data?["counts"] as? [String: Int])
            #expect(counts == ["provisioning": 0, "available": 3, "checked-out": 1, "error": 0, "deprovisioning": 0, "set-aside": 0])
        }
    }

    @Test func loweringTheCapBelowTheCountOnlyRefusesNewCreates() async throws {
        try await withGateway { gateway async throws in
            try await gateway.createVMs(3)
            let lowered = try await gateway.call(.PUT, "/v1/admin/pool", body: #"{"max_vm_count": 1}"#)
            #expect(lowered.status == 200)
            #expect(lowered.data?["max_vm_count"] as? Int == 1)
            #expect(try await gateway.call(.POST, "/v1/admin/vms").code == "max_vm_count_reached")
            #expect(try await gateway.call(.POST, "/v1/checkouts").status == 201)
            #expect(try await gateway.call(.GET, "/v1/admin/pool").data?["total"] as? Int == 3)
        }
    }

    @Test func theCapFromTheFlagOnlySeedsAnEmptyStore() async throws {
        try await withTwoGateways(first: { $0.maxVMCount = 7 }, second: { $0.maxVMCount = 50 }) { first, second async throws in
            #expect(try await first.call(.GET, "/v1/admin/pool").data?["max_vm_count"] as? Int == 7)
            #expect(try await second.call(.GET, "/v1/admin/pool").data?["max_vm_count"] as? Int == 7)
        }
    }

    @Test func usersGetForbiddenOnAdminRoutes() async throws {
        try await withGateway { gateway async throws in
            let token = try await gateway.createUser("plain", quota: 1)
            let id = UUID().uuidString
            for (method, path) in [
                (.POST, "/v1/admin/vms"), (.DELETE, "/v1/admin/vms/\(id)"), (.GET, "/v1/admin/vms"), (.GET, "/v1/admin/pool"),
                (.GET, "/v1/admin/users"), (.GET, "/v1/admin/users/plain"), (.DELETE, "/v1/admin/users/plain"),
                (.POST, "/v1/admin/users/plain/token"), (.GET, "/createVM/"), (.GET, "/deleteVM/?vm_id=\(id)"),
            ] as [(HTTPMethod, String)] {
                let response = try await gateway.call(method, path, token: token)
                #expect(response.status == 403, "\(method) \(path)")
                #expect(response.code == "forbidden")
            }
            for (path, body) in [("/v1/admin/pool", #"{"max_vm_count": 5}"#)] {
                #expect(try await gateway.call(.PUT, path, token: token, body: body).status == 403)
            }
            #expect(try await gateway.call(.PATCH, "/v1/admin/users/plain", token: token, body: #"{"quota": 9}"#).status == 403)
            #expect(try await gateway.call(.POST, "/v1/admin/users", token: token, body: #"{"name": "x"}"#).status == 403)
        }
    }
}

/// Two gateways started one after the other on the same new pool, each with its own settings.
func withTwoGateways(
    first: @escaping @Sendable (inout GatewayConfiguration) -> Void,
    second: @escaping @Sendable (inout GatewayConfiguration) -> Void,
    _ body: @Sendable (Gateway, Gateway) async throws -> Void
) async throws {
    let pool = "two-\(UUID().uuidString)"
    try await withGateways(pool: pool, configure: first) { firsts in
        try await withGateways(pool: pool, configure: second) { seconds in
            try await body(firsts[0], seconds[0])
        }
    }
}
