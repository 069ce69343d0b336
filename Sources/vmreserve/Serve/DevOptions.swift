import ArgumentParser
import Foundation
import RedisClient
import RedisServerProcess
import ReservationHTTP

/// Development mode: a gateway for one person on their own machine.
struct DevOptions: ParsableArguments {
    @Flag(help: "Development mode: loopback only; requests without a token act as the 'anonymous' admin; starts a local redis-server if none answers.")
    var dev = false
    @Option(help: "Where dev mode's redis-server keeps its files.") var dataDir = ".vmreserve-data"

    func apply(to configuration: inout GatewayConfiguration) throws {
        configuration.devMode = dev
        if dev, !["127.0.0.1", "localhost", "::1"].contains(configuration.host) {
            throw ValidationError("--dev serves tokenless requests as an admin, so it only binds a loopback address")
        }
    }

    /// In dev mode, a redis-server child with append-only persistence when nothing answers at a
    /// loopback Redis URL.
    func startLocalRedisIfNeeded(url: RedisURL) async throws -> RedisServerProcess? {
        guard dev, url.socketPath == nil, ["127.0.0.1", "localhost"].contains(url.host), !acceptsConnections(port: url.port) else {
            return nil
        }
        let directory = URL(fileURLWithPath: dataDir)
        let server = try await RedisServerProcess.start(
            port: url.port, dataDirectory: directory, persistent: true, password: url.password, ownProcessGroup: true
        )
        FileHandle.standardError.write(Data("vmreserve: started redis-server on 127.0.0.1:\(url.port) with its data in \(directory.path)\n".utf8))
        return server
    }
}
