import OriginAuditCore

/// Loads Apache httpd configurations into the shared model.
public enum ApacheLoader {
    /// `defines`: `-D` names (`--define`); `environment`: variables for `${VAR}` besides Define
    /// (Debian's envvars are read by the loader itself when present).
    public static func load(hostPath: String, role: ConfigRole, tree: SourceTree, defines: [String] = [],
                            environment: [String: String] = [:]) -> LoadResult<WebServerConfig> {
        let display = tree.displayPath(hostPath)
        return LoadResult(
            model: WebServerConfig(software: .apache, mainFile: display),
            notes: ["the Apache parser is not implemented in this build: \(display) recognised but not analysed"],
            files: [display])
    }
}
