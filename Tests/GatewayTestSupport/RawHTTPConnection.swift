import Dispatch
import TestSupport

#if canImport(Glibc)
import Glibc
#endif

/// A TCP connection to a gateway on 127.0.0.1 that sends exactly the bytes it is given: for
/// requests no HTTP client sends (a body cut short, a length that lies, nothing at all).
public final class RawHTTPConnection: @unchecked Sendable {
    private let fd: Int32

    public init(port: Int) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw TestSupportError("socket() failed") }
        var timeout = timeval(tv_sec: 60, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else {
            Glibc.close(fd)
            throw TestSupportError("connect() failed")
        }
    }

    deinit { Glibc.close(fd) }

    /// Ends the connection from this side (FIN), as a client that gives up does.
    public func close() {
        shutdown(fd, Int32(SHUT_RDWR))
    }

    public func send(_ text: String) throws {
        let bytes = Array(text.utf8)
        guard Glibc.send(fd, bytes, bytes.count, Int32(MSG_NOSIGNAL)) == bytes.count else { throw TestSupportError("send() failed") }
    }

    /// One answer: its head and a Content-Length body; "" when the gateway closes the connection
    /// first; what arrived when 60 s pass. Waits on a Dispatch thread, not the tests' own.
    public func readAnswer() async -> String {
        await withCheckedContinuation { continuation in
            DispatchQueue.global().async { continuation.resume(returning: self.receiveAnswer()) }
        }
    }

    private func receiveAnswer() -> String {
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = recv(fd, &buffer, buffer.count, 0)
            if count <= 0 { break }
            received += buffer[..<count]
            let answer = String(decoding: received, as: UTF8.self)
            if let end = answer.range(of: "\r\n\r\n") {
                let length = answer[..<end.lowerBound].split(separator: "\r\n")
                    .first { $0.lowercased().hasPrefix("content-length:") }
                    .flatMap { Int($0.split(separator: ":")[1].trimmingCharacters(in: .whitespaces)) } ?? 0
                if answer[end.upperBound...].utf8.count >= length { break }
            }
        }
        return String(decoding: received, as: UTF8.self)
    }
}
