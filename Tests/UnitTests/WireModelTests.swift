import Foundation
import Testing
import TestSupport
@testable import VMReserveClient

/// The client library's models against docs/openapi.json: every property of each schema is a
/// field of its model and no more, and the enums have the document's values.
@Suite struct WireModelTests {
    nonisolated(unsafe) static let document: [String: Any] = {  // (read only)
        let file = repositoryRoot.appending(path: "docs/openapi.json")
        return (try? JSONSerialization.jsonObject(with: Data(contentsOf: file))) as? [String: Any] ?? [:]
    }()

    static func schema(_ name: String) -> [String: Any] {
        ((document["components"] as? [String: Any])?["schemas"] as? [String: Any])?[name] as? [String: Any] ?? [:]
    }

    /// The keys a model writes when every field has a value.
    static func keys(of value: some Encodable) throws -> Set<String> {
        Set((try JSONSerialization.jsonObject(with: JSONEncoder().encode(value)) as? [String: Any] ?? [:]).keys)
    }

    static func properties(_ name: String) -> Set<String> {
        Set((schema(name)["properties"] as? [String: Any] ?? [:]).keys)
    }

    static let date = Date(timeIntervalSince1970: 1_800_000_000)
    static let vm = VM(id: "vm-1", ip: "203.0.113.7", status: .checkedOut, user: "alice", checkedOutAt: date, leaseExpiresAt: date,
                       createdAt: date, size: "small", cpu: 1, memoryMB: 2048, machineID: "i-0abc", error: "none",
                       reservationID: "r-1")

    @Test func everyModelHasTheFieldsOfItsSchema() throws {
        #expect(Self.properties("VM").count > 10)
        #expect(try Self.keys(of: Self.vm) == Self.properties("VM"))
        let user = User(name: "alice", role: .user, quota: 2, held: 1, maxLeaseSeconds: 60, sizeQuotas: ["small": 1], createdAt: Self.date,
                        token: "t", vms: [Self.vm])
        #expect(try Self.keys(of: user) == Self.properties("User"))
        let event = Event(id: "1-0", at: Self.date, action: "checkout", actor: "alice", vmID: "vm-1", ip: "203.0.113.7", user: "alice",
                          status: .checkedOut, detail: "60", reservationID: "r-1")
        #expect(try Self.keys(of: event) == Self.properties("Event"))
        let pool = try VMReserveClient.decoder.decode(Pool.self, from: Data("""
            {"max_vm_count": 10, "total": 3, "counts": {"provisioning": 0, "available": 2, "checked-out": 1, "error": 0,
             "deprovisioning": 0}, "ip_pool": "203.0.113.0/28", "ip_pool_free": 13}
            """.utf8))
        #expect(try Self.keys(of: pool) == Self.properties("Pool"))
        #expect(pool.counts == [.provisioning: 0, .available: 2, .checkedOut: 1, .error: 0, .deprovisioning: 0])
        #expect(try Self.keys(of: Page(items: [Self.vm], nextCursor: "c")) == Self.properties("VMPage"))
        let reservation = Reservation(id: "r-1", user: "alice", vms: [Self.vm], leaseSeconds: 60, leaseExpiresAt: Self.date, createdAt: Self.date)
        #expect(try Self.keys(of: reservation) == Self.properties("Reservation"))
    }

    @Test func theEnumsHaveTheDocumentsValues() {
        let codes = ((Self.schema("Error")["properties"] as? [String: Any])?["code"] as? [String: Any])?["enum"] as? [String] ?? []
        #expect(Set(ErrorCode.allCases.map(\.rawValue)) == Set(codes) && !codes.isEmpty)
        #expect(Set(VMStatus.allCases.map(\.rawValue)) == Set(Self.schema("Status")["enum"] as? [String] ?? []))
        #expect(Set(["user", "admin"]) == Set(Self.schema("Role")["enum"] as? [String] ?? []))
    }

    /// Times as the gateway writes them, with and without fractions; nulls where a field has none.
    @Test func aVMAsTheGatewayWritesItDecodes() throws {
        let vm = try VMReserveClient.decoder.decode(VM.self, from: Data("""
            {"vm_id": "vm-1", "ip": null, "status": "provisioning", "user": null, "checked_out_at": null,
             "lease_expires_at": "2027-01-15T08:00:00.250Z", "created_at": "2027-01-15T08:00:00Z", "size": "small", "cpu": 1,
             "memory_mb": 2048, "machine_id": null, "error": null}
            """.utf8))
        #expect(vm.ip == nil && vm.status == .provisioning && vm.createdAt == parseRFC3339("2027-01-15T08:00:00Z"))
        #expect(vm.leaseExpiresAt.map { $0.timeIntervalSince(vm.createdAt) } == 0.25)
    }
}
