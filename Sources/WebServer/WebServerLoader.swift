import OriginAuditCore

/// Where a web-server configuration file sits in its tree.
public enum ConfigRole: Sendable, Hashable {
    /// The main file (`nginx.conf`, `apache2.conf`, `httpd.conf`).
    case main
    /// `nginx -T` output: several files, split at `# configuration file X:` markers.
    case nginxDump
    /// A file that no main file includes (a lone `sites-enabled/example.conf`): read as if
    /// included where such files are (nginx: inside `http {}`; Apache: server config).
    case fragment
}

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
