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
        let (enumName, files): (String, [URL])
        switch target.name {
        case "Reservations":
            enumName = "EmbeddedLua"
            files = try FileManager.default.contentsOfDirectory(at: package.appending(path: "lua"), includingPropertiesForKeys: nil)
                .filter { $0.pathExtension == "lua" }
        case "ReservationHTTP":
            enumName = "EmbeddedDocuments"
            files = [package.appending(path: "docs/openapi.json")]
                + (try FileManager.default.contentsOfDirectory(at: package.appending(path: "console"), includingPropertiesForKeys: nil))
        default:
            Diagnostics.error("EmbedFilesPlugin does not know what to embed into \(target.name)")
            return []
        }
        let sorted = files.sorted { $0.lastPathComponent < $1.lastPathComponent }
        let output = context.pluginWorkDirectoryURL.appending(path: enumName + ".swift")
        return [
            .buildCommand(
                displayName: "Embedding \(sorted.count) files as \(enumName)",
                executable: try context.tool(named: "EmbedFiles").url,
                arguments: [output.path, enumName] + sorted.map(\.path),
                inputFiles: sorted,
                outputFiles: [output]
            ),
        ]
    }
}
