import Foundation

/// Standard output and error as the client writes them.
enum Terminal {
    /// Writes `line` and a newline to standard error.
    static func error(_ line: String) {
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }

    /// Whether standard error is a terminal (a person watches it).
    static var errorIsTerminal: Bool { isatty(STDERR_FILENO) == 1 }

    /// Reads a line from standard input without echoing it when it is a terminal (a token). A
    /// Ctrl-C at the prompt gives the terminal its echo back before the process ends.
    static func readSecret(prompt: String) -> String? {
        guard isatty(STDIN_FILENO) == 1 else { return readLine(strippingNewline: true) }
        var settings = termios()
        tcgetattr(STDIN_FILENO, &settings)
        echoingTerminal = settings
        var silent = settings
        silent.c_lflag &= ~tcflag_t(ECHO)
        signal(SIGINT, restoreEchoAndStop)
        signal(SIGTERM, restoreEchoAndStop)
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &silent)
        // the prompt only once a Ctrl-C is handled: one typed at it always gives the echo back
        // (even where SIGINT was ignored until now, as a shell's `trap '' INT` leaves it)
        FileHandle.standardError.write(Data(prompt.utf8))
        defer {
            tcsetattr(STDIN_FILENO, TCSAFLUSH, &settings)
            signal(SIGINT, SIG_DFL)
            signal(SIGTERM, SIG_DFL)
            FileHandle.standardError.write(Data("\n".utf8))
        }
        return readLine(strippingNewline: true)
    }
}

/// The terminal's settings before `readSecret` turned its echo off.
nonisolated(unsafe) private var echoingTerminal = termios()

/// Gives the terminal its echo back, then ends the process as the signal would have.
private func restoreEchoAndStop(_ number: Int32) {
    tcsetattr(STDIN_FILENO, TCSAFLUSH, &echoingTerminal)
    signal(number, SIG_DFL)
    raise(number)
}

/// A spinner with the elapsed time on standard error while a checkout waits, when standard error
/// is a terminal; nothing otherwise.
final class WaitSpinner: Sendable {
    private let task: Task<Void, Never>?

    init(_ what: String) {
        guard Terminal.errorIsTerminal else {
            task = nil
            return
        }
        task = Task {
            let frames = Array("⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏")
            let started = ContinuousClock.now
            var frame = 0
            while !Task.isCancelled {
                let elapsed = Int((ContinuousClock.now - started).components.seconds)
                FileHandle.standardError.write(Data("\r\(frames[frame % frames.count]) \(what) \(Duration.text(seconds: elapsed))  ".utf8))
                frame += 1
                try? await Task.sleep(for: .milliseconds(100))
            }
        }
    }

    /// Stops the spinner and clears its line.
    func stop() async {
        guard let task else { return }
        task.cancel()
        await task.value
        FileHandle.standardError.write(Data("\r\u{1B}[K".utf8))
    }
}
