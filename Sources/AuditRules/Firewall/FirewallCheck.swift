import OriginAuditCore
import Firewall

/// What the firewall rules share: the ports checked, the CDN's partition, grouping and wording.
enum FirewallCheck {
    /// The ports the CDN will connect to: the mode's (flexible 80; full/strict 80 and 443;
    /// origin-pull 443) plus the other proxied ports the web servers listen on.
    static func ports(_ model: OriginModel, _ profile: Profile) -> PortSet {
        let ports = OriginContext.cdnPorts(model, profile)
        return ports.http.union(ports.https)
    }

    static func familyName(_ family: AddressFamily) -> String { family == .ipv4 ? "IPv4" : "IPv6" }

    /// The CDN's ranges for the families that have a ruleset (a missing family is ipv6-unfiltered's concern).
    static func cdnSources(_ model: FirewallModel, _ profile: Profile) -> DualStackSet {
        var sources = DualStackSet()
        for family in AddressFamily.allCases where model.families.contains(family) { sources[family] = profile.cdn.ranges[family] }
        return sources
    }

    /// The one evaluator of a run: the rules share it, so each base chain is flattened and swept
    /// once per port and interface class whichever rules ask.
    static func evaluator(_ model: OriginModel, _ profile: Profile) -> FirewallEvaluator {
        model.derived.value("firewall evaluator \(profile.publicInterfaces) \(profile.originAddresses)") {
            FirewallEvaluator(model: model.firewall, publicInterfaces: profile.publicInterfaces, originAddresses: profile.originAddresses)
        }
    }

    /// The partition of CDN sources × checked ports.
    /// Four rules read it: evaluated once per model and profile.
    static func cdnParts(_ model: OriginModel, _ profile: Profile) -> [OutcomePart] {
        sharedParts(model, profile, "cdn parts", sources: cdnSources(model.firewall, profile))
    }

    /// The addresses outside the CDN's ranges, for the families that have a ruleset.
    static func otherSources(_ model: FirewallModel, _ profile: Profile) -> DualStackSet {
        var others = DualStackSet()
        for family in AddressFamily.allCases where model.families.contains(family) { others[family] = profile.cdn.ranges[family].complement() }
        return others
    }

    /// The partition of every other source × checked ports (origin-exposed's question).
    /// With `cdnParts` it covers every address: ipv6-unfiltered reads both instead of a third
    /// partition of the whole space (an outcome at an address does not depend on what else is asked).
    static func otherParts(_ model: OriginModel, _ profile: Profile) -> [OutcomePart] {
        sharedParts(model, profile, "other parts", sources: otherSources(model.firewall, profile))
    }

    /// The partition of `sources` × checked ports, evaluated once per model and profile.
    private static func sharedParts(_ model: OriginModel, _ profile: Profile, _ name: String, sources: DualStackSet) -> [OutcomePart] {
        guard !sources.isEmpty else { return [] }
        let checked = ports(model, profile)
        return model.derived.value("\(name) \(sources.cidrs) \(checked.portList) \(profile.publicInterfaces) \(profile.originAddresses)") {
            FirewallCheck.evaluator(model, profile).evaluate(sources: sources, ports: checked)
        }
    }

    /// Parts with the same deciding rule and outcome, merged: one finding each.
    struct Group {
        var family: AddressFamily
        var sources: AddressSet
        var ports: PortSet
        var decision: Decision
    }

    static func grouped(_ parts: [OutcomePart]) -> [Group] {
        var groups: [Group] = []
        for part in parts {
            if let index = groups.firstIndex(where: { $0.family == part.family && $0.decision.decidedBy == part.decision.decidedBy
                && $0.decision.outcome == part.decision.outcome && $0.ports == part.ports }) {
                groups[index].sources.formUnion(part.sources)
            } else if let index = groups.firstIndex(where: { $0.family == part.family && $0.decision.decidedBy == part.decision.decidedBy
                && $0.decision.outcome == part.decision.outcome && $0.sources == part.sources }) {
                groups[index].ports.formUnion(part.ports)
            } else {
                groups.append(Group(family: part.family, sources: part.sources, ports: part.ports, decision: part.decision))
            }
        }
        return groups.sorted { ($0.decision.decidedBy.location, $0.family == .ipv4 ? 0 : 1, $0.ports.portList) < ($1.decision.decidedBy.location, $1.family == .ipv4 ? 0 : 1, $1.ports.portList) }
    }

    static func portText(_ ports: PortSet) -> String { "tcp/\(ports.portList)" }

    /// "rules.v4:12 (filter INPUT: -A INPUT -j DROP)"
    static func describe(_ reference: RuleReference) -> String {
        "\(reference.location) (\(reference.chain): \(reference.text))"
    }

