import Foundation
import GatewayTestSupport
import NIOHTTP1
import Testing
import TestSupport

/// The routes of any user: checkout, checkin, mine, get_vm, get_vm_status.
@Suite struct VMRouteTests {
    @Test func checkoutAnswers201WithTheVMAndItsIP() async throws {
        try await withGateway { gateway async throws in
            try await gateway.createVMs(2)
            let token = try await gateway.createUser("alice", quota: 2)
            let response = try await gateway.call(.POST, "/v1/checkouts", token: token)
            #expect(response.status == 201)
            #expect(response.envelopeStatus == "success")
            #expect(response.json?["message"] is NSNull)
            #expect(response["status"] == "checked-out")
            #expect(response["user"] == "alice")
            #expect(response["ip"]?.split(separator: ".").count == 4)
            #expect(response["checked_out_at"]?.hasSuffix("Z") == true)
            #expect(response.data?["lease_expires_at"] is NSNull)
        }
    }

    @Test func checkoutWithALeaseReportsItsExpiry() async throws {
        try await withGateway { gateway async throws in
            try await gateway.createVMs(1)
            let response = try await gateway.call(.POST, "/v1/checkouts", body: #"{"lease_seconds": 3600}"#)
            #expect(response.status == 201)
            let formatter = ISO8601DateFormatter()
            formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
            let checkedOut = try #require(response["checked_out_at"].flatMap(formatter.date(from:)))
            let expires = try #require(response["lease_expires_at"].flatMap(formatter.date(from:)))
            #expect(expires.timeIntervalSince(checkedOut) == 3600, "exactly, to the millisecond")
            #expect(response["checked_out_at"]?.wholeMatch(of: /\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z/) != nil)
        }
    }

    @Test func leasesFromOneSecondToSevenDaysAreAccepted() async throws {
        try await withGateway { gateway async throws in
            try await gateway.createVMs(2)
            for seconds in [1, 604_800] {
                let response = try await gateway.call(.POST, "/v1/checkouts", body: #"{"lease_seconds": \#(seconds)}"#)
                #expect(response.status == 201, "\(seconds)")
                #expect(response["lease_expires_at"] != nil)
            }
        }
    }

    @Test func successAnswersAreJSONEnvelopesWithoutACode() async throws {
        try await withGateway { gateway async throws in
            try await gateway.createVMs(1)
            for (method, path) in [(.POST, "/v1/checkouts"), (.GET, "/v1/vms/mine"), (.GET, "/v1/admin/pool")] as [(HTTPMethod, String)] {
                let response = try await gateway.call(method, path)
                #expect(response.headers.first(name: "Content-Type")?.hasPrefix("application/json") == true, "\(path)")
                #expect(response.envelopeStatus == "success")
                #expect(response.json?.keys.sorted() == ["data", "message", "status"], "\(path)")
            }
            let failure = try await gateway.call(.POST, "/v1/checkouts")
            #expect(failure.headers.first(name: "Content-Type")?.hasPrefix("application/json") == true)
            #expect(failure.json?.keys.sorted() == ["code", "data", "message", "status"])
        }
    }

    @Test func checkoutOnAnEmptyPoolAnswers503WithRetryAfter() async throws {
        try await withGateway { gateway async throws in
            let response = try await gateway.call(.POST, "/v1/checkouts")
            #expect(response.status == 503)
            #expect(response.code == "no_vm_available")
            #expect(response.message == "No VMs currently available, please try after some time")
            #expect(response.json?["data"] is NSNull)
            #expect(Int(response.headers.first(name: "Retry-After") ?? "") ?? 0 > 0)
        }
    }

    @Test func checkoutBeyondQuotaAnswers429EvenWhenThePoolIsEmpty() async throws {
        try await withGateway { gateway async throws in
            try await gateway.createVMs(1)
            let token = try await gateway.createUser("bob", quota: 1)
            #expect(try await gateway.call(.POST, "/v1/checkouts", token: token).status == 201)
            let response = try await gateway.call(.POST, "/v1/checkouts", token: token)
            #expect(response.status == 429)
            #expect(response.code == "quota_exceeded")
        }
    }

    @Test func aQuotaOfZeroRefusesEveryCheckout() async throws {
        try await withGateway { gateway async throws in
            try await gateway.createVMs(1)
            let token = try await gateway.createUser("zero", quota: 0)
            #expect(try await gateway.call(.POST, "/v1/checkouts", token: token).status == 429)
        }
    }

    @Test func checkinByIPByIdOrBothReturnsTheVMToThePool() async throws {
        try await withGateway { gateway async throws in
            try await gateway.createVMs(1)
            let token = try await gateway.createUser("carol", quota: 1)
            for form in ["ip", "vm_id", "both"] {
                let vm = try await gateway.call(.POST, "/v1/checkouts", token: token)
                let ip = try #require(vm["ip"]), id = try #require(vm["vm_id"])
                let body = switch form {
                case "ip": #"{"ip": "\#(ip)"}"#
                case "vm_id": #"{"vm_id": "\#(id)"}"#
                default: #"{"ip": "\#(ip)", "vm_id": "\#(id)"}"#
                }
                let response = try await gateway.call(.POST, "/v1/checkins", token: token, body: body)
                #expect(response.status == 200, "\(form)")
                #expect(response["status"] == "available")
                #expect(response.data?["user"] is NSNull)
                #expect(response.data?["checked_out_at"] is NSNull)
            }
        }
    }

    @Test func checkinOfAVMHeldBySomeoneElseIsForbidden() async throws {
        try await withGateway { gateway async throws in
            try await gateway.createVMs(2)
            let alice = try await gateway.createUser("alice", quota: 1)
            let bob = try await gateway.createUser("bob", quota: 1)
            let vm = try await gateway.call(.POST, "/v1/checkouts", token: alice)
            let response = try await gateway.call(.POST, "/v1/checkins", token: bob, body: #"{"vm_id": "\#(vm["vm_id"]!)"}"#)
            #expect(response.status == 403)
            #expect(response.code == "forbidden")
            // A user naming an available VM does not hold it either.
            let list = try await gateway.call(.GET, "/v1/admin/vms?status=available")
            let free = try #require((list.data?["items"] as? [[String: Any]])?.first?["vm_id"] as? String)
            #expect(try await gateway.call(.POST, "/v1/checkins", token: bob, body: #"{"vm_id": "\#(free)"}"#).status == 403)
        }
    }

    @Test func anAdminMayCheckInAnyVMButNotOneThatIsNotCheckedOut() async throws {
        try await withGateway { gateway async throws in
            try await gateway.createVMs(1)
            let alice = try await gateway.createUser("alice", quota: 1)
            let vm = try await gateway.call(.POST, "/v1/checkouts", token: alice)
            let body = #"{"ip": "\#(vm["ip"]!)"}"#
            #expect(try await gateway.call(.POST, "/v1/checkins", body: body).status == 200)
            let again = try await gateway.call(.POST, "/v1/checkins", body: body)
            #expect(again.status == 409)
            #expect(again.code == "invalid_state")
        }
    }

    @Test func theHolderCheckingInTwiceGetsInvalidState() async throws {
        try await withGateway { gateway async throws in
            try await gateway.createVMs(1)
            let vm = try await gateway.call(.POST, "/v1/checkouts")
            let body = #"{"vm_id": "\#(vm["vm_id"]!)"}"#
            #expect(try await gateway.call(.POST, "/v1/checkins", body: body).status == 200)
            #expect(try await gateway.call(.POST, "/v1/checkins", body: body).code == "invalid_state")
        }
    }

    @Test func checkinNamingUnknownOrMismatchedVMsIsVMNotFound() async throws {
        try await withGateway { gateway async throws in
            let vms = try await gateway.createVMs(2)
            let first = vms[0]["vm_id"] as! String, secondIP = vms[1]["ip"] as! String
            for body in [
                #"{"vm_id": "\#(UUID().uuidString)"}"#, #"{"ip": "8.8.8.8"}"#,
                #"{"vm_id": "\#(first)", "ip": "\#(secondIP)"}"#,
            ] {
                let response = try await gateway.call(.POST, "/v1/checkins", body: body)
                #expect(response.status == 404)
                #expect(response.code == "vm_not_found")
                #expect(response.message == "Could not find a vm with given details")
            }
        }
    }

    @Test func mineListsOnlyTheCallersVMs() async throws {
        try await withGateway { gateway async throws in
            try await gateway.createVMs(3)
            let alice = try await gateway.createUser("alice", quota: 2)
            let bob = try await gateway.createUser("bob", quota: 2)
            #expect(try await gateway.call(.GET, "/v1/vms/mine", token: alice).items?.count == 0)
            let a1 = try await gateway.call(.POST, "/v1/checkouts", token: alice)["vm_id"]!
            let a2 = try await gateway.call(.POST, "/v1/checkouts", token: alice)["vm_id"]!
            _ = try await gateway.call(.POST, "/v1/checkouts", token: bob)
            let mine = try await gateway.call(.GET, "/v1/vms/mine", token: alice)
            #expect(mine.status == 200)
            #expect(Set(mine.items?.compactMap { $0["vm_id"] as? String } ?? []) == [a1, a2])
        }
    }

    @Test func getVMAndStatusAreForTheHolderAndAdminsOnly() async throws {
        try await withGateway { gateway async throws in
            try await gateway.createVMs(1)
            let alice = try await gateway.createUser("alice", quota: 1)
            let bob = try await gateway.createUser("bob", quota: 1)
            let id = try await gateway.call(.POST, "/v1/checkouts", token: alice)["vm_id"]!
            let own = try await gateway.call(.GET, "/v1/vms/\(id)", token: alice)
            #expect(own.status == 200)
            #expect(own["vm_id"] == id)
            let status = try await gateway.call(.GET, "/v1/vms/\(id)/status", token: alice)
            #expect(status.status == 200)
            #expect(status.data?.keys.sorted() == ["status", "vm_id"])
            #expect(status["status"] == "checked-out")
            #expect(try await gateway.call(.GET, "/v1/vms/\(id)").status == 200)
            for path in ["/v1/vms/\(id)", "/v1/vms/\(id)/status"] {
                let other = try await gateway.call(.GET, path, token: bob)
                #expect(other.status == 404)
                #expect(other.code == "vm_not_found")
            }
            #expect(try await gateway.call(.GET, "/v1/vms/\(id)/status")["status"] == "checked-out")
            // an available VM is no one's: a user who does not hold it gets 404 too
            let free = try #require(try await gateway.createVMs(1).first?["vm_id"] as? String)
            #expect(try await gateway.call(.GET, "/v1/vms/\(free)", token: bob).status == 404)
            #expect(try await gateway.call(.GET, "/v1/vms/\(free)")["status"] == "available")
        }
    }

    @Test func aMalformedVMIdIs400AndAnUnknownOneIs404() async throws {
        try await withGateway { gateway async throws in
            let malformed = try await gateway.call(.GET, "/v1/vms/not-a-uuid")
            #expect(malformed.status == 400)
            #expect(malformed.code == "bad_request")
            let unknown = try await gateway.call(.GET, "/v1/vms/\(UUID().uuidString)/status")
            #expect(unknown.status == 404)
            #expect(unknown.code == "vm_not_found")
        }
    }

    @Test func missingOrUnknownTokensAre401() async throws {
        try await withGateway { gateway async throws in
            for token in [nil, "nope", ""] as [String?] {
                let response = try await gateway.call(.POST, "/v1/checkouts", token: token)
                #expect(response.status == 401)
                #expect(response.code == "unauthorized")
            }
            let malformed = try await gateway.call(.GET, "/v1/vms/mine", token: nil, headers: [("Authorization", "Basic abc")])
            #expect(malformed.status == 401)
        }
    }
}
