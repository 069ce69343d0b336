import Foundation
import GatewayTestSupport
import Reservations
import Testing
import TestSupport

/// Sizes over HTTP: create and check out by size, quotas per size, the catalog from configuration.
@Suite struct SizeTests {
    @Test func vmsComeInSizesAndACheckoutGetsTheSizeItAsksFor() async throws {
        try await withGateway { gateway async throws in
            let small = try await gateway.createVMs(1)[0]
            #expect(small["size"] as? String == "small" && small["cpu"] as? Int == 1 && small["memory_mb"] as? Int == 2048)
            let large = try await gateway.call(.POST, "/v1/admin/vms", body: #"{"count": 2, "size": "large"}"#)
            #expect(large.status == 201 && large.items?.allSatisfy { $0["size"] as? String == "large" && $0["memory_mb"] as? Int == 8192 } == true)
            let alice = try await gateway.createUser("alice", quota: 3)
            let patched = try await gateway.call(.PATCH, "/v1/admin/users/alice", body: #"{"size_quotas": {"large": 1}}"#)
            #expect(patched.status == 200 && (patched.data?["size_quotas"] as? [String: Int]) == ["large": 1])
            let first = try await gateway.call(.POST, "/v1/checkouts", token: alice, body: #"{"size": "large"}"#)
            #expect(first.status == 201 && first["size"] == "large")
            let second = try await gateway.call(.POST, "/v1/checkouts", token: alice, body: #"{"size": "large"}"#)
            #expect(second.status == 429 && second.message == "Quota of 1 large VM reached")
            let medium = try await gateway.call(.POST, "/v1/checkouts", token: alice, body: #"{"size": "medium"}"#)
            #expect(medium.status == 503 && medium.code == "no_vm_available", "none of that size")
            let unknown = try await gateway.call(.POST, "/v1/checkouts", token: alice, body: #"{"size": "huge"}"#)
            #expect(unknown.status == 400 && unknown.message == "Size must be one of small, medium, large")
            let any = try await gateway.call(.POST, "/v1/checkouts", token: alice)
            #expect(any.status == 201 && any["size"] == "small", "any size alice still has room for")
            let cleared = try await gateway.call(.PATCH, "/v1/admin/users/alice", body: #"{"size_quotas": null}"#)
            #expect((cleared.data?["size_quotas"] as? [String: Int]) == [:])
        }
    }

    @Test func theCatalogComesFromConfiguration() async throws {
        try await withGateway(configure: { $0.sizes = [VMSize(name: "gpu", cpu: 8, memoryMB: 65536)] }) { gateway async throws in
            let vm = try await gateway.createVMs(1)[0]
            #expect(vm["size"] as? String == "gpu" && vm["cpu"] as? Int == 8 && vm["memory_mb"] as? Int == 65536)
            let refused = try await gateway.call(.POST, "/v1/admin/vms", body: #"{"size": "small"}"#)
            #expect(refused.status == 400 && refused.message == "Size must be one of gpu")
        }
    }
}
