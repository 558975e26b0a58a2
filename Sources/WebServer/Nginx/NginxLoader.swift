import OriginAuditCore

/// Loads nginx configurations into the shared model.
public enum NginxLoader {
    public static func load(hostPath: String, role: ConfigRole, tree: SourceTree) -> LoadResult<WebServerConfig> {
        let display = tree.displayPath(hostPath)
        return LoadResult(
            model: WebServerConfig(software: .nginx, mainFile: display),
            notes: ["the nginx parser is not implemented in this build: \(display) recognised but not analysed"],
            files: [display])
    }
}
