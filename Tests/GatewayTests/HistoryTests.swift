import Foundation
import GatewayTestSupport
import Testing
import TestSupport

/// The history over HTTP: admins page through every event, users see their own.
@Suite struct HistoryTests {
    @Test func adminsReadEveryEventAndFilterThem() async throws {
        try await withGateway { gateway async throws in
            let start = try await gateway.call(.GET, "/healthz", token: nil)
            #expect(start.status == 200)
            let vm = try await gateway.createVMs(1)[0]
            let id = try #require(vm["vm_id"] as? String)
            let alice = try await gateway.createUser("alice", quota: 1)
            #expect(try await gateway.call(.POST, "/v1/checkouts", token: alice).status == 201)
            #expect(try await gateway.call(.POST, "/v1/checkins", token: alice, body: #"{"vm_id": "\#(id)"}"#).status == 200)

            let all = try await gateway.call(.GET, "/v1/admin/events")
            #expect(all.status == 200)
            let items = try #require(all.data?["items"] as? [[String: Any]])
            #expect(items.map { $0["action"] as? String } == ["set_cap", "create", "user_create", "checkout", "checkin"])
            #expect(all.data?["next_cursor"] is NSNull)
            let checkout = items[3]
            #expect(checkout["actor"] as? String == "alice" && checkout["user"] as? String == "alice")
            #expect(checkout["vm_id"] as? String == id && checkout["ip"] as? String == vm["ip"] as? String)
            #expect(checkout["status"] as? String == "checked-out" && checkout["detail"] as? String == "no lease")
            #expect((checkout["at"] as? String)?.wholeMatch(of: /\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z/) != nil)
            #expect(items[0]["vm_id"] is NSNull, "absent fields are null")

            let paged = try await gateway.call(.GET, "/v1/admin/events?limit=2")
            let cursor = try #require(paged.data?["next_cursor"] as? String)
            let next = try await gateway.call(.GET, "/v1/admin/events?limit=2&cursor=\(cursor)")
            #expect((next.data?["items"] as? [[String: Any]])?.map { $0["action"] as? String } == ["user_create", "checkout"])
            let byUser = try await gateway.call(.GET, "/v1/admin/events?user=alice")
            #expect((byUser.data?["items"] as? [[String: Any]])?.count == 3)
            let byVM = try await gateway.call(.GET, "/v1/admin/events?vm_id=\(id)")
            #expect((byVM.data?["items"] as? [[String: Any]])?.map { $0["action"] as? String } == ["create", "checkout", "checkin"])
            let at = try #require(checkout["at"] as? String)
            let since = try await gateway.call(.GET, "/v1/admin/events?since=\(at)")
            #expect((since.data?["items"] as? [[String: Any]])?.first?["action"] as? String == "checkout")
            let future = try await gateway.call(.GET, "/v1/admin/events?since=2999-01-01T00:00:00Z")
            #expect((future.data?["items"] as? [[String: Any]])?.isEmpty == true)

            let forbidden = try await gateway.call(.GET, "/v1/admin/events", token: alice)
            #expect(forbidden.status == 403)
        }
    }

    @Test func aUserSeesTheirOwnHistoryOnly() async throws {
        try await withGateway { gateway async throws in
            try await gateway.createVMs(2)
            let alice = try await gateway.createUser("alice", quota: 1)
            let bob = try await gateway.createUser("bob", quota: 1)
            let held = try await gateway.call(.POST, "/v1/checkouts", token: alice, body: #"{"lease_seconds": 60}"#)
            #expect(try await gateway.call(.POST, "/v1/checkouts", token: bob).status == 201)
            let mine = try await gateway.call(.GET, "/v1/vms/mine/history", token: alice)
            #expect(mine.status == 200)
            let items = try #require(mine.data?["items"] as? [[String: Any]])
            #expect(items.map { $0["action"] as? String } == ["user_create", "checkout"])
            #expect(items.allSatisfy { $0["user"] as? String == "alice" })
            #expect(items[1]["vm_id"] as? String == held["vm_id"] && items[1]["detail"] as? String == "lease 60 s")
            let other = try await gateway.call(.GET, "/v1/vms/mine/history?user=bob", token: alice)
            #expect(other.status == 400 && other.code == "bad_request", "no way to ask for someone else's")
        }
    }
}
