/// The tls.* rules (DESIGN.md §5).
public enum CertificateRules {
    public static let all: [any AuditRule] = []
}
