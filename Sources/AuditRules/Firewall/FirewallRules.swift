/// The firewall.* rules (DESIGN.md §5).
public enum FirewallRules {
    public static let all: [any AuditRule] = [
        CDNDropped(), CDNRejected(), CDNRateLimited(), CDNAllowShadowed(), OriginExposed(),
        StaleCDNRanges(), SetUnresolved(), UnknownMatch(), IPv6Unfiltered(), DockerBypass(),
    ]
}
