import OriginAuditCore
import Firewall

/// firewall.ipv6-unfiltered: IPv4 is filtered, but no IPv6 ruleset was given or IPv6 lets every
/// source in on the web ports.
struct IPv6Unfiltered: AuditRule {
    let id = "firewall.ipv6-unfiltered"

    func check(_ model: OriginModel, profile: Profile) -> [Finding] {
        let firewall = model.firewall
        guard firewall.families.contains(.ipv4) else { return [] }
        let evaluator = FirewallCheck.evaluator(model, profile)
        let ports = FirewallCheck.ports(model, profile)
        // The CDN's addresses and all others together are every IPv4 address: their two shared
        // partitions answer "is any IPv4 source not certainly accepted" without a third one.
        let v4 = (FirewallCheck.cdnParts(model, profile) + FirewallCheck.otherParts(model, profile)).filter { $0.family == .ipv4 }
        guard v4.contains(where: { !$0.decision.outcome.certainlyAccepted }) else { return [] }
        let v4Location = firewall.tables.first { $0.family.applies(to: .ipv4) }?.location
        if !firewall.families.contains(.ipv6) {
            return [Finding(
                ruleId: id,
                message: "IPv4 is filtered on \(FirewallCheck.portText(ports)), but no IPv6 ruleset was given: if the origin has an IPv6 address, every source may reach it over IPv6 (give ip6tables-save output or the nft ruleset)",
                location: v4Location, key: "no-ipv6-ruleset")]
        }
        let v6 = evaluator.evaluate(family: .ipv6, sources: .all(.ipv6), ports: ports)
        guard !v6.isEmpty, v6.allSatisfy({ $0.decision.outcome.certainlyAccepted }) else { return [] }
        let decidedBy = v6.first!.decision.decidedBy
        return [Finding(
            ruleId: id,
            message: "IPv4 is filtered, but every IPv6 source can reach \(FirewallCheck.portText(ports)) (accepted by \(FirewallCheck.describe(decidedBy))): the IPv6 ruleset is wide open",
            location: decidedBy.location,
            related: v4Location.map { [RelatedLocation($0, "the IPv4 ruleset, which does filter")] } ?? [],
            key: "ipv6-open")]
    }
}
