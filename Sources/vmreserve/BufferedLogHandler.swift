import Foundation
import Logging
import ServiceLifecycle

#if canImport(Glibc)
import Glibc
#endif

/// Log lines gathered in memory and written to standard output in batches by a thread of its
/// own: every 100 ms, as soon as 64 KiB are waiting or a warning (or worse) arrives, and at
/// shutdown. Logging never writes on a request's thread or an event loop, so a standard output
/// that stalls (a paused pipe, a slow log shipper) cannot stall the server: past 8 MiB waiting,
/// lines are dropped and counted, and the count is written once output moves again. A crash can
/// lose at most the last 100 ms of info lines.
final class LogOutput: Service, @unchecked Sendable {
    private static let batchSize = 64 * 1024
    private static let limit = 8 * 1024 * 1024

    // Everything below is guarded by `condition`.
    private let condition = NSCondition()
    private var pending: [UInt8] = []
    private var writeSoon = false
    private var dropped = 0
    private var stopping = false
    private var writerDone = false

    init() {
        Thread.detachNewThread { [self] in writeUntilStopped() }
    }

    func append(_ line: String, urgent: Bool) {
        condition.lock()
        defer { condition.unlock() }
        if writerDone {  // after shutdown: nothing else is running, write at once
            Self.write(Array(line.utf8))
            return
        }
        if pending.count + line.utf8.count > Self.limit {
            dropped += 1
            return
        }
        pending.append(contentsOf: line.utf8)
        if urgent || pending.count >= Self.batchSize {
            writeSoon = true
            condition.signal()
        }
    }

    /// Waits for a graceful shutdown (or cancellation), then for the writer's last batch: at
    /// most a second, so that a standard output that is stuck cannot keep the server alive.
    func run() async throws {
        try? await gracefulShutdown()
        stop()
        for _ in 0..<100 where !isWriterDone {
            try? await Task.sleep(for: .milliseconds(10))
        }
    }

    private func stop() {
        condition.lock()
        stopping = true
        condition.signal()
        condition.unlock()
    }

    private var isWriterDone: Bool {
        condition.lock()
        defer { condition.unlock() }
        return writerDone
    }

    private func writeUntilStopped() {
        condition.lock()
        while true {
            if !writeSoon && !stopping {
                _ = condition.wait(until: Date(timeIntervalSinceNow: 0.1))
            }
            var batch = pending
            pending.removeAll(keepingCapacity: true)
            if dropped > 0 {
                batch += Array("\(dropped) log lines dropped: standard output did not keep up\n".utf8)
                dropped = 0
            }
            writeSoon = false
            let last = stopping
            condition.unlock()
            Self.write(batch)
            condition.lock()
            if last && pending.isEmpty { break }
        }
        writerDone = true
        condition.unlock()
    }

    private static func write(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let written = Glibc.write(STDOUT_FILENO, buffer.baseAddress! + offset, buffer.count - offset)
                if written <= 0 {
                    if written < 0 && errno == EINTR { continue }
                    return
                }
                offset += written
            }
        }
    }
}

/// Log lines written to a `LogOutput`: swift-log's line format (`time level label: key=value
/// [source] message`), or one JSON object a line (`time`, `level`, `label`, `message`, `source`
/// and each metadata field, sorted by name).
struct BufferedLogHandler: LogHandler {
    let label: String
    let output: LogOutput
    var format = LogFormat.text
    var logLevel: Logger.Level = .info
    var metadata: Logger.Metadata = [:]
    var metadataProvider: Logger.MetadataProvider?

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var fields = metadata
        if let provided = metadataProvider?.get() { fields.merge(provided) { _, new in new } }
        if let given = event.metadata { fields.merge(given) { _, new in new } }
        output.append(format == .json ? jsonLine(event, fields) : textLine(event, fields), urgent: event.level >= .warning)
    }

    private func textLine(_ event: LogEvent, _ fields: Logger.Metadata) -> String {
        let rendered = fields.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        return "\(Self.timestamp()) \(event.level) \(label):\(rendered.isEmpty ? "" : " " + rendered) [\(event.source)] \(event.message)\n"
    }

    private func jsonLine(_ event: LogEvent, _ fields: Logger.Metadata) -> String {
        var object: [String: String] = fields.mapValues { "\($0)" }
        object.merge(["time": Self.timestamp(), "level": "\(event.level)", "label": label, "message": "\(event.message)",
                      "source": event.source]) { _, own in own }
        guard let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]) else {
            return textLine(event, fields)
        }
        return String(decoding: data, as: UTF8.self) + "\n"
    }

    private static func timestamp() -> String {
        var now = time(nil)
        var parts = tm()
        gmtime_r(&now, &parts)
        var text = [UInt8](repeating: 0, count: 32)
        let length = text.withUnsafeMutableBufferPointer { buffer in
            buffer.withMemoryRebound(to: CChar.self) { strftime($0.baseAddress, $0.count, "%Y-%m-%dT%H:%M:%S+0000", &parts) }
        }
        return String(decoding: text[..<length], as: UTF8.self)
    }
}
