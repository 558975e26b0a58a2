import Foundation
import PackagePlugin

/// Embeds the package's Rules/ folder into the target as generated Swift source.
@main
struct EmbedRules: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: any Target) throws -> [Command] {
        let rules = context.package.directoryURL.appending(path: "Rules")
        var inputs: [URL] = []
        if let walker = FileManager.default.enumerator(at: rules, includingPropertiesForKeys: nil) {
            for case let url as URL in walker where url.pathExtension == "yml" || url.pathExtension == "pem" {
                inputs.append(url)
            }
        }
        let output = context.pluginWorkDirectoryURL.appending(path: "EmbeddedRules.swift")
        return [
            .buildCommand(
                displayName: "Embedding Rules/ into \(target.name)",
                executable: try context.tool(named: "RulesEmbedder").url,
                arguments: [rules.path, output.path],
                inputFiles: inputs,
                outputFiles: [output]
            ),
        ]
    }
}
