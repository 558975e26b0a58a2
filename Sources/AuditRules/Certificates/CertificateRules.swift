/// The tls.* rules (DESIGN.md §5).
public enum CertificateRules {
    public static let all: [any AuditRule] = [
        CertMissingRule(),
        KeyMismatchRule(),
        KeyEncryptedRule(),
        KeyPermissionsRule(),
        ValidityRule(kind: .expired),
        ValidityRule(kind: .notYetValid),
        ValidityRule(kind: .expiring),
        HostnameRule(cnOnly: false),
        HostnameRule(cnOnly: true),
        TrustRule(kind: .selfSigned),
        TrustRule(kind: .untrustedIssuer),
        TrustRule(kind: .chainIncomplete),
        ChainMisorderedRule(),
        WeakCryptoRule(signature: false),
        WeakCryptoRule(signature: true),
        LegacyProtocolsRule(),
        NoSharedCipherRule(),
        OriginCAExposedRule(),
    ]
}
