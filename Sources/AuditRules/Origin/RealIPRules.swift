import OriginAuditCore
import WebServer

/// The headers a CDN's edge sets with the visitor's address, besides its own (CF-Connecting-IP).
enum ClientAddressHeader {
    static func isSetByCDN(_ header: String, _ profile: Profile) -> Bool {
        let lower = header.lowercased()
        if lower == "x-forwarded-for" { return true }
        if let own = profile.cdn.clientIPHeader?.lowercased(), lower == own { return true }
        // Cloudflare Enterprise can also send True-Client-IP.
        return profile.cdn.name == "cloudflare" && lower == "true-client-ip"
    }

    /// `isSetByCDN` for the hosts of one rule run, which mostly name one header: judged again
    /// only when a host's header differs from the last one's (judging lowercases both names,
    /// a new string each, for every one of 10,000 hosts).
    struct Judge {
        let profile: Profile
        private var last: (header: String, set: Bool)?

        init(_ profile: Profile) { self.profile = profile }

        mutating func isSetByCDN(_ header: String) -> Bool {
            if let last, last.header == header { return last.set }
            let set = ClientAddressHeader.isSetByCDN(header, profile)
            last = (header, set)
            return set
        }
    }

    /// The CDN addresses whose header the host does not believe: what limits and logs will see
    /// as the client. Everything, when there is no real-IP restoration or the header is wrong.
    static func unrestored(_ host: VirtualHost, _ profile: Profile) -> DualStackSet {
        guard let realIP = host.realIP, let header = realIP.header?.value, isSetByCDN(header, profile) else {
            return profile.cdn.ranges
        }
        var missing = DualStackSet()
        for family in AddressFamily.allCases {
            missing[family] = profile.cdn.ranges[family].subtracting(realIP.trusted[family])
        }
        return missing
    }
}

extension OriginContext {
    /// `ClientAddressHeader.unrestored` for each of `proxiedHosts`, by position: worked out once
    /// per run for the rules that need it, and again only where a host's real-IP setting differs
    /// from the last host's (an estate's hosts mostly share one, or have none).
    static func unrestored(_ model: OriginModel, _ profile: Profile) -> [DualStackSet] {
        let hosts = proxiedHosts(model, profile)
        let key = "unrestored \(profile.hostnames) \(profile.cdn.name) \(profile.cdn.clientIPHeader ?? "") \(profile.cdn.ranges.cidrs.map(\.description))"
        return model.derived.value(key) {
            // In runs side by side on a large estate, as the proxied hosts.
            ConcurrentRuns.map(count: hosts.count, minimum: 4_096) { range in
                // What the answer depends on is kept, not the whole setting (read once per host).
                var last: (trusted: DualStackSet?, header: String?, unrestored: DualStackSet)?
                return hosts[range].map { host in
                    let realIP = host.realIP
                    if let last, last.trusted == realIP?.trusted, last.header == realIP?.header?.value {
                        return last.unrestored
                    }
                    let unrestored = ClientAddressHeader.unrestored(host, profile)
                    last = (realIP?.trusted, realIP?.header?.value, unrestored)
                    return unrestored
                }
            }
        }
    }
}

/// origin.realip-missing: the visitor's address is not restored from the CDN's header, so logs,
/// allow/deny and per-client limits all see the CDN's edge addresses.
struct RealIPMissingRule: AuditRule {
    let id = "origin.realip-missing"

    func check(_ model: OriginModel, profile: Profile) -> [Finding] {
        guard !profile.cdn.ranges.isEmpty else { return [] }
        var findings: [Finding] = []
        // mod_cloudflare restores Cloudflare visitors' addresses itself, from the ranges frozen
        // in it; origin.mod-cloudflare reports that module, so its hosts are not "missing" it.
        let restoredByModule = profile.cdn.name == "cloudflare"
            ? Set(model.webServer.servers.filter { $0.cdnModules.contains { $0.value.lowercased().contains("cloudflare") } }
                .flatMap { $0.virtualHosts.map(\.location) })
            : []
        var judge = ClientAddressHeader.Judge(profile)
        let header = profile.cdn.clientIPHeader ?? "X-Forwarded-For"
        for host in OriginContext.proxiedHosts(model, profile) where host.realIP != nil || !restoredByModule.contains(host.location) {
            if let realIP = host.realIP, let configured = realIP.header {
                guard !judge.isSetByCDN(configured.value) else { continue }
                findings.append(Finding(
                    ruleId: id,
                    message: "\(OriginContext.describe(host)) restores the client address from \(configured.value), which \(profile.cdn.displayName) does not set: every request keeps the CDN's address",
                    location: configured.location,
                    remediation: OriginContext.directive(host.software, nginx: "real_ip_header \(header);", apache: "RemoteIPHeader \(header)"),
                    key: "\(host.location.file) \(OriginContext.describe(host)) header"))
                continue
            }
            let hasTrust = !(host.realIP?.trusted.isEmpty ?? true)
            findings.append(Finding(
                ruleId: id,
                message: hasTrust
                    ? "\(OriginContext.describe(host)) trusts proxies but names no header to read the client address from (nginx's default is X-Real-IP, which \(profile.cdn.displayName) does not set)"
                    : "\(OriginContext.describe(host)) does not restore the visitor's address: logs, allow/deny rules and per-client limits will see \(profile.cdn.displayName)'s addresses",
                location: host.realIP?.location ?? host.location,
                remediation: OriginContext.directive(host.software,
                    nginx: "In the http or server block:\n" + OriginContext.trustLines(profile, .nginx) + "\nreal_ip_header \(header);",
                    apache: "a2enmod remoteip, then:\nRemoteIPHeader \(header)\n" + OriginContext.trustLines(profile, .apache)),
                key: "\(host.location.file) \(OriginContext.describe(host))"))
        }
        return findings
    }
}

