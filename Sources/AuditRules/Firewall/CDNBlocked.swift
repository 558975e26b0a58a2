import OriginAuditCore
import Firewall

/// firewall.cdn-dropped: some CDN addresses are dropped on a port the CDN uses (→ 522).
struct CDNDropped: AuditRule {
    let id = "firewall.cdn-dropped"

    func check(_ model: OriginModel, profile: Profile) -> [Finding] {
        let parts = FirewallCheck.cdnParts(model, profile).filter { $0.decision.outcome.kind == .drop }
        return FirewallCheck.grouped(parts).map { group in
            Finding(
                ruleId: id,
                message: "\(FirewallCheck.cdnName(profile)) \(FirewallCheck.familyName(group.family)) addresses \(group.sources.summary()) are dropped on \(FirewallCheck.portText(group.ports)) by \(FirewallCheck.describe(group.decision.decidedBy)): the CDN gets no answer to its SYN and shows 522 after its connect timeout",
                location: group.decision.decidedBy.location,
                related: FirewallCheck.related(group.decision),
                remediation: FirewallCheck.allowRemediation(group),
                key: FirewallCheck.key(group.family, group.sources, group.ports))
        }
    }
}

/// firewall.cdn-rejected: some CDN addresses are rejected on a port the CDN uses (→ 521).
struct CDNRejected: AuditRule {
    let id = "firewall.cdn-rejected"

    func check(_ model: OriginModel, profile: Profile) -> [Finding] {
        let parts = FirewallCheck.cdnParts(model, profile).filter { $0.decision.outcome.kind == .reject }
        return FirewallCheck.grouped(parts).map { group in
            let reply = group.decision.outcome.rejectWith ?? "reject"
            let effect = reply == "tcp-reset" || reply.hasSuffix("port-unreachable")
                ? "the connection is refused and the CDN shows 521"
                : "the CDN gets an ICMP \(reply) error and shows 521/522"
            return Finding(
                ruleId: id,
                message: "\(FirewallCheck.cdnName(profile)) \(FirewallCheck.familyName(group.family)) addresses \(group.sources.summary()) are rejected (\(reply)) on \(FirewallCheck.portText(group.ports)) by \(FirewallCheck.describe(group.decision.decidedBy)): \(effect)",
                location: group.decision.decidedBy.location,
                related: FirewallCheck.related(group.decision),
                remediation: FirewallCheck.allowRemediation(group),
                key: FirewallCheck.key(group.family, group.sources, group.ports))
        }
    }
}

/// firewall.cdn-rate-limited: CDN traffic passes a rate or connection limit: the outcome is
/// computed both ways, and the message says what happens under and over the limit.
struct CDNRateLimited: AuditRule {
    let id = "firewall.cdn-rate-limited"

    func check(_ model: OriginModel, profile: Profile) -> [Finding] {
        let parts = FirewallCheck.cdnParts(model, profile).filter { $0.decision.outcome.kind == .rateLimited }
        return FirewallCheck.grouped(parts).map { group in
            let possible = FirewallCheck.possible(group.decision)
            return Finding(
                ruleId: id,
                message: "\(FirewallCheck.cdnName(profile)) \(FirewallCheck.familyName(group.family)) addresses \(group.sources.summary()) on \(FirewallCheck.portText(group.ports)) pass the limit at \(FirewallCheck.describe(group.decision.decidedBy)): depending on the rate they get \(possible). All CDN traffic comes from few addresses, so a per-source or global limit trips under normal load (intermittent 521/522)",
                location: group.decision.decidedBy.location,
                related: FirewallCheck.related(group.decision),
                key: FirewallCheck.key(group.family, group.sources, group.ports))
        }
    }
}

/// firewall.unknown-match: an unmodelled match or target on the CDN's path makes the outcome uncertain.
struct UnknownMatch: AuditRule {
    let id = "firewall.unknown-match"

    func check(_ model: OriginModel, profile: Profile) -> [Finding] {
        let unresolved = Set(FirewallCheck.evaluator(model, profile).unresolvedSets().map(\.rule))
        let parts = FirewallCheck.cdnParts(model, profile).filter { part in
            // Uncertainty that comes only from sets not given is firewall.set-unresolved's finding.
            part.decision.outcome.kind == .unknown
                && (!part.decision.byInterface.isEmpty || !part.decision.uncertainBecause.allSatisfy { unresolved.contains($0) })
        }
        return FirewallCheck.grouped(parts).map { group in
            let possible = FirewallCheck.possible(group.decision)
            if !group.decision.byInterface.isEmpty {
                // Not a guess: each interface and origin address the rules tell apart, with its own outcome.
                let (what, give) = FirewallCheck.notKnown(group.decision)
                return Finding(
                    ruleId: id,
                    message: "the outcome for \(FirewallCheck.cdnName(profile)) \(FirewallCheck.familyName(group.family)) addresses \(group.sources.summary()) on \(FirewallCheck.portText(group.ports)) depends on \(what), which is not known: \(FirewallCheck.perInterface(group.decision)); give \(give)",
                    location: group.decision.decidedBy.location,
                    related: group.decision.byInterface.map { part in
                        RelatedLocation(part.decidedBy.location, "arriving on \(part.interface)\(part.destination.map { ", to \($0)" } ?? ""): \(part.outcome): \(part.decidedBy.chain): \(part.decidedBy.text)")
                    },
                    key: FirewallCheck.key(group.family, group.sources, group.ports) + " by interface")
            }
            return Finding(
                ruleId: id,
                message: "the outcome for \(FirewallCheck.cdnName(profile)) \(FirewallCheck.familyName(group.family)) addresses \(group.sources.summary()) on \(FirewallCheck.portText(group.ports)) depends on \(FirewallCheck.describe(group.decision.decidedBy)), which this audit does not model\(possible.isEmpty ? "" : " (it may be \(possible))"); check it by hand",
                location: group.decision.decidedBy.location,
                related: FirewallCheck.related(group.decision),
                key: FirewallCheck.key(group.family, group.sources, group.ports))
        }
    }
}
