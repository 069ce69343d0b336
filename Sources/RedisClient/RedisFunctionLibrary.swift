/// A library of Redis Functions (Redis 7+): Lua code that Redis compiles once, by FUNCTION LOAD,
/// and whose functions are then called by name with FCALL. Unlike EVALSHA scripts, the library's
/// shared code runs once per load rather than on every call, and Redis keeps the library in its
/// snapshots and AOF and passes it to replicas.
public struct RedisFunctionLibrary: Sendable, Hashable {
    /// The library's name (`#!lua name=`); also what FUNCTION LIST is asked for.
    public let name: String
    /// FUNCTION LOAD's argument: the `#!lua name=` line, then the code.
    public let source: String

    /// - Parameter code: Lua that calls `redis.register_function` for each function.
    public init(name: String, code: String) {
        self.name = name
        self.source = "#!lua name=\(name)\n" + code
    }
}
