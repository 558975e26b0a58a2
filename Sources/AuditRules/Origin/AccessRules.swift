import OriginAuditCore
import WebServer

/// origin.deny-blocks-cdn, both ways an access list turns away the CDN's traffic:
/// - without real-IP, the address judged is the CDN edge's, so a `deny` that covers CDN
///   addresses refuses everyone who comes through those edges;
/// - with real-IP, the address judged is the visitor's, so `allow <CDN ranges>; deny all`
///   (meant to lock the origin to the CDN) refuses every visitor.
/// Rules in one scope are read in order, first match wins (nginx's allow/deny; the Apache loader
/// writes `Require` and `Order/Allow/Deny` in the same ordered form).
struct DenyBlocksCDNRule: AuditRule {
    let id = "origin.deny-blocks-cdn"

    func check(_ model: OriginModel, profile: Profile) -> [Finding] {
        guard !profile.cdn.ranges.isEmpty else { return [] }
        var findings: [Finding] = []
        let summaries = LastSummary()
        // The same for every finding: made once, not per host (10,000 hosts on a large estate).
        let header = profile.cdn.clientIPHeader ?? "X-Forwarded-For"
        let remediation = (
            nginx: "Restore the visitor's address before access checks (set_real_ip_from for every CDN range; real_ip_header \(header);), so deny judges visitors — or remove the deny for CDN ranges.",
            apache: "Enable mod_remoteip (RemoteIPHeader \(header), RemoteIPTrustedProxy for every CDN range) so Require judges visitors — or stop denying CDN ranges.")
        // The hosts of an estate mostly share their real-IP setting and access lists: what
        // depends only on those is worked out again only when they differ from the last host's.
        // (Kept apart rather than as one optional tuple, which each host's look copied whole.)
        var lastUnrestored: DualStackSet?, lastRestored = DualStackSet()
        let everyone = DualStackSet(ipv4: .all(.ipv4), ipv6: .all(.ipv6))
        let cdnAndStale = DualStackSet(ipv4: profile.cdn.ranges.ipv4.union(profile.cdn.staleRanges.ipv4),
                                       ipv6: profile.cdn.ranges.ipv6.union(profile.cdn.staleRanges.ipv6))
        // What depends on a list's rules alone: what it lets through from anywhere, whether that is
        // only private addresses, and whether it is an allow list of the CDN's ranges.
        let opened = LastDecision<(open: DualStackSet, privateOnly: Bool, allowList: (allow: Int, deny: Int)?)>()
        let denials = LastDecision<(denied: DualStackSet, deciding: [Int])>()
        for (host, unrestored) in zip(OriginContext.proxiedHosts(model, profile), OriginContext.unrestored(model, profile)) {
            var restored = DualStackSet()
            if lastUnrestored == unrestored {
                restored = lastRestored
            } else {
                for family in AddressFamily.allCases { restored[family] = profile.cdn.ranges[family].subtracting(unrestored[family]) }
                (lastUnrestored, lastRestored) = (unrestored, restored)
            }
            guard !host.accessRules.isEmpty else { continue }
            // nginx's `return` (rewrite phase) and httpd's server-level catch-all redirects (URI
            // translation) answer before access checks: the access rules they pre-empt decide nothing.
            let answered = host.answeredBeforeAccess
            if !answered.isEmpty, answered.contains("") { continue }
            // The host's names, worked out once for all of its findings (and none when it has none).
            var described: String?
            for (scope, rules) in Self.byScope(host.accessRules) where answered.isEmpty || !answered.contains(scope) {
                // A scope closed to everyone (`location ~ /\.ht { deny all; }`) is not about the CDN.
                let (open, privateOnly, allowList) = opened.value(rules, everyone) {
                    let open = Self.allowed(rules, from: everyone)
                    return (open, Self.privateNetworks.ipv4.contains(open.ipv4) && Self.privateNetworks.ipv6.contains(open.ipv6),
                            Self.cdnAllowList(rules, cdnAndStale))
                }
                guard !open.isEmpty else { continue }
                let denial = denials.value(rules, unrestored) { Self.denial(rules, unrestored) }
                if !denial.denied.isEmpty, !denial.deciding.isEmpty {
                    let name = described ?? OriginContext.describe(host)
                    described = name
                    var finding = deniedEdges(rules, denial, host, name, profile, scope, summaries, remediation)
                    // A scope open only to loopback and private networks (`Allow from 127.0.0.0/8`
                    // on /usr/share/doc) refuses every public visitor with or without the CDN:
                    // the 403 is neither new nor the CDN's doing. Said as info, not as a failure.
                    if privateOnly {
                        finding.severity = .info
                        finding.message = "\(name)\(scope.isEmpty ? "" : " in \(scope)") is open only to loopback or private addresses (\(open.ipv4.isEmpty ? open.ipv6.summary() : open.ipv4.summary())): \(profile.cdn.displayName)'s requests get 403 there, as every public visitor's already do — not a failure the CDN causes"
                        finding.remediation = "Nothing to do if this part of the site is meant for local use only; otherwise allow the visitors it is for (after restoring their addresses from the CDN's header)."
                    }
                    findings.append(finding)
                }
                guard !restored.isEmpty, let list = allowList else { continue }
                let name = described ?? OriginContext.describe(host)
                described = name
                findings.append(cdnAllowListAfterRealIP(rules, list, host, name, profile, scope))
            }
        }
        return findings
    }

