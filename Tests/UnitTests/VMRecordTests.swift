import RedisClient
import Reservations
import Testing

/// Reading a VM as the scripts answer it (lua/lib/vms.lua): its id, then its hash's fields.
@Suite struct VMRecordTests {
    private static func reply(_ id: String, _ pairs: [(String, String)]) -> RESPValue {
        .array([.bulkString(Array(id.utf8))] + pairs.flatMap { [RESPValue.bulkString(Array($0.0.utf8)), .bulkString(Array($0.1.utf8))] })
    }

    @Test func readsTheFieldsThatAreSet() throws {
        let record = try #require(VMRecord(Self.reply("vm-1", [("status", "checked-out"), ("ip", "11.0.0.1"), ("user", "alice")])))
        #expect(record.id == "vm-1" && record[.status] == "checked-out" && record[.ip] == "11.0.0.1")
        #expect(record[.user] == "alice" && record[.leaseExpiresAt] == nil)
        #expect(record.fields == ["vm_id": "vm-1", "status": "checked-out", "ip": "11.0.0.1", "user": "alice"])
    }

    @Test func valuesAreTakenAsTheyAreWhateverTheyHold() throws {
        let record = try #require(VMRecord(Self.reply("vm-4", [("status", "error"), ("size", "größe"), ("machine_id", "m|1%🚀"),
                                                                ("error", "boom | twice | over")])))
        #expect(record[.size] == "größe" && record[.machineID] == "m|1%🚀" && record[.error] == "boom | twice | over")
        #expect(record[.cpu] == nil && record[.user] == nil)
    }

    @Test func aReplyOfAnotherShapeIsNoRecord() {
        #expect(VMRecord(.array([.bulkString(Array("vm-3".utf8)), .bulkString(Array("status".utf8))])) == nil, "a field without a value")
        #expect(VMRecord(.array([])) == nil)
        #expect(VMRecord(.array([.bulkString(Array("vm-3".utf8))])) == nil, "no field")
        #expect(VMRecord(.bulkString(Array("available".utf8))) == nil)
    }
}
