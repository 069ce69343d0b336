import Foundation
import PackagePlugin

/// Embeds files of the package into a target as Swift string constants, so the binary carries
/// them wherever it is installed and the files stay their only source: `lua/*.lua` into
/// Reservations (`EmbeddedLua`), `docs/openapi.json` and the web console's `console/*` into
/// ReservationHTTP (`EmbeddedDocuments`).
@main
struct EmbedFilesPlugin: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: Target) throws -> [Command] {
        let package = context.package.directoryURL
        let (enumName, files): (String, [(name: String, url: URL)])
        switch target.name {
        case "Reservations":
            // the scripts by their names, their helpers as lib/<name>
            enumName = "EmbeddedLua"
            files = try Self.files(in: package.appending(path: "lua"), extension: "lua", prefix: "")
                + Self.files(in: package.appending(path: "lua/lib"), extension: "lua", prefix: "lib/")
        case "ReservationHTTP":
            enumName = "EmbeddedDocuments"
            files = [(name: "openapi", url: package.appending(path: "docs/openapi.json"))]
                + (try Self.files(in: package.appending(path: "console"), extension: nil, prefix: ""))
        default:
            Diagnostics.error("EmbedFilesPlugin does not know what to embed into \(target.name)")
            return []
        }
        let sorted = files.sorted { $0.name < $1.name }
        let output = context.pluginWorkDirectoryURL.appending(path: enumName + ".swift")
        return [
            .buildCommand(
                displayName: "Embedding \(sorted.count) files as \(enumName)",
                executable: try context.tool(named: "EmbedFiles").url,
                arguments: [output.path, enumName] + sorted.map { "\($0.name)=\($0.url.path)" },
                inputFiles: sorted.map(\.url),
                outputFiles: [output]
            ),
        ]
    }

    /// The files of a folder (of one extension, when given), each named by its prefix and its
    /// name without extension.
    private static func files(in folder: URL, extension: String?, prefix: String) throws -> [(name: String, url: URL)] {
        try FileManager.default.contentsOfDirectory(at: folder, includingPropertiesForKeys: nil)
            .filter { url in `extension`.map { url.pathExtension == $0 } ?? !url.hasDirectoryPath }
            .map { (name: prefix + $0.deletingPathExtension().lastPathComponent, url: $0) }
    }
}