    /// The rules of each scope (no scope: ""), in their order, scopes sorted by name. A host's
    /// rules mostly share one scope: then the list itself, without grouping or copying.
    static func byScope(_ rules: [AccessRule]) -> [(scope: String, rules: [AccessRule])] {
        let first = rules.first?.scope ?? ""
        if rules.allSatisfy({ ($0.scope ?? "") == first }) { return [(first, rules)] }
        var groups: [(scope: String, rules: [AccessRule])] = []
        for rule in rules {
            let scope = rule.scope ?? ""
            if let index = groups.firstIndex(where: { $0.scope == scope }) { groups[index].rules.append(rule) }
            else { groups.append((scope, [rule])) }
        }
        return groups.sorted { $0.scope < $1.scope }
    }

    /// Loopback, private (RFC 1918, unique-local), link-local and shared (RFC 6598) addresses:
    /// never a public visitor's.
    static let privateNetworks = DualStackSet(cidrs: [
        "127.0.0.0/8", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16", "100.64.0.0/10",
        "::1/128", "fc00::/7", "fe80::/10",
    ].compactMap { CIDR($0) })

    /// The part of `sources` the ordered rules let through (no match means allowed).
    static func allowed(_ rules: [AccessRule], from sources: DualStackSet) -> DualStackSet {
        var remaining = sources
        var allowed = DualStackSet()
        for rule in rules {
            for family in AddressFamily.allCases {
                let matched = remaining[family].intersection(rule.sources[family])
                if rule.action == .allow { allowed[family].formUnion(matched) }
                remaining[family].subtract(matched)
            }
        }
        for family in AddressFamily.allCases { allowed[family].formUnion(remaining[family]) }
        return allowed
    }

    /// Which of `unrestored` the ordered rules deny, and the rules (by position) that deny some.
    static func denial(_ rules: [AccessRule], _ unrestored: DualStackSet) -> (denied: DualStackSet, deciding: [Int]) {
        var remaining = unrestored
        var denied = DualStackSet()
        var deciding: [Int] = []
        for (index, rule) in rules.enumerated() {
            var matched = DualStackSet()
            for family in AddressFamily.allCases { matched[family] = remaining[family].intersection(rule.sources[family]) }
            guard !matched.isEmpty else { continue }
            if rule.action == .deny {
                for family in AddressFamily.allCases { denied[family].formUnion(matched[family]) }
                deciding.append(index)
            }
            for family in AddressFamily.allCases { remaining[family].subtract(matched[family]) }
        }
        return (denied, deciding)
    }

    /// The finding for the unrestored CDN addresses the ordered rules deny (`denial`: some, by
    /// at least one rule), at the first rule that does. `name`: the host as `describe` gives it.
    private func deniedEdges(_ rules: [AccessRule], _ denial: (denied: DualStackSet, deciding: [Int]), _ host: VirtualHost, _ name: String,
                             _ profile: Profile, _ scope: String, _ summaries: LastSummary, _ remediation: (nginx: String, apache: String)) -> Finding {
        let denied = denial.denied
        let first = rules[denial.deciding[0]]
        let whole = denied == profile.cdn.ranges
        let place = scope.isEmpty ? "" : " in \(scope)"
        let addresses = whole ? "all of \(profile.cdn.displayName)'s addresses" : summaries.text(denied) {
            "\(profile.cdn.displayName) addresses \(denied.ipv4.isEmpty ? denied.ipv6.summary() : denied.ipv4.summary())"
        }
        return Finding(
            ruleId: id,
            message: String(exactly: "\(name)\(place) denies \(addresses); without real-IP restoration the CDN's edge is the client, so every visitor routed through \(whole ? "it" : "those edges") gets 403"),
            location: first.location,
            related: denial.deciding.count < 2 ? [] : denial.deciding.dropFirst().map { RelatedLocation(rules[$0].location, "also denies CDN addresses") },
            predicts: "403",
            remediation: OriginContext.directive(host.software, nginx: remediation.nginx, apache: remediation.apache),
            key: String(exactly: "\(host.location.file) \(name) \(scope) edges"))
    }

