import Foundation
import GatewayTestSupport
import NIOHTTP1
import RedisClient
import Reservations
import Testing
import TestSupport

/// Every malformed request gets 400 (or 413) in the envelope and changes nothing.
@Suite struct BadInputTests {
    static let unknownID = "7d0b5a3c-0000-4000-8000-000000000000"

    /// (method, path, body) triples that must each be refused with 400 `bad_request`.
    static let badRequests: [(HTTPMethod, String, String?)] = [
        (.POST, "/v1/checkouts", "{"),
        (.POST, "/v1/checkouts", "[]"),
        (.POST, "/v1/checkouts", #"{"lease_seconds": 0}"#),
        (.POST, "/v1/checkouts", #"{"lease_seconds": 604801}"#),
        (.POST, "/v1/checkouts", #"{"lease_seconds": "60"}"#),
        (.POST, "/v1/checkouts", #"{"lease_seconds": 1.5}"#),
        (.POST, "/v1/checkouts", #"{"lease": 60}"#),
        (.POST, "/v1/checkins", nil),
        (.POST, "/v1/checkins", "{}"),
        (.POST, "/v1/checkins", #"{"ip": "300.1.1.1"}"#),
        (.POST, "/v1/checkins", #"{"ip": "1.2.3"}"#),
        (.POST, "/v1/checkins", #"{"ip": 5}"#),
        (.POST, "/v1/checkins", #"{"vm_id": "not-a-uuid"}"#),
        (.POST, "/v1/checkins", #"{"vm_id": "\#(unknownID)", "extra": true}"#),
        (.GET, "/v1/vms/123", nil),
        (.GET, "/v1/vms/123/status", nil),
        (.POST, "/v1/admin/vms", #"{"count": 0}"#),
        (.POST, "/v1/admin/vms", #"{"count": 1001}"#),
        (.POST, "/v1/admin/vms", #"{"count": "3"}"#),
        (.POST, "/v1/admin/vms", #"{"cnt": 3}"#),
        (.DELETE, "/v1/admin/vms/xyz", nil),
        (.DELETE, "/v1/admin/vms/\(unknownID)?ip=999.1.1.1", nil),
        (.DELETE, "/v1/admin/vms/\(unknownID)?force=1", nil),
        (.GET, "/v1/admin/vms?status=busy", nil),
        (.GET, "/v1/admin/vms?limit=0", nil),
        (.GET, "/v1/admin/vms?limit=abc", nil),
        (.GET, "/v1/admin/vms?cursor=zzz", nil),
        (.PUT, "/v1/admin/pool", "{}"),
        (.PUT, "/v1/admin/pool", #"{"max_vm_count": -1}"#),
        (.PUT, "/v1/admin/pool", #"{"max_vm_count": null}"#),
        (.PUT, "/v1/admin/pool", #"{"ip_pool": "10.0.0.1/24"}"#),
        (.PUT, "/v1/admin/pool", #"{"ip_pool": "10.0.0.0/8"}"#),
        (.PUT, "/v1/admin/pool", #"{"ip_pool": "300.0.0.0/24"}"#),
        (.PUT, "/v1/admin/pool", #"{"ip_pool": "10.0.0.0/24/1"}"#),
        (.PUT, "/v1/admin/pool", #"{"ip_pool": 24}"#),
        (.POST, "/v1/admin/users", #"{"quota": 1}"#),
        (.POST, "/v1/admin/users", #"{"name": ""}"#),
        (.POST, "/v1/admin/users", #"{"name": "has space"}"#),
        (.POST, "/v1/admin/users", #"{"name": "\#(String(repeating: "x", count: 65))"}"#),
        (.POST, "/v1/admin/users", #"{"name": "ok", "role": "root"}"#),
        (.POST, "/v1/admin/users", #"{"name": "ok", "quota": -1}"#),
        (.POST, "/v1/admin/users", #"{"name": "ok", "token": "mine"}"#),
        (.PATCH, "/v1/admin/users/base", #"{"quota": "many"}"#),
        (.PATCH, "/v1/admin/users/base", #"{"name": "other"}"#),
        (.GET, "/v1/admin/users/bad%20name", nil),
        (.POST, "/v1/checkouts/123/renew", nil),
        (.GET, "/v1/admin/events?since=yesterday", nil),
        (.GET, "/v1/admin/events?limit=0", nil),
        (.GET, "/v1/admin/events?vm_id=xyz", nil),
        (.GET, "/v1/admin/events?user=bad%20name", nil),
        (.GET, "/v1/admin/events?cursor=zzz", nil),
        (.GET, "/v1/admin/events?kind=checkout", nil),
        (.GET, "/v1/vms/mine/history?user=base", nil),
        (.GET, "/v1/vms/mine/history?limit=5000", nil),
        (.POST, "/v1/checkouts/\(unknownID)/renew", #"{"lease_seconds": 0}"#),
        (.POST, "/v1/checkouts/\(unknownID)/renew", #"{"lease_seconds": 31536001}"#),
        (.POST, "/v1/checkouts/\(unknownID)/renew", #"{"lease": 60}"#),
        (.POST, "/v1/checkouts", #"{"lease_seconds": 31536001}"#),
        (.POST, "/v1/checkouts", #"{"size": "huge"}"#),
        (.POST, "/v1/checkouts", #"{"size": "no spaces"}"#),
        (.POST, "/v1/checkouts", #"{"size": 3}"#),
        (.POST, "/v1/admin/vms", #"{"size": "huge"}"#),
        (.PATCH, "/v1/admin/users/base", #"{"size_quotas": {"huge": 1}}"#),
        (.PATCH, "/v1/admin/users/base", #"{"size_quotas": {"large": -1}}"#),
        (.PATCH, "/v1/admin/users/base", #"{"size_quotas": ["large"]}"#),
        (.PATCH, "/v1/admin/users/base", #"{"max_lease_seconds": 0}"#),
        (.PATCH, "/v1/admin/users/base", #"{"max_lease_seconds": 31536001}"#),
        (.PATCH, "/v1/admin/users/base", #"{"max_lease_seconds": "long"}"#),
    ] + strictJSONViolations

    /// Bodies that are not RFC 8259 JSON with unique member names, on every route that takes a
    /// body: each is otherwise a request that would succeed.
    static let strictJSONViolations: [(HTTPMethod, String, String?)] = [
        (.POST, "/v1/checkouts", #"{"lease_seconds": 60,}"#),
        (.POST, "/v1/checkouts", #"{"lease_seconds": 60, "lease_seconds": 120}"#),
        (.POST, "/v1/checkins", #"{"ip": "1.2.3.4",}"#),
        (.POST, "/v1/checkins", #"{"ip": "1.2.3.4", "ip": "5.6.7.8"}"#),
        (.POST, "/v1/checkins", #"{"ip": "1.2.3.4", "\u0069p": "5.6.7.8"}"#),
        (.POST, "/v1/admin/vms", #"{"count": 1,}"#),
        (.POST, "/v1/admin/vms", #"{"count": 1, "count": 2}"#),
        (.PUT, "/v1/admin/pool", #"{"max_vm_count": 50,}"#),
        (.PUT, "/v1/admin/pool", #"{"max_vm_count": 50, "max_vm_count": 60}"#),
        (.POST, "/v1/admin/users", #"{"name": "dup",}"#),
        (.POST, "/v1/admin/users", #"{"name": "dup", "name": "dup2"}"#),
        (.PATCH, "/v1/admin/users/base", #"{"quota": 3,}"#),
        (.PATCH, "/v1/admin/users/base", #"{"quota": 3, "quota": 4}"#),
        // refused already before strictness was checked separately; kept as tests
        (.POST, "/v1/admin/vms", #"{"count": 1} // two"#),
        (.POST, "/v1/admin/vms", #"{"count": 1 /* two */}"#),
        (.POST, "/v1/admin/users", #"{'name': 'single'}"#),
        (.PUT, "/v1/admin/pool", #"{"max_vm_count": NaN}"#),
        (.POST, "/v1/admin/vms", #"{"count": 1} {"count": 2}"#),
        (.POST, "/v1/admin/vms", #"{"count": 1}x"#),
        (.POST, "/v1/admin/vms", #"[{"count": 1},]"#),
    ]

    @Test(arguments: badRequests.indices)
    func aBadRequestIs400AndChangesNothing(_ index: Int) async throws {
        let (method, path, body) = Self.badRequests[index]
        try await withGateway { gateway async throws in
            try await gateway.createVMs(3)
            _ = try await gateway.createUser("base", quota: 2)
            _ = try await gateway.call(.POST, "/v1/checkouts")
            let before = try await gateway.snapshot()
            let response = try await gateway.call(method, path, body: body)
            #expect(response.status == 400, "\(method) \(path) \(body ?? "")")
            #expect(response.code == "bad_request")
            #expect(response.envelopeStatus == "error")
            #expect(response.json?["data"] is NSNull)
            #expect((response.message ?? "").count > 5)
            #expect(try await gateway.snapshot() == before)
        }
    }

    /// The caller comes first, as in every script: a bad request with an unknown token is 401,
    /// and a user's bad request on an admin route 403; neither changes anything.
    @Test func theCallerIsCheckedBeforeTheInput() async throws {
        // (dozens of unknown tokens on purpose: no limit on failed authentications here)
        try await withGateway(configure: { $0.authenticationFailureLimit = 0 }) { gateway async throws in
            try await gateway.createVMs(3)
            let user = try await gateway.createUser("base", quota: 2)
            let before = try await gateway.snapshot()
            let unknown = String(repeating: "ab", count: 32)
            for (method, path, body) in Self.badRequests {
                let stranger = try await gateway.call(method, path, token: unknown, body: body)
                #expect(stranger.status == 401, "\(method) \(path)")
                #expect(stranger.code == "unauthorized")
                let answer = try await gateway.call(method, path, token: user, body: body)
                if path.hasPrefix("/v1/admin/") {
                    #expect(answer.status == 403, "\(method) \(path)")
                    #expect(answer.code == "forbidden")
                } else {
                    #expect(answer.status == 400, "\(method) \(path)")
                }
            }
            let padding = String(repeating: " ", count: 1 << 20)
            #expect(try await gateway.call(.POST, "/v1/admin/vms", token: unknown, body: "{}" + padding).status == 401)
            #expect(try await gateway.call(.POST, "/v1/admin/vms", token: user, body: "{}" + padding).status == 403)
            #expect(try await gateway.call(.POST, "/v1/checkouts", token: user, body: "{}" + padding).status == 413)
            for path in ["/deleteVM/?vm_id=xyz", "/createVM/?count=2"] {
                #expect(try await gateway.call(.GET, path, token: user).status == 403, "\(path)")
                #expect(try await gateway.call(.GET, path, token: unknown).status == 401, "\(path)")
            }
            #expect(try await gateway.snapshot() == before)
        }
    }

    @Test func anUnexpectedFailureIsABare500() async throws {
        let name = "corrupt-\(UUID().uuidString)"
        try await withGateways(pool: name) { gateways in
            let gateway = gateways[0]
            let pool = try await gateway.call(.GET, "/v1/admin/pool")
            #expect(pool.status == 200)
            // corrupt the store behind the gateway's back: the leases key holds a string
            try await withRedisClient(.test(try await SharedRedis.url(), connectionCount: 1)) { redis async throws in
                _ = try await redis.send(.init("SET", ["\(PoolKeys(pool: name).prefix):leases", "not a sorted set"]))
            }
            let response = try await gateway.call(.POST, "/v1/checkouts")
            #expect(response.status == 500)
            #expect(response.code == "internal")
            #expect(response.message == "Internal error")
            for leak in ["WRONGTYPE", "script", "lua", "leases", "Redis"] {
                #expect(!response.text.contains(leak), "\(leak) in \(response.text)")
            }
        }
    }

    @Test func errorsNeverLeakInternals() async throws {
        try await withGateway { gateway async throws in
            let response = try await gateway.call(.POST, "/v1/checkins", body: #"{"vm_id": [1, 2]}"#)
            #expect(response.status == 400)
            for leak in ["Swift.", "DecodingError", "codingPath", "at /", ".swift"] {
                #expect(!response.text.contains(leak), "\(leak) in \(response.text)")
            }
        }
    }
}
