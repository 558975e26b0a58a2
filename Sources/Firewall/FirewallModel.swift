import OriginAuditCore

/// The firewall as the kernel will run it, one ruleset per address family, from iptables-save,
/// ip6tables-save, ipset and nftables inputs alike (DESIGN.md §3). Filled in by the firewall issue.
public struct FirewallModel: Sendable {
    public init() {}
}