    /// Whether the ordered rules are `allow <CDN ranges>; deny all`: the positions of the first
    /// allow and of the deny that closes the list (the first that covers a whole family), when
    /// everything allowed before it is the CDN's (`cdnAndStale`: its current and stale ranges).
    static func cdnAllowList(_ rules: [AccessRule], _ cdnAndStale: DualStackSet) -> (allow: Int, deny: Int)? {
        var allowed = DualStackSet()
        var firstAllow: Int?
        for (index, rule) in rules.enumerated() {
            if rule.action == .allow {
                allowed.ipv4.formUnion(rule.sources.ipv4)
                allowed.ipv6.formUnion(rule.sources.ipv6)
                if firstAllow == nil { firstAllow = index }
                continue
            }
            // The first deny that covers a whole family closes the list.
            guard rule.sources.ipv4.isAll || rule.sources.ipv6.isAll else { continue }
            let cdnOnly = !allowed.isEmpty && cdnAndStale.ipv4.contains(allowed.ipv4) && cdnAndStale.ipv6.contains(allowed.ipv6)
            guard cdnOnly, let firstAllow else { return nil }
            return (firstAllow, index)
        }
        return nil
    }

    /// `allow <CDN ranges>; deny all` (`list`, from `cdnAllowList`) where real-IP is on: the
    /// visitor is judged, and refused.
    private func cdnAllowListAfterRealIP(_ rules: [AccessRule], _ list: (allow: Int, deny: Int), _ host: VirtualHost, _ name: String,
                                         _ profile: Profile, _ scope: String) -> Finding {
        let place = scope.isEmpty ? "" : " in \(scope)"
        return Finding(
            ruleId: id,
            message: "\(name)\(place) allows only \(profile.cdn.displayName)'s ranges and denies everything else, but real-IP restoration is on: the address judged is the visitor's, so every visitor gets 403",
            location: rules[list.allow].location,
            related: [RelatedLocation(rules[list.deny].location, "deny all")] + (host.realIP.map { [RelatedLocation($0.location, "real-IP restoration")] } ?? []),
            predicts: "403",
            remediation: "Lock the origin to the CDN in the firewall (accept the CDN ranges on 80/443, drop the rest) and remove this allow list; or, where the web server must do it, check the connection address instead (nginx: `geo $realip_remote_addr $from_cdn { default 0; <CDN ranges> 1; }` and `if ($from_cdn = 0) { return 403; }`; Apache: `Require expr \"-R '<CDN range>'\"` on the peer address).",
            key: "\(host.location.file) \(name) \(scope) allowlist")
    }
}

/// The last result worked out from an ordered access list and an address set, kept while the
/// next host's list decides the same (same actions on the same addresses, wherever written).
/// One per rule run, never shared.
final class LastDecision<Result> {
    private var lastRules: [AccessRule] = []
    private var lastAddresses = DualStackSet()
    private var lastResult: Result?

    func value(_ rules: [AccessRule], _ addresses: DualStackSet, _ make: () -> Result) -> Result {
        if let result = lastResult, lastAddresses == addresses, Self.decideAlike(lastRules, rules) { return result }
        let result = make()
        (lastRules, lastAddresses, lastResult) = (rules, addresses, result)
        return result
    }

    /// Same actions on the same addresses, position by position (compared in place: a copy of
    /// each rule retained every string and set it holds).
    private static func decideAlike(_ a: [AccessRule], _ b: [AccessRule]) -> Bool {
        guard a.count == b.count else { return false }
        for index in a.indices where a[index].action != b[index].action || a[index].sources != b[index].sources { return false }
        return true
    }
}
