import ArgumentParser
import Foundation
import Logging
import OTel
import ReservationHTTP
import ServiceLifecycle

/// What the gateway tells its operators: logs and traces.
struct ObservabilityOptions: ParsableArguments {
    @Option(help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel = GatewayConfiguration.defaults.logLevel.rawValue
    @Option(help: "text (swift-log's line), or json: one JSON object a line, with time, level, label, message, source and every metadata field (a request's method, route, status, duration_ms, caller and, with --otlp-endpoint, trace_id).")
    var logFormat = LogFormat.text
    @Option(name: .customLong("otlp-endpoint"), help: "Send traces (a span per request and per Redis call) over OTLP/HTTP to this collector, e.g. http://127.0.0.1:4318; spans go to its /v1/traces. OTEL_* variables tune the exporter (e.g. OTEL_EXPORTER_OTLP_PROTOCOL=http/json). Off by default.")
    var otlpEndpoint: String?

    func apply(to configuration: inout GatewayConfiguration) throws {
        guard let level = Logger.Level(rawValue: logLevel) else { throw ValidationError("--log-level: unknown log level '\(logLevel)'") }
        configuration.logLevel = level
        if let otlpEndpoint, URL(string: otlpEndpoint)?.scheme.map({ ["http", "https"].contains($0) }) != true {
            throw ValidationError("--otlp-endpoint must be an http or https URL, e.g. http://127.0.0.1:4318")
        }
        configuration.tracing = otlpEndpoint != nil
    }

    /// With `--otlp-endpoint`, every log line written inside a span (a request's) carries its
    /// `trace_id` and `span_id`.
    var logMetadataProvider: Logger.MetadataProvider? {
        otlpEndpoint == nil ? nil : OTel.makeLoggingMetadataProvider()
    }

    /// With `--otlp-endpoint`: OpenTelemetry traces only (our logs and metrics have their own
    /// outputs), exported over OTLP/HTTP to its /v1/traces; the service exports them while it runs.
    func bootstrapTracing() throws -> (any Service)? {
        guard let otlpEndpoint else { return nil }
        var otel = OTel.Configuration.default
        otel.serviceName = "vmreserve"
        otel.logs.enabled = false
        otel.metrics.enabled = false
        otel.traces.otlpExporter.endpoint = otlpEndpoint.hasSuffix("/") ? otlpEndpoint + "v1/traces" : otlpEndpoint + "/v1/traces"
        otel.traces.otlpExporter.protocol = .httpProtobuf
        return try OTel.bootstrap(configuration: otel)
    }
}

/// How log lines are written.
enum LogFormat: String, ExpressibleByArgument, CaseIterable, Sendable {
    case text, json
}
