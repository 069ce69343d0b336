import Foundation
import Logging
import ServiceLifecycle

/// Reads files again whenever one of them changes (their modification times are checked every
/// `interval`): the admin token file, the HTTPS certificate and key. A `reload` that throws leaves
/// what was read before in use, and says so in the log: the error's description only when it is
/// one of `describedErrors` (no file's contents ever reach the log).
struct FileWatcher: Service {
    /// What the files give, for the log ("the admin tokens").
    let what: String
    let paths: [String]
    let interval: Duration
    let logger: Logger
    let describedErrors: [any Error.Type]
    let reload: @Sendable () throws -> Void

    func run() async throws {
        await cancelWhenGracefulShutdown { await watch() }
    }

    private func watch() async {
        var lastModified = modificationDates()
        while !Task.isCancelled {
            try? await Task.sleep(for: interval)
            let modified = modificationDates()
            guard modified != lastModified else { continue }
            lastModified = modified
            do {
                try reload()
                logger.notice("read \(what) again from changed files", metadata: ["path": "\(paths.joined(separator: ", "))"])
            } catch {
                let described = describedErrors.contains { type(of: error) == $0 }
                logger.error("kept \(what) as before: a changed file is unusable", metadata: [
                    "path": "\(paths.joined(separator: ", "))", "error": "\(described ? "\(error)" : "cannot read it")",
                ])
            }
        }
    }

    private func modificationDates() -> [Date?] {
        paths.map { (try? FileManager.default.attributesOfItem(atPath: $0))?[.modificationDate] as? Date }
    }
}
