import OriginAuditCore
import Firewall

/// firewall.cdn-allow-shadowed: an accept rule naming CDN ranges is never reached for some of
/// them, because an earlier rule drops or rejects them.
struct CDNAllowShadowed: AuditRule {
    let id = "firewall.cdn-allow-shadowed"

    func check(_ model: OriginModel, profile: Profile) -> [Finding] {
        let sources = FirewallCheck.cdnSources(model.firewall, profile)
        guard !sources.isEmpty else { return [] }
        let shadowed = FirewallCheck.evaluator(model, profile).shadowedAccepts(sources: sources, ports: FirewallCheck.ports(model, profile))
        var merged: [ShadowedAccept] = []
        for item in shadowed {
            if let index = merged.firstIndex(where: { $0.rule == item.rule && $0.shadowedBy.decidedBy == item.shadowedBy.decidedBy && $0.sources == item.sources }) {
                merged[index].ports.formUnion(item.ports)
            } else {
                merged.append(item)
            }
        }
        return merged.map { item in
            Finding(
                ruleId: id,
                message: "the accept rule \(FirewallCheck.describe(item.rule)) is never reached by \(FirewallCheck.cdnName(profile)) \(FirewallCheck.familyName(item.family)) addresses \(item.sources.summary()) on \(FirewallCheck.portText(item.ports)): \(FirewallCheck.describe(item.shadowedBy.decidedBy)) \(item.shadowedBy.outcome) them first",
                location: item.rule.location,
                related: [RelatedLocation(item.shadowedBy.decidedBy.location, "shadowed by \(item.shadowedBy.decidedBy.chain): \(item.shadowedBy.decidedBy.text)")]
                    + item.shadowedBy.path.map { RelatedLocation($0.location, "reached through \($0.chain): \($0.text)") },
                key: "\(item.rule.chain) \(item.rule.text) " + FirewallCheck.key(item.family, item.sources, item.ports))
        }
    }
}
