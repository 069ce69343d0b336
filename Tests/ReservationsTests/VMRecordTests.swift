import RedisClient
import Reservations
import Testing

/// Reading a VM's record as the scripts write it (lua/_prelude.lua, "VMs").
@Suite struct VMRecordTests {
    private static func text(_ values: [String: String]) -> String {
        VMRecord.Field.allCases.map { values[$0.name] ?? "" }.joined(separator: "|")
    }

    @Test func readsTheFieldsThatAreSet() throws {
        let record = try #require(VMRecord(id: "vm-1", text: Self.text(["status": "checked-out", "ip": "11.0.0.1", "user": "alice"])))
        #expect(record.id == "vm-1" && record[.status] == "checked-out" && record[.ip] == "11.0.0.1")
        #expect(record[.user] == "alice" && record[.leaseExpiresAt] == nil)
        #expect(record.fields == ["vm_id": "vm-1", "status": "checked-out", "ip": "11.0.0.1", "user": "alice"])
    }

    @Test func theLastFieldMayHoldBarsAndTheMachineIDIsUnescaped() throws {
        let text = Self.text(["status": "error", "machine_id": "m%7C1%25", "error": "boom | twice | over"])
        let record = try #require(VMRecord(id: "vm-2", text: text))
        #expect(record[.error] == "boom | twice | over")
        #expect(record[.machineID] == "m|1%")
    }

    @Test func fieldsAreFoundByTheirBytesWhateverTheTextBeforeThem() throws {
        let text = Self.text(["status": "error", "size": "größe", "user": "zoë", "machine_id": "🚀", "error": "é|ü"])
        let record = try #require(VMRecord(id: "vm-4", text: text))
        #expect(record[.size] == "größe" && record[.user] == "zoë" && record[.machineID] == "🚀" && record[.error] == "é|ü")
        #expect(record[.cpu] == nil && record[.failures] == nil)
    }

    @Test func textWithTooFewFieldsOrAReplyOfAnotherShapeIsNoRecord() {
        #expect(VMRecord(id: "vm-3", text: "available|11.0.0.1") == nil)
        #expect(VMRecord(.array([.bulkString(Array("vm-3".utf8))])) == nil)
        #expect(VMRecord(.bulkString(Array("available".utf8))) == nil)
    }
}
