import ArgumentParser
import ReservationHTTP

/// Where the gateway listens.
struct HTTPOptions: ParsableArguments {
    @Option(help: "Address to listen on.") var host = GatewayConfiguration.defaults.host
    @Option(help: "Port to listen on.") var port = GatewayConfiguration.defaults.port

    func apply(to configuration: inout GatewayConfiguration) throws {
        configuration.host = host
        configuration.port = try OptionChecks.within(port, 0...65535, "port")
    }
}
