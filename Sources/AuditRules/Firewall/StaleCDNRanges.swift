import OriginAuditCore
import Firewall

/// firewall.stale-cdn-ranges: an allow-list for the CDN also admits ranges that are not (or no
/// longer) the CDN's.
struct StaleCDNRanges: AuditRule {
    let id = "firewall.stale-cdn-ranges"

    func check(_ model: OriginModel, profile: Profile) -> [Finding] {
        guard !profile.cdn.ranges.isEmpty else { return [] }
        let lists = FirewallCheck.evaluator(model, profile).allowLists(ports: FirewallCheck.ports(model, profile))
        var findings: [Finding] = []
        var reported: Set<String> = []
        for list in lists {
            let cdn = profile.cdn.ranges[list.family]
            let stale = list.sources.intersection(profile.cdn.staleRanges[list.family]).subtracting(cdn)
            let namesCDN = !list.sources.isDisjoint(with: cdn)
            guard namesCDN || !stale.isEmpty else { continue }
            // Only lists that are about the CDN: a broad accept (a /8 holding a CDN range) is not an allow-list.
            let extra = list.sources.subtracting(cdn)
            guard !extra.isEmpty, stale.isEmpty ? extra.count <= cdn.count : true else { continue }
            let location = list.setLocation ?? list.rule.location
            let identity = "\(location.file) \(list.setName ?? list.rule.text) \(extra.summary(limit: 8))"
            guard reported.insert(identity).inserted else { continue }
            let container = list.setName.map { "set \($0)" } ?? "rule \(FirewallCheck.describe(list.rule))"
            var message = "the \(FirewallCheck.cdnName(profile)) allow-list in \(container) also admits \(extra.summary()), which \(stale.isEmpty ? "is not" : "is no longer") \(FirewallCheck.cdnName(profile))'s"
            if !stale.isEmpty && stale != extra { message += " (formerly published: \(stale.summary()))" }
            message += "; whoever holds those addresses now can reach \(FirewallCheck.portText(list.ports))"
            findings.append(Finding(
                ruleId: id, message: message, location: location,
                related: list.setLocation != nil ? [RelatedLocation(list.rule.location, "used by \(list.rule.chain): \(list.rule.text)")] : [],
                key: "\(list.family == .ipv4 ? "v4" : "v6") \(list.setName ?? list.rule.text) \(extra.summary(limit: 8))"))
        }
        return findings
    }
}
