import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A program started with `posix_spawnp`, with no blocked signals and default signal handlers
/// whatever this process blocks or ignores (so SIGTERM reaches it), reaped by `isRunning`.
///
/// The child gets nothing of this process but what is asked for: standard input is /dev/null
/// (or `input`), standard output and error go where `output` and `errors` say (nowhere by
/// default), and every other descriptor is closed, so that a child that outlives its purpose cannot hold this process'
/// output, sockets or pipes open.
public final class ChildProcess: Sendable {
    /// Where the child's standard output and standard error go.
    public enum Output: Sendable {
        /// /dev/null.
        case discard
        /// Appended to this file, created if missing.
        case file(URL)
        /// This open descriptor of this process (a pipe's write end, say).
        case descriptor(Int32)
    }

    public let pid: pid_t
    private let state: Mutex<State>

    private struct State {
        var exitCode: Int32?
        /// This process' end of the watchdog's socket, until the child has exited.
        var watchdog: Int32?
    }

    /// Starts `arguments[0]`, found on PATH, with the rest as its arguments.
    /// - Parameters:
    ///   - environment: extra variables, added to this process' own (or to none).
    ///   - inheritEnvironment: false starts the child with `environment` alone, so that nothing
    ///     of this process' (a token in a variable, say) reaches it.
    ///   - ownProcessGroup: true puts the child in a process group of its own, so that a Ctrl-C
    ///     at the terminal reaches this process only, which then stops the child in its own time.
    ///   - input: a descriptor of this process (a pipe's read end, say) for the child's standard
    ///     input; nil: /dev/null.
    ///   - output: where the child's standard output goes, and its standard error too unless
    ///     `errors` says otherwise.
    ///   - stopsWithThisProcess: true starts a watchdog (a small `sh`) that stops the child
    ///     (SIGTERM, then SIGKILL 10 s later) if this process ends first in any way, a crash or a
    ///     SIGKILL included, before it has seen the child exit.
    public init(
        _ arguments: [String], environment: [String: String] = [:], inheritEnvironment: Bool = true,
        ownProcessGroup: Bool = false, input: Int32? = nil, output: Output = .discard, errors: Output? = nil,
        stopsWithThisProcess: Bool = false
    ) throws {
        let inherited = inheritEnvironment ? ProcessInfo.processInfo.environment : [:]
        let variables = inherited.merging(environment) { _, new in new }
        let pid = try Self.spawn(arguments, environment: variables, ownProcessGroup: ownProcessGroup, output: output,
                                 errors: errors ?? output, standardInput: input)
        self.pid = pid
        var watchdog: Int32?
        if stopsWithThisProcess {
            do {
                watchdog = try Self.startWatchdog(for: pid)
            } catch {
                kill(pid, SIGKILL)
                _ = Self.reap(pid)
                throw error
            }
        }
        state = Mutex(State(exitCode: nil, watchdog: watchdog))
    }

    /// False once the process has exited (and been reaped).
    public var isRunning: Bool { exitCode == nil }

    /// The exit code once the process has exited (128 + n after signal n), else nil.
    public var exitCode: Int32? {
        state.withLock { state in
            if state.exitCode == nil {
                // Seen exited but not yet reaped, so its pid cannot be reused while the watchdog
                // learns that it has nothing left to do.
                var info = siginfo_t()
                let seen = waitid(P_PID, id_t(pid), &info, WEXITED | WNOHANG | WNOWAIT)
                if seen == 0 && info._sifields._sigchld.si_pid == pid {
                    if let watchdog = state.watchdog {
                        _ = send(watchdog, "done\n", 5, Int32(MSG_NOSIGNAL))  // no SIGPIPE if it is gone
                        close(watchdog)
                        state.watchdog = nil
                    }
                    state.exitCode = Self.reap(pid)
                } else if seen == -1 && errno == ECHILD {
                    state.exitCode = -1  // reaped elsewhere: gone, status unknown
                }
            }
            return state.exitCode
        }
    }

    public func signal(_ signal: Int32) {
        guard isRunning else { return }
        kill(pid, signal)
    }

