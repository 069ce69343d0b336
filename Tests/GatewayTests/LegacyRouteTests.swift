import Foundation
import GatewayTestSupport
import Testing
import TestSupport

/// The original design's GET routes answer like their /v1 twins.
@Suite struct LegacyRouteTests {
    @Test func theOriginalFlowWorksEndToEnd() async throws {
        try await withGateway(configure: { $0.maxVMCount = 1 }) { gateway async throws in
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

    @Test func errorsAnswerTheSameStatusCodesAsTheV1Twins() async throws {
        try await withGateway(configure: { $0.maxVMCount = 1 }) { gateway async throws in
            let id = try #require(try await gateway.call(.GET, "/createVM/")["vm_id"])
            let capped = try await gateway.call(.GET, "/createVM/")
            #expect(capped.status == 409)
            #expect(capped.code == "max_vm_count_reached")
            #expect(try await gateway.call(.GET, "/checkoutVM/").status == 201)
            let empty = try await gateway.call(.GET, "/checkoutVM/")
            #expect(empty.status == 503)
            #expect(empty.code == "no_vm_available")
            #expect(empty.headers.first(name: "Retry-After") != nil)
            let held = try await gateway.call(.GET, "/deleteVM/?vm_id=\(id)")
            #expect(held.status == 409)
            #expect(held.code == "invalid_state")
            let unknown = try await gateway.call(.GET, "/getVMStatus/?vm_id=\(UUID())")
            #expect(unknown.status == 404)
            #expect(unknown.code == "vm_not_found")
        }
    }

    @Test func emptyParametersOfTheOriginalTemplateCountAsAbsent() async throws {
        try await withGateway { gateway async throws in
            let vm = try await gateway.call(.GET, "/createVM/")
            let id = try #require(vm["vm_id"]), ip = try #require(vm["ip"])
            _ = try await gateway.call(.GET, "/checkoutVM/")
            let checkedIn = try await gateway.call(.GET, "/checkinVM/?vm_id=&ip=\(ip)")
            #expect(checkedIn.status == 200)
            #expect(checkedIn["status"] == "available")
            #expect(try await gateway.call(.GET, "/checkinVM/?vm_id=&ip=").status == 400)
            #expect(try await gateway.call(.GET, "/deleteVM/?vm_id=\(id)&ip=").status == 200)
        }
    }

    @Test func routesWorkWithAndWithoutTheTrailingSlash() async throws {
        try await withGateway { gateway async throws in
            #expect(try await gateway.call(.GET, "/createVM").status == 201)
            #expect(try await gateway.call(.GET, "/createVM/").status == 201)
            for path in ["/checkoutVM", "/checkoutVM/"] {
                #expect(try await gateway.call(.GET, path).status == 201, "\(path)")
            }
            let id = try #require(try await gateway.call(.GET, "/v1/vms/mine").items?.first?["vm_id"] as? String)
            for path in ["/getVM", "/getVM/", "/getVMStatus", "/getVMStatus/"] {
                #expect(try await gateway.call(.GET, "\(path)?vm_id=\(id)").status == 200, "\(path)")
            }
            #expect(try await gateway.call(.GET, "/checkinVM?vm_id=\(id)").status == 200)
            #expect(try await gateway.call(.GET, "/deleteVM?vm_id=\(id)").status == 200)
        }
    }

    @Test func badQueriesAre400() async throws {
        try await withGateway { gateway async throws in
            for path in ["/getVM/", "/getVM/?vm_id=xyz", "/getVMStatus/?id=1", "/checkinVM/", "/checkinVM/?ip=1.2.3",
                         "/deleteVM/?ip=8.8.8.8", "/createVM/?count=2", "/getVM/?vm_id=\(UUID())&vm_id=\(UUID())"] {
                let response = try await gateway.call(.GET, path)
                #expect(response.status == 400, "\(path)")
                #expect(response.code == "bad_request")
            }
        }
    }
}
