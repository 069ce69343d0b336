import AsyncHTTPClient
import GatewayTestSupport
import NIOCore
import NIOHTTP1
import Synchronization
import TestSupport

/// A request to a gateway that knows when it was written whole to the gateway's socket: on
/// loopback the gateway then holds every byte of it, so a request sent and never answered was cut
/// off inside the gateway (by a kill), not before it.
final class SentRequest: HTTPClientResponseDelegate, Sendable {
    typealias Response = APIResponse
    private struct State {
        var sentAt: ContinuousClock.Instant?
        var head: HTTPResponseHead?
        var body = ByteBuffer()
    }
    private let state = Mutex(State())
    private let request: HTTPClient.Request
    private let onSent: @Sendable () -> Void

    /// `onSent` is called once the request is written whole.
    init(_ gateway: Gateway, _ method: HTTPMethod, _ path: String, token: String, body: String?,
         onSent: @escaping @Sendable () -> Void) throws {
        var headers: HTTPHeaders = ["Authorization": "Bearer \(token)"]
        if body != nil { headers.add(name: "Content-Type", value: "application/json") }
        request = try HTTPClient.Request(url: "http://127.0.0.1:\(gateway.port)\(gateway.pathPrefix)\(path)", method: method,
                                          headers: headers, body: body.map { .string($0) })
        self.onSent = onSent
    }

    /// When the request was written whole; nil while it was not.
    var sentAt: ContinuousClock.Instant? { state.withLock { $0.sentAt } }

    /// Sends the request (once) and waits for its answer.
    func answer() async throws -> APIResponse {
        return try await testHTTPClient.execute(request: request, delegate: self, deadline: .now() + .seconds(120)).futureResult.get()
    }

    func didSendRequest(task: HTTPClient.Task<APIResponse>) {
        state.withLock { $0.sentAt = .now }
        onSent()
    }

    func didReceiveHead(task: HTTPClient.Task<APIResponse>, _ head: HTTPResponseHead) -> EventLoopFuture<Void> {
        state.withLock { $0.head = head }
        return task.eventLoop.makeSucceededVoidFuture()
    }

    func didReceiveBodyPart(task: HTTPClient.Task<APIResponse>, _ buffer: ByteBuffer) -> EventLoopFuture<Void> {
        state.withLock { state in
            var buffer = buffer
            state.body.writeBuffer(&buffer)
        }
        return task.eventLoop.makeSucceededVoidFuture()
    }

    func didFinishRequest(task: HTTPClient.Task<APIResponse>) throws -> APIResponse {
        try state.withLock { state in
            guard let head = state.head else { throw TestSupportError("an answer without a head") }
            return APIResponse(status: Int(head.status.code), headers: head.headers, text: String(buffer: state.body))
        }
    }
}
