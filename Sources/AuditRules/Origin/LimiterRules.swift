import OriginAuditCore
import WebServer

/// origin.per-ip-limit-on-cdn: a per-client limiter counts the CDN's edge addresses (no real-IP,
/// or real-IP that misses some ranges), so one busy edge is throttled for every visitor behind it.
struct PerIPLimitOnCDNRule: AuditRule {
    let id = "origin.per-ip-limit-on-cdn"

    func check(_ model: OriginModel, profile: Profile) -> [Finding] {
        guard !profile.cdn.ranges.isEmpty else { return [] }
        var findings: [Finding] = []
        // A server-wide limiter (Apache's mod_evasive, say) is inherited by every vhost: one
        // finding per limiter and affected set, naming each host that inherits it.
        var reported: [Identity: Int] = [:]
        // The same for every finding: made once, not per limiter (20,000 limiters on a large estate).
        let nginxRemediation = "Restore the visitor's address first (set_real_ip_from for every CDN range, real_ip_header \(profile.cdn.clientIPHeader ?? "X-Forwarded-For");), then $binary_remote_addr is the visitor — or key the zone on $http_\((profile.cdn.clientIPHeader ?? "x_forwarded_for").lowercased().replacingOccurrences(of: "-", with: "_"))."
        let apacheRemediation = "Enable mod_remoteip with RemoteIPHeader \(profile.cdn.clientIPHeader ?? "X-Forwarded-For") and RemoteIPTrustedProxy for every CDN range, or exempt the CDN ranges from the limiter (e.g. DOSWhitelist)."
        let summaries = LastSummary()
        let messages = LimiterMessages()
        // Read out of the profile once: the closures below, run for each limiter, then capture
        // these rather than copying the whole profile each time.
        let ranges = profile.cdn.ranges, displayName = profile.cdn.displayName
        let hosts = OriginContext.proxiedHosts(model, profile)
        for (host, unrestored) in zip(hosts, OriginContext.unrestored(model, profile)) {
            guard !unrestored.isEmpty else { continue }
            // The host's names and its related place's text, made once for all of its limiters.
            var described: (name: String, related: String)?
            for limiter in host.limiters where limiter.keysOnClientAddress && !limiter.countsConnectionPeer {
                var affected = unrestored
                if !limiter.exempt.isEmpty {
                    for family in AddressFamily.allCases { affected[family] = unrestored[family].subtracting(limiter.exempt[family]) }
                }
                guard !affected.isEmpty else { continue }
                let (message, messageNumber) = messages.message(limiter, affected) {
                    let whole = affected == ranges
                    let edges = whole ? "every \(displayName) edge address" : summaries.text(affected) {
                        "the \(displayName) edges \(affected.ipv4.isEmpty ? affected.ipv6.summary() : affected.ipv4.summary())"
                    }
                    return "\(limiter.kind.rawValue) keyed on \(limiter.key)\(limiter.limit.map { " (\($0))" } ?? "") counts \(edges) as one client: all visitors behind a busy edge share one budget and are refused together"
                }
                let identity = Identity(limiter.location, messageNumber)
                let (name, related) = described ?? { let name = OriginContext.describe(host); return (name, String(exactly: "virtual host \(name)")) }()
                described = (name, related)
                // Where one limiter counts the edges, mostly every host has one or two: room made once.
                if reported.isEmpty { reported.reserveCapacity(hosts.count * 2) }
                // Looked up and recorded with one hashing of the place (mostly it is new).
                if let index = reported.updateValue(findings.count, forKey: identity) {
                    reported[identity] = index
                    findings[index].related.append(RelatedLocation(host.location, related))
                    continue
                }
                findings.append(Finding(
                    ruleId: id,
                    message: message,
                    location: limiter.location,
                    related: [RelatedLocation(host.location, related)],
                    remediation: OriginContext.directive(host.software, nginx: nginxRemediation, apache: apacheRemediation),
                    key: String(exactly: "\(limiter.location.file) \(limiter.kind.rawValue) \(limiter.key) \(name)")))
            }
        }
        return findings
    }
}