/// origin.realip-trusts-any: the header is believed from every source, so anyone who reaches
/// the origin directly can claim any address.
struct RealIPTrustsAnyRule: AuditRule {
    let id = "origin.realip-trusts-any"

    func check(_ model: OriginModel, profile: Profile) -> [Finding] {
        var findings: [Finding] = []
        for host in OriginContext.proxiedHosts(model, profile) {
            // (Asked before gathering the families: most hosts trust neither whole space.)
            guard let realIP = host.realIP, realIP.trusted.ipv4.isAll || realIP.trusted.ipv6.isAll else { continue }
            let open = AddressFamily.allCases.filter { realIP.trusted[$0].isAll }
            let entry = realIP.trustedEntries.first { CIDR($0.value)?.prefixLength == 0 }
            findings.append(Finding(
                ruleId: id,
                message: "\(OriginContext.describe(host)) believes the client-address header from any \(open.map { $0 == .ipv4 ? "IPv4" : "IPv6" }.joined(separator: " and ")) source: anyone who reaches the origin directly can pose as any visitor",
                location: entry?.location ?? realIP.location,
                remediation: "Trust only \(profile.cdn.displayName)'s ranges:\n" + OriginContext.trustLines(profile, host.software),
                key: "\(host.location.file) \(OriginContext.describe(host))"))
        }
        return findings
    }
}

/// origin.realip-incomplete: some CDN ranges are not among the trusted proxies, so requests
/// through those edges keep the CDN's address.
struct RealIPIncompleteRule: AuditRule {
    let id = "origin.realip-incomplete"

    func check(_ model: OriginModel, profile: Profile) -> [Finding] {
        // Hosts that inherit one list (nginx's http block, Apache's server config) share one
        // finding at that list, naming how many hosts it affects.
        var groups: [(anchor: SourceLocation, hosts: [VirtualHost], missing: DualStackSet)] = []
        var position: [SourceLocation: Int] = [:]
        var judge = ClientAddressHeader.Judge(profile)
        for (host, missing) in zip(OriginContext.proxiedHosts(model, profile), OriginContext.unrestored(model, profile)) {
            guard let realIP = host.realIP, !realIP.trusted.isEmpty, let header = realIP.header?.value,
                  judge.isSetByCDN(header) else { continue }
            guard !missing.isEmpty else { continue }
            let anchor = realIP.trustedEntries.first?.location ?? realIP.location
            // Hosts that share a list come one after another: the last group is compared first.
            if let last = groups.indices.last, groups[last].anchor == anchor {
                groups[last].hosts.append(host)
            } else if let index = position[anchor] {
                groups[index].hosts.append(host)
            } else {
                position[anchor] = groups.count
                groups.append((anchor, [host], missing))
            }
        }
        return groups.map { group in
            let anchor = group.anchor
            let missing = group.missing
            let summary = [missing.ipv4, missing.ipv6].filter { !$0.isEmpty }.map { $0.summary() }.joined(separator: "; ")
            let who = group.hosts.count == 1 ? OriginContext.describe(group.hosts[0])
                : "\(group.hosts.count) virtual hosts (\(group.hosts.prefix(3).map(OriginContext.describe).joined(separator: "; "))\(group.hosts.count > 3 ? "; …" : ""))"
            return Finding(
                ruleId: id,
                message: "\(who) \(group.hosts.count == 1 ? "does" : "do") not trust \(profile.cdn.displayName) ranges \(summary): requests through those edges are logged, limited and allowed or denied by the CDN's address",
                location: anchor,
                remediation: "Add the missing ranges:\n" + OriginContext.trustLines(profile, group.hosts[0].software, missing),
                key: "\(anchor.file) \(missing.cidrs.map(\.description).joined(separator: ","))")
        }
    }
}
