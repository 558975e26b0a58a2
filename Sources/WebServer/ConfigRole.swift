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
