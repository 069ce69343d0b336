import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

extension ChildProcess {
    /// What `run` got from a command.
    public struct Result: Sendable {
        /// Its standard output, at most `outputLimit` bytes of it.
        public var output: [UInt8]
        /// Its exit code (128 + n after signal n).
        public var status: Int32
        /// It ran longer than the timeout, and was killed with its process group.
        public var timedOut: Bool
    }

    /// Runs `arguments[0]` in a process group of its own, with `environment` alone, `input` on its
    /// standard input and this process' standard error as its own, and waits for it. A command
    /// still running after `timeout` is killed with everything it started (SIGKILL to its group);
    /// a cancelled task stops it the same way with SIGTERM. Its output is read on a thread of its
    /// own, so that no thread of Swift's cooperative pool waits on a command.
    public static func run(
        _ arguments: [String], environment: [String: String], input: Data, timeout: Duration, outputLimit: Int
    ) async throws -> Result {
        var inputPipe: [Int32] = [-1, -1]
        var outputPipe: [Int32] = [-1, -1]
        // (every child this process starts closes descriptors from 3 up, so none inherits these)
        guard pipe(&inputPipe) == 0 else { throw ProcessError("cannot create a pipe") }
        guard pipe(&outputPipe) == 0 else {
            close(inputPipe[0]); close(inputPipe[1])
            throw ProcessError("cannot create a pipe")
        }
        let child: ChildProcess
        do {
            child = try ChildProcess(arguments, environment: environment, inheritEnvironment: false, ownProcessGroup: true,
                                     input: inputPipe[0], output: .descriptor(outputPipe[1]), errors: .descriptor(2))
        } catch {
            for end in inputPipe + outputPipe { close(end) }
            throw error
        }
        close(inputPipe[0])
        close(outputPipe[1])
        input.withUnsafeBytes { bytes in
            var offset = 0
            while offset < bytes.count {
                let written = write(inputPipe[1], bytes.baseAddress! + offset, bytes.count - offset)
                if written > 0 { offset += written } else if written < 0 && errno == EINTR { continue } else { break }
            }
        }
        close(inputPipe[1])

        let timedOut = Atomic(false)
        let timer = Task {
            try? await Task.sleep(for: timeout)
            guard !Task.isCancelled else { return }
            timedOut.store(true, ordering: .relaxed)
            child.signalGroup(SIGKILL)
        }
        defer { timer.cancel() }
        let output = await withTaskCancellationHandler {
            await readToEnd(outputPipe[0], limit: outputLimit)
        } onCancel: {
            child.signalGroup(SIGTERM)
        }
        let status = await child.waitForExit()
        return Result(output: output, status: status, timedOut: timedOut.load(ordering: .relaxed))
    }

    /// Reads `descriptor` to its end (at most `limit` bytes kept) on a thread of its own; closes it.
    private static func readToEnd(_ descriptor: Int32, limit: Int) async -> [UInt8] {
        await withCheckedContinuation { continuation in
            let thread = Thread {
                var kept: [UInt8] = []
                var chunk = [UInt8](repeating: 0, count: 4096)
                while true {
                    let count = read(descriptor, &chunk, chunk.count)
                    if count > 0 {
                        if kept.count < limit { kept += chunk[0..<min(count, limit - kept.count)] }
                    } else if count < 0 && errno == EINTR {
                        continue
                    } else {
                        break
                    }
                }
                close(descriptor)
                continuation.resume(returning: kept)
            }
            thread.start()
        }
    }
}