    /// The jumps that led to the deciding rule and any rule that made it uncertain.
    static func related(_ decision: Decision) -> [RelatedLocation] {
        var related = decision.path.map { RelatedLocation($0.location, "on the way: \($0.chain): \($0.text)") }
        if let otherwise = decision.otherwise { related.append(RelatedLocation(otherwise.location, "when that rule does not apply: \(otherwise.chain): \(otherwise.text)")) }
        for reference in decision.uncertainBecause where reference != decision.decidedBy {
            related.append(RelatedLocation(reference.location, "outcome depends on \(referenceText(reference))"))
        }
        if let dnat = decision.dnat { related.append(RelatedLocation(dnat.location, "DNAT: \(dnat.text)")) }
        return related
    }

    /// "arriving on enp1s0: drop (rules.v4:7 …); on enp2s0: accept (rules.v4:5 …)", "to 203.0.113.5:
    /// drop (…); to other addresses: accept (…)": each class of interfaces and of the origin's
    /// addresses that the rules tell apart, naming only what differs.
    static func perInterface(_ decision: Decision) -> String {
        let interfaces = Set(decision.byInterface.map(\.interface)).count > 1
        let destinations = Set(decision.byInterface.compactMap(\.destination)).count > 1
        return decision.byInterface.enumerated().map { index, part in
            var head: [String] = []
            if interfaces { head.append(index == 0 ? "arriving on \(part.interface)" : "on \(part.interface)") }
            if destinations, let destination = part.destination { head.append("to \(destination)") }
            return "\(head.joined(separator: ", ")): \(part.outcome) by \(describe(part.decidedBy))"
        }.joined(separator: "; ")
    }

    /// What the outcome depends on and how to tell the audit, for `perInterface`'s decisions.
    static func notKnown(_ decision: Decision) -> (what: String, give: String) {
        let interfaces = Set(decision.byInterface.map(\.interface)).count > 1
        let destinations = Set(decision.byInterface.compactMap(\.destination)).count > 1
        var what: [String] = [], give: [String] = []
        if interfaces || !destinations {
            what.append("the interface their SYN arrives on")
            give.append("--public-interface (or publicInterfaces: in .originaudit.yml)")
        }
        if destinations {
            what.append("the origin's address they connect to")
            give.append("--origin-address (or originAddresses: in .originaudit.yml)")
        }
        return (what.joined(separator: " and "), give.joined(separator: " and "))
    }

    /// "accept or drop": the outcomes an uncertain decision may have, said to be an upper bound
    /// when the path had too many uncertain matches to try every combination.
    static func possible(_ decision: Decision) -> String {
        let text = decision.outcome.possible.map(\.description).joined(separator: " or ")
        guard decision.outcomesAreUpperBound, !text.isEmpty else { return text }
        return text + " — at most: more than \(FirewallEvaluator.enumeratedUncertainMatches) uncertain matches on the path, so not every combination was tried and one of these may never happen"
    }

    private static func referenceText(_ reference: RuleReference) -> String { "\(reference.chain): \(reference.text)" }

    static func key(_ family: AddressFamily, _ sources: AddressSet, _ ports: PortSet) -> String {
        "\(family == .ipv4 ? "v4" : "v6") \(sources.summary(limit: 8)) tcp/\(ports.portList)"
    }

    /// The CDN's display name for messages.
    static func cdnName(_ profile: Profile) -> String { profile.cdn.displayName }

    /// An iptables/nft line that would let these sources in, for remediation text.
    static func allowRemediation(_ group: Group) -> String {
        let cidrs = group.sources.cidrs.prefix(4).map(\.description)
        let more = group.sources.cidrs.count > 4 ? " (and \(group.sources.cidrs.count - 4) more prefixes)" : ""
        let chain = group.decision.decidedBy.chain
        if chain.split(separator: " ").count == 2 {
            let command = group.family == .ipv4 ? "iptables" : "ip6tables"
            let name = chain.split(separator: " ")[1]
            let ports = group.ports.ranges.count == 1 && group.ports.ranges[0].lowerBound == group.ports.ranges[0].upperBound
                ? "--dport \(group.ports.portList)" : "-m multiport --dports \(group.ports.portList.replacingOccurrences(of: "-", with: ":"))"
            return cidrs.map { "\(command) -I \(name) -s \($0) -p tcp \(ports) -j ACCEPT" }.joined(separator: "\n") + more
                + "\n(insert before \(group.decision.decidedBy.location), or remove that rule for the CDN's ranges)"
        }
        return "add before \(group.decision.decidedBy.location): \(group.family == .ipv4 ? "ip" : "ip6") saddr { \(cidrs.joined(separator: ", ")) } tcp dport { \(group.ports.portList) } accept\(more)"
    }
}

private extension String {
    func replacingOccurrences(of target: String, with replacement: String) -> String {
        split(separator: Character(target), omittingEmptySubsequences: false).joined(separator: replacement)
    }
}
