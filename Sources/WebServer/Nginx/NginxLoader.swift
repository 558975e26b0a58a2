import OriginAuditCore

/// Loads nginx configurations into the shared model.
public enum NginxLoader {
    /// Reads `hostPath` (nginx.conf, an `nginx -T` dump, or a lone fragment) and builds the model.
    public static func load(hostPath: String, role: ConfigRole, tree: SourceTree) -> LoadResult<WebServerConfig> {
        let config = NginxConfigReader.read(hostPath: hostPath, role: role, tree: tree)
        let display = tree.displayPath(hostPath)
        var files: [String] = []
        var seen = Set<String>()
        for file in config.files where file.isRead && seen.insert(file.display).inserted { files.append(file.display) }
        return LoadResult(model: WebServerConfig(software: .nginx, mainFile: display, files: files),
                          findings: config.findings, notes: config.notes, files: files)
    }
}
