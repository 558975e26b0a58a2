/// The origin.* rules that reason across firewall, web server and certificates (DESIGN.md §5).
public enum OriginRules {
    public static let all: [any AuditRule] = [
        RedirectLoopRule(),
        TLSListenerMissingRule(),
        HTTPListenerMissingRule(),
        UnproxiedPortRule(),
        RealIPMissingRule(),
        RealIPTrustsAnyRule(),
        RealIPIncompleteRule(),
        PerIPLimitOnCDNRule(),
        AntilorisBlocksCDNRule(),
        DenyBlocksCDNRule(),
        TimeoutExceedsCDNRule(),
        KeepAliveDisabledRule(),
        ModCloudflareRule(),
        UpstreamUnreachableRule(),
        PortNotListeningRule(),
        AOPRule(),
    ]
}
