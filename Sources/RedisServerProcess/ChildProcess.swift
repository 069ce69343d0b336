import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A program started with `posix_spawnp`, with no blocked signals and default signal handlers
/// whatever this process blocks or ignores (so SIGTERM reaches it), reaped by `isRunning`.
public final class ChildProcess: Sendable {
    public let pid: pid_t
    private let exitStatus = Mutex<Int32?>(nil)

    /// Starts `arguments[0]`, found on PATH, with the rest as its arguments.
    /// - Parameters:
    ///   - environment: extra variables, added to this process' own (or to none).
    ///   - inheritEnvironment: false starts the child with `environment` alone, so that nothing
    ///     of this process' (a token in a variable, say) reaches it.
    ///   - ownProcessGroup: true puts the child in a process group of its own, so that a Ctrl-C
    ///     at the terminal reaches this process only, which then stops the child in its own time.
    ///   - output: a file that receives the child's standard output and error; nil inherits them.
    public init(
        _ arguments: [String], environment: [String: String] = [:], inheritEnvironment: Bool = true,
        ownProcessGroup: Bool = false, output: URL? = nil
    ) throws {
        var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        let inherited = inheritEnvironment ? ProcessInfo.processInfo.environment : [:]
        let variables = inherited.merging(environment) { _, new in new }
        var envp: [UnsafeMutablePointer<CChar>?] = variables.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { envp.forEach { free($0) } }

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        var allSignals = sigset_t()
        sigfillset(&allSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        posix_spawnattr_setsigdefault(&attributes, &allSignals)
        var flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF
        if ownProcessGroup {
            posix_spawnattr_setpgroup(&attributes, 0)
            flags |= POSIX_SPAWN_SETPGROUP
        }
        posix_spawnattr_setflags(&attributes, Int16(flags))

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        if let output {
            posix_spawn_file_actions_addopen(&actions, 1, output.path, O_WRONLY | O_CREAT | O_APPEND, 0o644)
            posix_spawn_file_actions_adddup2(&actions, 1, 2)
        }

        var pid: pid_t = 0
        let result = posix_spawnp(&pid, arguments[0], &actions, &attributes, &argv, &envp)
        guard result == 0 else {
            throw RedisServerError("cannot start \(arguments[0]) (is it installed?): \(String(cString: strerror(result)))")
        }
        self.pid = pid
    }

    /// False once the process has exited (and been reaped).
    public var isRunning: Bool { exitCode == nil }

    /// The exit code once the process has exited (128 + n after signal n), else nil.
    public var exitCode: Int32? {
        exitStatus.withLock { exitStatus in
            if exitStatus == nil {
                var status: Int32 = 0
                let result = waitpid(pid, &status, WNOHANG)
                if result == pid {
                    let signal = status & 0x7F
                    exitStatus = signal == 0 ? (status >> 8) & 0xFF : 128 + signal
                } else if result == -1 && errno == ECHILD {
                    exitStatus = -1  // reaped elsewhere: gone, status unknown
                }
            }
            return exitStatus
        }
    }

    public func signal(_ signal: Int32) {
        guard isRunning else { return }
        kill(pid, signal)
    }

    /// Sends `signal` (after SIGCONT, in case the process is stopped) and waits for the exit.
    @discardableResult
    public func terminate(with signal: Int32 = SIGTERM) async -> Int32 {
        if isRunning {
            kill(pid, SIGCONT)
            kill(pid, signal)
        }
        return await waitForExit()
    }

    /// Waits for the exit and returns the exit code.
    public func waitForExit() async -> Int32 {
        while true {
            if let code = exitCode { return code }
            try? await Task.sleep(for: .milliseconds(10))
        }
    }
}
