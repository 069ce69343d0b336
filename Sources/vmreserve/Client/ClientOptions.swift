import ArgumentParser
import Foundation
import VMReserveClient

/// The options of every client command: which gateway, and which of its pools.
struct ClientOptions: ParsableArguments {
    @Option(help: "The gateway's URL, e.g. http://vmreserve:5000 (else VMRESERVE_SERVER, else the one `vmreserve login` stored, else http://127.0.0.1:5000).")
    var server: String?
    @Option(help: "The pool, on a gateway that serves several (else the one `vmreserve login` stored, else the gateway's first).")
    var pool: String?
    @OptionGroup var transport: TransportOptions

    /// Runs `body` with a client for the settings in force; a failure ends the command with its
    /// line on standard error and its exit code.
    func run(_ body: (VMReserveClient) async throws -> Void) async throws {
        try await ClientSettings.resolve(server: server, pool: pool, transport: transport).run(body)
    }
}

/// How the client reaches the gateway: whom it trusts for HTTPS, and whether a token may go over
/// plain http to another machine.
struct TransportOptions: ParsableArguments {
    @Option(help: "A PEM file of CAs to trust for an https:// gateway, besides the system's (a private CA); else VMRESERVE_CACERT, else the one `vmreserve login` stored.")
    var cacert: String?
    @Flag(help: "Send the token over plain http:// to a gateway that is not on this machine (anyone on the way can read it). Without it the client refuses, exit 64.")
    var allowInsecureHTTP = false
}

/// What a checkout asks for: `checkout` and `with`.
struct CheckoutOptions: ParsableArguments {
    @Option(name: .customShort("n"),
            help: ArgumentHelp("Check out this many VMs as one reservation: all of them or none, renewed and returned together.",
                               valueName: "count"))
    var count: Int?
    @Option(help: ArgumentHelp("Wait up to this many seconds for a VM when none is free (with -n: for the whole group) (0: do not wait).",
                               valueName: "seconds"))
    var wait = 0
    @Option(help: ArgumentHelp("The lease: 90s, 15m, 2h, 7d or seconds (default: the server's).", valueName: "duration"))
    var lease: LeaseDuration?
    @Option(help: "VMs of this size only (default: any size).")
    var size: String?

    func validate() throws {
        guard wait >= 0 else { throw ValidationError("--wait: a number of seconds, 0 or more") }
        guard count.map({ $0 >= 1 }) ?? true else { throw ValidationError("-n: a number of VMs, 1 or more") }
    }
}

/// `--json`: print the server's JSON instead of text.
struct OutputOptions: ParsableArguments {
    @Flag(help: "Print the server's JSON answer instead of text.")
    var json = false

    /// The answer's JSON with `--json`, else `text` of its value.
    func print<Value>(_ answer: Answer<Value>, _ text: (Value) -> String) {
        Swift.print(json ? jsonText(answer.data) : text(answer.value))
    }

    /// For a command that prints nothing when it succeeds: the answer with `--json`.
    func printJSONIfAsked<Value>(_ answer: Answer<Value>) {
        if json { Swift.print(jsonText(answer.data)) }
    }
}

/// JSON as the client prints it with `--json`: sorted keys, indented.
func jsonText(_ data: Data) -> String {
    guard let value = try? JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed]),
          let text = try? JSONSerialization.data(withJSONObject: value, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes, .fragmentsAllowed])
    else { return "null" }
    return String(decoding: text, as: UTF8.self)
}
