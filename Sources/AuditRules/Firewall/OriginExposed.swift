import OriginAuditCore
import Firewall

/// firewall.origin-exposed: sources outside the CDN's ranges can reach the web ports, so
/// visitors (and attackers) can bypass the CDN. Only definite accepts count: "others are
/// blocked" is judged under the optimistic reading of unknown matches (DESIGN.md §3). An accept
/// behind a rate limit (`ufw limit`) still admits every source: it counts, and the message says so.
struct OriginExposed: AuditRule {
    let id = "firewall.origin-exposed"

    func check(_ model: OriginModel, profile: Profile) -> [Finding] {
        guard !profile.cdn.ranges.isEmpty else { return [] }
        let others = FirewallCheck.otherSources(model.firewall, profile)
        guard !others.isEmpty else { return [] }
        let parts = FirewallCheck.otherParts(model, profile)
            .filter { $0.decision.outcome.certainlyAccepted || ($0.decision.outcome.kind == .rateLimited && $0.decision.outcome.possible.contains(.accept)) }
        return FirewallCheck.grouped(parts).map { group in
            let everyone = group.sources == others[group.family]
            let who = everyone ? "every non-\(FirewallCheck.cdnName(profile)) \(FirewallCheck.familyName(group.family)) address"
                : "non-\(FirewallCheck.cdnName(profile)) \(FirewallCheck.familyName(group.family)) addresses \(group.sources.summary(limit: 4))"
            let limited = group.decision.outcome.kind == .rateLimited
            return Finding(
                ruleId: id,
                message: limited
                    ? "\(who) can connect to \(FirewallCheck.portText(group.ports)) directly while under the rate limit at \(FirewallCheck.describe(group.decision.decidedBy)) (a limit slows a visitor, it does not keep anyone out): the origin can be reached without the CDN"
                    : "\(who) can connect to \(FirewallCheck.portText(group.ports)) directly, accepted by \(FirewallCheck.describe(group.decision.decidedBy)): the origin can be reached without the CDN",
                location: group.decision.decidedBy.location,
                related: FirewallCheck.related(group.decision),
                key: "\(group.family == .ipv4 ? "v4" : "v6") \(group.decision.decidedBy.chain) \(group.decision.decidedBy.text) tcp/\(group.ports.portList)")
        }
    }
}
