import OriginAuditCore
import WebServer

/// origin.timeout-exceeds-cdn: the origin waits for its upstream longer than the CDN waits for the
/// origin, so a slow answer becomes the CDN's 524 instead of the origin's own 504.
struct TimeoutExceedsCDNRule: AuditRule {
    let id = "origin.timeout-exceeds-cdn"

    func check(_ model: OriginModel, profile: Profile) -> [Finding] {
        guard let limit = profile.cdn.readTimeout else { return [] }
        var findings: [Finding] = []
        // One remediation per directive, not per finding (10,000 on a large estate).
        var remediations: [String: String] = [:]
        var lastMessage: (directive: String, seconds: Double, scope: String?, text: String)?
        for host in OriginContext.proxiedHosts(model, profile) {
            for timeout in host.timeouts where !timeout.isDefault && timeout.seconds > limit {
                let remediation = remediations[timeout.directive] ?? {
                    let text = "Answer within \(format(limit)) s: lower \(timeout.directive) below it (so the origin returns its own 504), and move long jobs to a background queue or stream progress. Cloudflare Enterprise can raise the proxy read timeout."
                    remediations[timeout.directive] = text
                    return text
                }()
                // Hosts of an estate mostly repeat one setting: its message is made once and shared.
                let message: String
                if let last = lastMessage, last.directive == timeout.directive, last.seconds == timeout.seconds, last.scope == timeout.scope {
                    message = last.text
                } else {
                    message = "\(timeout.directive) is \(format(timeout.seconds)) s\(timeout.scope.map { " in \($0)" } ?? ""), longer than the \(format(limit)) s \(profile.cdn.displayName) waits for a response: anything slower than that reaches visitors as 524, and the origin keeps working on requests nobody is waiting for"
                    lastMessage = (timeout.directive, timeout.seconds, timeout.scope, message)
                }
                findings.append(Finding(
                    ruleId: id,
                    message: message,
                    location: timeout.location,
                    remediation: remediation,
                    key: String(exactly: "\(timeout.location.file) \(timeout.directive) \(timeout.scope ?? "")")))
            }
        }
        return findings
    }

    func format(_ value: Double) -> String { value.rounded() == value ? String(Int(value)) : String(value) }
}

/// origin.keepalive-disabled: every CDN request pays a new TCP (and TLS) handshake.
struct KeepAliveDisabledRule: AuditRule {
    let id = "origin.keepalive-disabled"

    func check(_ model: OriginModel, profile: Profile) -> [Finding] {
        var findings: [Finding] = []
        var seen = Set<SourceLocation>()
        for host in OriginContext.proxiedHosts(model, profile) {
            guard let keepAlive = host.keepAlive, !keepAlive.value, seen.insert(keepAlive.location).inserted else { continue }
            findings.append(Finding(
                ruleId: id,
                message: "keep-alive is off for \(OriginContext.describe(host)): \(profile.cdn.displayName) opens a new connection (and TLS handshake) for every request, which under load shows as refused or reset connections",
                location: keepAlive.location,
                remediation: OriginContext.directive(host.software, nginx: "keepalive_timeout 75s;", apache: "KeepAlive On\nKeepAliveTimeout 75"),
                key: "\(keepAlive.location.file) keepalive"))
        }
        return findings
    }
}

/// origin.mod-cloudflare: the deprecated mod_cloudflare is loaded.
struct ModCloudflareRule: AuditRule {
    let id = "origin.mod-cloudflare"

    func check(_ model: OriginModel, profile: Profile) -> [Finding] {
        model.webServer.servers.flatMap { config in
            config.cdnModules.filter { $0.value.lowercased().contains("cloudflare") }.map { module in
                Finding(
                    ruleId: id,
                    message: "\(module.value) is loaded: mod_cloudflare is deprecated, unmaintained, and its list of Cloudflare ranges is frozen in the module",
                    location: module.location,
                    remediation: "a2dismod cloudflare; a2enmod remoteip, then:\nRemoteIPHeader CF-Connecting-IP\n" + OriginContext.trustLines(profile, .apache),
                    key: "\(module.location.file) \(module.value)")
            }
        }
    }
}
