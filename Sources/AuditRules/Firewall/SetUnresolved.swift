import OriginAuditCore
import Firewall

/// firewall.set-unresolved: a rule uses an ipset or nftables named set whose contents were not given.
struct SetUnresolved: AuditRule {
    let id = "firewall.set-unresolved"

    func check(_ model: OriginModel, profile: Profile) -> [Finding] {
        FirewallCheck.evaluator(model, profile).unresolvedSets().map { item in
            Finding(
                ruleId: id,
                message: "\(FirewallCheck.describe(item.rule)) uses the set '\(item.set)', whose contents were not given: what it does to CDN traffic is unknown; add the output of `ipset save` (or the nft ruleset with its sets) to the inputs",
                location: item.rule.location,
                key: "\(item.rule.chain) \(item.set)")
        }
    }
}
