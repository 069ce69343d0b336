import Foundation
import GatewayTestSupport
import NIOHTTP1
import Reservations
import Testing
import TestSupport

/// Admin routes for users, quotas and tokens.
@Suite struct UserRouteTests {
    @Test func createReturnsTheTokenOnceAndItWorks() async throws {
        try await withGateway { gateway async throws in
            let created = try await gateway.call(.POST, "/v1/admin/users", body: #"{"name": "dana", "quota": 3, "role": "user"}"#)
            #expect(created.status == 201)
            let token = try #require(created["token"])
            #expect(token.count == 64 && token.allSatisfy(\.isHexDigit))
            #expect(created.data?["quota"] as? Int == 3)
            #expect(created["role"] == "user")
            let read = try await gateway.call(.GET, "/v1/admin/users/dana")
            #expect(read.status == 200)
            #expect(read.data?["token"] == nil)
            #expect(!read.text.contains(token))
            #expect(try await gateway.call(.GET, "/v1/vms/mine", token: token).status == 200)
        }
    }

    @Test func tokensAreStoredOnlyAsTheirSHA256() async throws {
        try await withGateway { gateway async throws in
            let token = try await gateway.createUser("hashed", quota: 1)
            let rotated = try #require(try await gateway.call(.POST, "/v1/admin/users/hashed/token")["token"])
            // every key of the shared Redis: this pool's and others'
            let dump = try await withRedisClient(.test(try await SharedRedis.url())) { client in
                var text = ""
                for key in try await client.send(.init("KEYS", ["*"])).array?.compactMap(\.string) ?? [] {
                    let type = try await client.send(.init("TYPE", [key])).string
                    let value = type == "hash" ? try await client.send(.init("HGETALL", [key])) : .null
                    text += "\(key) \(value)\n"
                }
                return text
            }
            #expect(!dump.contains(token) && !dump.contains(rotated))
            #expect(!dump.contains(adminToken))
            #expect(dump.contains(TokenDigest(of: rotated).hex))
        }
    }

    @Test func createUsesTheDefaultQuotaAndRole() async throws {
        try await withGateway(configure: { $0.defaultQuota = 4 }) { gateway async throws in
            let created = try await gateway.call(.POST, "/v1/admin/users", body: #"{"name": "eve"}"#)
            #expect(created.status == 201)
            #expect(created.data?["quota"] as? Int == 4)
            #expect(created["role"] == "user")
        }
    }

    @Test func creatingAnExistingOrReservedNameIsInvalidState() async throws {
        try await withGateway { gateway async throws in
            _ = try await gateway.createUser("frank", quota: 1)
            for name in ["frank", "admin", "anonymous"] {
                let again = try await gateway.call(.POST, "/v1/admin/users", body: #"{"name": "\#(name)"}"#)
                #expect(again.status == 409, "\(name)")
                #expect(again.code == "invalid_state")
            }
        }
    }

    @Test func listAndReadShowQuotaAndHeldVMs() async throws {
        try await withGateway { gateway async throws in
            try await gateway.createVMs(2)
            let token = try await gateway.createUser("gina", quota: 2)
            _ = try await gateway.createUser("hank", quota: 1)
            let id = try await gateway.call(.POST, "/v1/checkouts", token: token)["vm_id"]
            let list = try await gateway.call(.GET, "/v1/admin/users")
            #expect(list.status == 200)
            #expect(list.items?.compactMap { $0["name"] as? String } == ["gina", "hank"])
            let gina = try await gateway.call(.GET, "/v1/admin/users/gina")
            #expect(gina.data?["held"] as? Int == 1)
            #expect((gina.data?["vms"] as? [[String: Any]])?.first?["vm_id"] as? String == id)
            let missing = try await gateway.call(.GET, "/v1/admin/users/nobody")
            #expect(missing.status == 404)
            #expect(missing.code == "not_found")
        }
    }

    @Test func patchedQuotaAppliesToTheNextRequest() async throws {
        try await withGateway { gateway async throws in
            try await gateway.createVMs(3)
            let token = try await gateway.createUser("ivy", quota: 1)
            #expect(try await gateway.call(.POST, "/v1/checkouts", token: token).status == 201)
            #expect(try await gateway.call(.POST, "/v1/checkouts", token: token).status == 429)
            let patched = try await gateway.call(.PATCH, "/v1/admin/users/ivy", body: #"{"quota": 2}"#)
            #expect(patched.status == 200)
            #expect(patched.data?["quota"] as? Int == 2)
            #expect(try await gateway.call(.POST, "/v1/checkouts", token: token).status == 201)
            #expect(try await gateway.call(.POST, "/v1/checkouts", token: token).status == 429)
        }
    }

    @Test func aQuotaBelowWhatTheUserHoldsIsRefused() async throws {
        try await withGateway { gateway async throws in
            try await gateway.createVMs(3)
            let token = try await gateway.createUser("ivy", quota: 2)
            for _ in 0..<2 { #expect(try await gateway.call(.POST, "/v1/checkouts", token: token).status == 201) }
            let before = try await gateway.snapshot()
            let refused = try await gateway.call(.PATCH, "/v1/admin/users/ivy", body: #"{"quota": 1}"#)
            #expect(refused.status == 409)
            #expect(refused.code == "invalid_state")
            #expect(refused.message == "Ivy holds 2 VMs, more than a quota of 1; they must check some in first")
            #expect(try await gateway.snapshot() == before)
            #expect(try await gateway.call(.PATCH, "/v1/admin/users/ivy", body: #"{"quota": 2}"#).status == 200)
        }
    }

    @Test func unknownUsersAre404NotFoundOnEveryUserRoute() async throws {
        try await withGateway { gateway async throws in
            for (method, path, body) in [
                (.GET, "/v1/admin/users/nobody", nil), (.PATCH, "/v1/admin/users/nobody", #"{"quota": 1}"#),
                (.DELETE, "/v1/admin/users/nobody", nil), (.POST, "/v1/admin/users/nobody/token", nil),
            ] as [(HTTPMethod, String, String?)] {
                let response = try await gateway.call(method, path, body: body)
                #expect(response.status == 404, "\(method) \(path)")
                #expect(response.code == "not_found")
            }
        }
    }

    @Test func namesOfUpTo64LettersDigitsDotsDashesAndUnderscoresAreAccepted() async throws {
        try await withGateway { gateway async throws in
            for name in [String(repeating: "n", count: 64), "a", "first.last", "snake_case", "kebab-case", "Mixed.Case_9-x"] {
                let created = try await gateway.call(.POST, "/v1/admin/users", body: #"{"name": "\#(name)"}"#)
                #expect(created.status == 201, "\(name)")
                #expect(try await gateway.call(.GET, "/v1/admin/users/\(name)")["name"] == name)
            }
        }
    }

    @Test func patchingTheRoleGrantsAdminRoutes() async throws {
        try await withGateway { gateway async throws in
            let token = try await gateway.createUser("jack", quota: 1)
            #expect(try await gateway.call(.GET, "/v1/admin/pool", token: token).status == 403)
            #expect(try await gateway.call(.PATCH, "/v1/admin/users/jack", body: #"{"role": "admin"}"#).status == 200)
            #expect(try await gateway.call(.GET, "/v1/admin/pool", token: token).status == 200)
        }
    }

    @Test func rotationIssuesANewTokenAndTheOldOneStopsAtOnce() async throws {
        try await withGateway { gateway async throws in
            let old = try await gateway.createUser("kim", quota: 1)
            let rotated = try await gateway.call(.POST, "/v1/admin/users/kim/token")
            #expect(rotated.status == 200)
            let new = try #require(rotated["token"])
            #expect(new != old)
            #expect(try await gateway.call(.GET, "/v1/vms/mine", token: old).status == 401)
            #expect(try await gateway.call(.GET, "/v1/vms/mine", token: new).status == 200)
            // shown once: no later answer carries it
            #expect(!(try await gateway.call(.GET, "/v1/admin/users/kim").text.contains(new)))
            #expect(!(try await gateway.call(.GET, "/v1/admin/users").text.contains(new)))
        }
    }

    @Test func deleteIsRefusedWhileTheUserHoldsVMs() async throws {
        try await withGateway { gateway async throws in
            try await gateway.createVMs(1)
            let token = try await gateway.createUser("lee", quota: 1)
            let vm = try await gateway.call(.POST, "/v1/checkouts", token: token)
            let refused = try await gateway.call(.DELETE, "/v1/admin/users/lee")
            #expect(refused.status == 409)
            #expect(refused.code == "invalid_state")
            _ = try await gateway.call(.POST, "/v1/checkins", token: token, body: #"{"vm_id": "\#(vm["vm_id"]!)"}"#)
            let deleted = try await gateway.call(.DELETE, "/v1/admin/users/lee")
            #expect(deleted.status == 200)
            #expect(deleted["name"] == "lee")
            #expect(try await gateway.call(.GET, "/v1/vms/mine", token: token).status == 401)
            #expect(try await gateway.call(.DELETE, "/v1/admin/users/lee").status == 404)
        }
    }
}
