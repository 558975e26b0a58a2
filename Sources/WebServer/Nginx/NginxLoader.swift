import OriginAuditCore

/// Loads nginx configurations into the shared model.
public enum NginxLoader {
    /// Reads `hostPath` (nginx.conf, an `nginx -T` dump, or a lone fragment read as if included
    /// inside `http {}`) and builds the model. Never throws: problems are findings, limits are notes.
    public static func load(hostPath: String, role: ConfigRole, tree: SourceTree) -> LoadResult<WebServerConfig> {
        let config = NginxConfigReader.read(hostPath: hostPath, role: role, tree: tree)
        let display = tree.displayPath(hostPath)
        var builder = NginxModelBuilder(config: config, sourceTree: tree)
        var model = builder.build(mainFile: display, fragment: role == .fragment)
        var files: [String] = []
        var seen = Set<String>()
        for file in config.files where file.isRead && seen.insert(file.display).inserted { files.append(file.display) }
        model.files = files
        let directives = NginxDirectiveCheck.check(config, fragment: role == .fragment)
        return LoadResult(model: model, findings: config.findings + builder.findings + directives.findings,
                          notes: config.notes + builder.notes + directives.notes, files: files)
    }
}