/// One finding per limiter place and message: the place as its description reads (a line of 0
/// or less is not shown, nor a column without a line) and the message by its number.
private struct Identity: Hashable {
    let file: String, line: Int, column: Int, handle: Int?, message: Int

    init(_ location: SourceLocation, _ message: Int) {
        file = location.file
        line = location.line > 0 ? location.line : 0
        column = location.line > 0 && location.column > 0 ? location.column : 0
        handle = location.handle
        self.message = message
    }
}

/// The limiter messages of one rule run, each distinct text numbered once. An estate's limiters
/// mostly say the same few things (limit_req and limit_conn on every host): the last few
/// kinds, keys, limits and address sets are compared before a message is built and hashed.
/// One per rule run, never shared.
private final class LimiterMessages {
    private struct Entry {
        let kind: Limiter.Kind, key: String, limit: String?, affected: DualStackSet, message: String, number: Int
    }
    private var recent: [Entry] = []
    private var numbers: [String: Int] = [:]

    func message(_ limiter: Limiter, _ affected: DualStackSet, _ make: () -> String) -> (String, Int) {
        // Compared field by field where the entries lie: a copy of each entry retained its
        // strings and sets, for each of 20,000 limiters.
        let hit = recent.withUnsafeBufferPointer { entries in
            entries.firstIndex { $0.kind == limiter.kind && $0.key == limiter.key && $0.limit == limiter.limit && $0.affected == affected }
        }
        if let hit { return (recent[hit].message, recent[hit].number) }
        let message = make()
        let number: Int
        if let known = numbers[message] { number = known } else { number = numbers.count; numbers[message] = number }
        if recent.count < 8 { recent.append(Entry(kind: limiter.kind, key: limiter.key, limit: limiter.limit, affected: affected, message: message, number: number)) }
        return (message, number)
    }
}

/// origin.antiloris-blocks-cdn: a limiter that counts TCP connections per peer before any request
/// is read (mod_antiloris, mod_qos per-IP connection limits) sees only CDN addresses; real-IP
/// cannot help it, only exempting the CDN ranges does.
struct AntilorisBlocksCDNRule: AuditRule {
    let id = "origin.antiloris-blocks-cdn"

    func check(_ model: OriginModel, profile: Profile) -> [Finding] {
        guard !profile.cdn.ranges.isEmpty else { return [] }
        var findings: [Finding] = []
        for config in model.webServer.servers {
            // Only the few that count TCP peers are gathered: an estate has a limiter or two per host.
            var limiters = config.connectionLimiters.filter(\.countsConnectionPeer)
            for host in config.virtualHosts {
                for limiter in host.limiters where limiter.countsConnectionPeer { limiters.append(limiter) }
            }
            for limiter in limiters {
                var unexempt = DualStackSet()
                for family in AddressFamily.allCases { unexempt[family] = profile.cdn.ranges[family].subtracting(limiter.exempt[family]) }
                guard !unexempt.isEmpty else { continue }
                let exemptDirective = limiter.kind == .modAntiloris ? "ExemptIPs" : "QS_SrvMaxConnExcludeIP"
                findings.append(Finding(
                    ruleId: id,
                    message: "\(limiter.kind.rawValue)\(limiter.limit.map { " (\($0))" } ?? "") limits connections per TCP peer, and \(profile.cdn.displayName)'s edges \(unexempt.ipv4.isEmpty ? unexempt.ipv6.summary() : unexempt.ipv4.summary()) are not exempt: a busy edge holds many connections at once and the rest are refused",
                    location: limiter.location,
                    remediation: "Exempt the CDN ranges (mod_remoteip does not help: the limit is applied before any header is read):\n\(exemptDirective) " + unexempt.cidrs.map(\.description).joined(separator: " "),
                    key: "\(limiter.location.file) \(limiter.kind.rawValue)"))
            }
        }
        return findings
    }
}
