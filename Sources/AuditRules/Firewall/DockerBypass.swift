import OriginAuditCore
import Firewall

/// firewall.docker-bypass: a DNAT rule (Docker's published ports) sends traffic to the forward
/// hook, past every INPUT rule; reported when sources outside the CDN get through that way.
struct DockerBypass: AuditRule {
    let id = "firewall.docker-bypass"

    func check(_ model: OriginModel, profile: Profile) -> [Finding] {
        let firewall = model.firewall
        var others = DualStackSet()
        for family in AddressFamily.allCases where firewall.families.contains(family) {
            others[family] = profile.cdn.ranges[family].complement()
        }
        guard !others.isEmpty else { return [] }
        // Every port a DNAT rule may apply to, not only the CDN's: a published database is a bypass too.
        var ports = PortSet()
        for table in firewall.tables {
            for chain in table.chains {
                for rule in chain.rules {
                    guard case .dnat = rule.action else { continue }
                    var rulePorts = PortSet(1...UInt16.max)
                    for match in rule.matches {
                        if case .port(.destination, let set, let negated) = match { rulePorts.formIntersection(negated ? set.complement() : set) }
                    }
                    ports.formUnion(rulePorts)
                }
            }
        }
        guard !ports.isEmpty else { return [] }
        let parts = FirewallCheck.evaluator(model, profile).evaluate(sources: others, ports: ports)
            .filter { $0.decision.dnat != nil && $0.decision.outcome.possiblyAccepted }
        var groups: [(dnat: RuleReference, family: AddressFamily, ports: PortSet, decision: Decision, sources: AddressSet)] = []
        for part in parts {
            let dnat = part.decision.dnat!
            if let index = groups.firstIndex(where: { $0.dnat == dnat && $0.family == part.family }) {
                groups[index].ports.formUnion(part.ports)
                groups[index].sources.formUnion(part.sources)
            } else {
                groups.append((dnat, part.family, part.ports, part.decision, part.sources))
            }
        }
        return groups.map { group in
            let who = group.sources == others[group.family] ? "every source outside the CDN" : "sources outside the CDN (\(group.sources.summary(limit: 3)))"
            return Finding(
                ruleId: id,
                message: "\(FirewallCheck.portText(group.ports)) is DNAT'd to a container by \(FirewallCheck.describe(group.dnat)), so INPUT rules never see it: for \(who) the outcome is \(group.decision.outcome), decided by \(FirewallCheck.describe(group.decision.decidedBy)). Filter published ports in DOCKER-USER, or publish them on 127.0.0.1 only",
                location: group.dnat.location,
                related: [RelatedLocation(group.decision.decidedBy.location, "forward path: \(group.decision.decidedBy.chain): \(group.decision.decidedBy.text)")],
                key: "\(group.family == .ipv4 ? "v4" : "v6") \(group.dnat.text)")
        }
    }
}