    /// Sends `signal` to the child's whole process group (a child started with `ownProcessGroup`),
    /// so that what it started stops with it.
    public func signalGroup(_ signal: Int32) {
        guard isRunning else { return }
        kill(-pid, signal)
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

    /// Waits for the exit and returns the exit code, also in a cancelled task.
    public func waitForExit() async -> Int32 {
        while true {
            if let code = exitCode { return code }
            if Task.isCancelled {
                usleep(5_000)
            } else {
                try? await Task.sleep(for: .milliseconds(10))
            }
        }
    }

    // MARK: Starting processes

    private static func spawn(
        _ arguments: [String], environment: [String: String], ownProcessGroup: Bool, output: Output, errors: Output,
        standardInput: Int32?
    ) throws -> pid_t {
        var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var envp: [UnsafeMutablePointer<CChar>?] = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
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
        if let standardInput {
            posix_spawn_file_actions_adddup2(&actions, standardInput, 0)
        } else {
            posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        }
        for (target, destination) in [(Int32(1), output), (2, errors)] {
            switch destination {
            case .discard:
                posix_spawn_file_actions_addopen(&actions, target, "/dev/null", O_WRONLY, 0)
            case .file(let url):
                posix_spawn_file_actions_addopen(&actions, target, url.path, O_WRONLY | O_CREAT | O_APPEND, 0o644)
            case .descriptor(let descriptor):
                posix_spawn_file_actions_adddup2(&actions, descriptor, target)
            }
        }
        guard closeFrom(&actions, 3) == 0 else { throw ProcessError("cannot arrange the child's descriptors") }

        var pid: pid_t = 0
        var result = posix_spawnp(&pid, arguments[0], &actions, &attributes, &argv, &envp)
        // ETXTBSY: a program just written can still be open for writing in a child that another
        // thread is starting at this moment (until that child's exec closes it); try again shortly
        for _ in 0..<20 where result == ETXTBSY {
            usleep(10_000)
            result = posix_spawnp(&pid, arguments[0], &actions, &attributes, &argv, &envp)
        }
        guard result == 0 else {
            throw ProcessError("cannot start \(arguments[0]) (is it installed?): \(String(cString: strerror(result)))")
        }
        return pid
    }

    /// glibc's `posix_spawn_file_actions_addclosefrom_np` (2.34 and later), which its header
    /// declares only for _GNU_SOURCE, so Swift's Glibc module does not show it.
    private static let closeFrom: @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32 = {
        guard let symbol = dlsym(nil, "posix_spawn_file_actions_addclosefrom_np") else {
            fatalError("glibc 2.34 or later is required (posix_spawn_file_actions_addclosefrom_np)")
        }
        return unsafeBitCast(symbol, to: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32).self)
    }()

    /// The watchdog reads a socket whose other end only this process holds (close-on-exec, so no
    /// other child inherits it). "done" means the child exited and was seen to: it leaves
    /// quietly. End of file without it means this process is gone: it stops the child. It runs
    /// detached (its first shell exits at once and is reaped here), so nothing waits for it.
    /// Answers this process' end.
    private static func startWatchdog(for child: pid_t) throws -> Int32 {
        var ends: [Int32] = [0, 0]
        guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &ends) == 0 else {
            throw ProcessError("socketpair() failed")
        }
        defer { close(ends[0]) }
        // (a background job's standard input is /dev/null, hence the socket's copy on fd 3)
        let script = """
            exec 3<&0
            (
              read -r line <&3 && [ "$line" = done ] && exit 0
              kill -TERM "$1"; kill -CONT "$1"
              i=0; while kill -0 "$1" && [ $i -lt 50 ]; do sleep 0.2; i=$((i+1)); done
              kill -KILL "$1"
            ) 2>/dev/null &
            """
        do {
            let shell = try spawn(["/bin/sh", "-c", script, "vmreserve-watchdog", String(child)], environment: [:],
                                  ownProcessGroup: true, output: .discard, errors: .discard, standardInput: ends[0])
            _ = reap(shell)
        } catch {
            close(ends[1])
            throw error
        }
        return ends[1]
    }

    /// Waits for `pid` and answers its exit code (128 + n after signal n).
    private static func reap(_ pid: pid_t) -> Int32 {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) == -1 {
            guard errno == EINTR else { return -1 }
        }
        let signal = status & 0x7F
        return signal == 0 ? (status >> 8) & 0xFF : 128 + signal
    }
}

/// Why a child could not be started.
public struct ProcessError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
