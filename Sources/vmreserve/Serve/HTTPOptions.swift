import ArgumentParser
import ReservationHTTP

/// Where the gateway listens, and whether over HTTPS.
struct HTTPOptions: ParsableArguments {
    @Option(help: "Address to listen on.") var host = GatewayConfiguration.defaults.host
    @Option(help: "Port to listen on.") var port = GatewayConfiguration.defaults.port
    @Option(help: "Serve HTTPS (only) on --port with this PEM certificate (its chain may follow it in the file). Read again within a few seconds when it changes: new connections get the new certificate, no restart. Needs --tls-key.")
    var tlsCert: String?
    @Option(help: "PEM file of the private key of --tls-cert.")
    var tlsKey: String?
    @Flag(help: "With --tls-cert, offer HTTP/2 too, by ALPN, to clients that ask. Off by default: measured, it costs the gateway about twice the CPU per request of HTTP/1.1 (BENCHMARKS.md).")
    var http2 = false

    func apply(to configuration: inout GatewayConfiguration) throws {
        configuration.host = host
        configuration.port = try OptionChecks.within(port, 0...65535, "port")
        try OptionChecks.together(["tls-cert": tlsCert != nil, "tls-key": tlsKey != nil])
        if http2, tlsCert == nil { throw ValidationError("--http2 needs --tls-cert and --tls-key (HTTP/2 is offered by ALPN, in TLS)") }
        configuration.http2 = http2
        if let tlsCert, let tlsKey {
            do {
                configuration.serverCertificate = try ServerCertificate(certificateFile: tlsCert, keyFile: tlsKey)
            } catch {
                throw ValidationError("--tls-cert/--tls-key: \(error)")
            }
        }
    }
}
