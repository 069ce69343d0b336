import Foundation
import Testing
import TestSupport

/// The original design's GET routes answer like their /v1 twins.
@Suite struct LegacyRouteTests {
    @Test func theOriginalFlowWorksEndToEnd() async throws {
        try await withGateway(configure: { $0.maxVMCount = 1 }) { gateway, _ async throws in
            let created = try await gateway.call(.GET, "/createVM/")
            #expect(created.status == 201)
            let id = try #require(created["vm_id"]), ip = try #require(created["ip"])
            #expect(try await gateway.call(.GET, "/createVM/").message == "Error: Maximum VM Count reached")
            let out = try await gateway.call(.GET, "/checkoutVM/")
            #expect(out.status == 201)
            #expect(out["ip"] == ip)
            #expect(try await gateway.call(.GET, "/checkoutVM/").message == "No VMs currently available, please try after some time")
            #expect(try await gateway.call(.GET, "/getVM/?vm_id=\(id)")["status"] == "checked-out")
            let status = try await gateway.call(.GET, "/getVMStatus/?vm_id=\(id)")
            #expect(status.status == 200)
            #expect(status["status"] == "checked-out")
            #expect(try await gateway.call(.GET, "/deleteVM/?vm_id=\(id)").code == "invalid_state")
            #expect(try await gateway.call(.GET, "/checkinVM/?vm_id=\(id)&ip=\(ip)").status == 200)
            let deleted = try await gateway.call(.GET, "/deleteVM/?vm_id=\(id)&ip=\(ip)")
            #expect(deleted.status == 200)
            let gone = try await gateway.call(.GET, "/getVM/?vm_id=\(id)")
            #expect(gone.status == 404)
            #expect(gone.message == "Could not find a vm with given details")
        }
    }

    @Test func routesWorkWithAndWithoutTheTrailingSlash() async throws {
        try await withGateway { gateway, _ async throws in
            #expect(try await gateway.call(.GET, "/createVM").status == 201)
            #expect(try await gateway.call(.GET, "/createVM/").status == 201)
        }
    }

    @Test func badQueriesAre400() async throws {
        try await withGateway { gateway, _ async throws in
            for path in ["/getVM/", "/getVM/?vm_id=xyz", "/getVMStatus/?id=1", "/checkinVM/", "/checkinVM/?ip=1.2.3",
                         "/deleteVM/?ip=8.8.8.8", "/createVM/?count=2", "/getVM/?vm_id=\(UUID())&vm_id=\(UUID())"] {
                let response = try await gateway.call(.GET, path)
                #expect(response.status == 400, "\(path)")
                #expect(response.code == "bad_request")
            }
        }
    }
}
