/// Rules about one web server's own configuration that need no firewall or certificate.
public enum WebServerRules {
    public static let all: [any AuditRule] = []
}
