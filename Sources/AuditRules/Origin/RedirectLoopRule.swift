import OriginAuditCore
import WebServer

/// origin.redirect-loop: the CDN's scheme towards the origin and the origin's redirect disagree.
/// Flexible (and off) always fetch over HTTP, so an HTTP→HTTPS redirect is sent back to the visitor
/// for every request; full, strict and origin-pull fetch HTTPS requests over HTTPS, so an
/// HTTPS→HTTP redirect bounces against the CDN's own HTTPS redirect.
struct RedirectLoopRule: AuditRule {
    let id = "origin.redirect-loop"

    func check(_ model: OriginModel, profile: Profile) -> [Finding] {
        var findings: [Finding] = []
        let hosts = OriginContext.proxiedHosts(model, profile)
        for host in hosts {
            let plainPorts = host.listeners.filter { !$0.tls }.compactMap(\.port)
            let tlsPorts = host.listeners.filter(\.tls).compactMap(\.port)
            // A redirect behind another guard (X-Forwarded-Proto, a cookie) may not fire on every
            // request the CDN makes: that is how origins avoid this loop, so it is not reported.
            for redirect in host.redirects where redirect.condition == nil {
                // Which schemes the redirect fires for on this host: its own condition, narrowed by
                // what the host listens on.
                let firesOnHTTP = redirect.from != .https && !plainPorts.isEmpty
                let firesOnHTTPS = redirect.from != .http && !tlsPorts.isEmpty
                switch profile.tlsMode {
                case .off, .flexible:
                    guard firesOnHTTP, redirect.to == .https, Self.comesBack(redirect, to: host) else { continue }
                    findings.append(Finding(
                        ruleId: id,
                        message: "\(OriginContext.describe(host)) redirects HTTP to HTTPS (\(redirect.target)), but in \(profile.tlsMode.rawValue) mode \(profile.cdn.displayName) always fetches over HTTP: every request\(redirect.scope.map { " under \($0)" } ?? "") is redirected again, forever",
                        location: redirect.location,
                        related: [RelatedLocation(host.location, "virtual host")],
                        remediation: "Set the CDN's encryption mode to Full (strict) and serve HTTPS on 443 with a valid certificate — or, if the origin cannot do TLS, remove this redirect and let the CDN redirect visitors (Always Use HTTPS).",
                        key: "\(host.location.file) \(redirect.target) http->https"))
                case .full, .strict, .originPull:
                    guard firesOnHTTPS, redirect.to == .http, Self.comesBack(redirect, to: host) else { continue }
                    findings.append(Finding(
                        ruleId: id,
                        message: "\(OriginContext.describe(host)) redirects HTTPS to HTTP (\(redirect.target)); in \(profile.tlsMode.rawValue) mode \(profile.cdn.displayName) fetches HTTPS requests over HTTPS and redirects HTTP visitors to HTTPS, so visitors bounce between the two",
                        location: redirect.location,
                        related: [RelatedLocation(host.location, "virtual host")],
                        remediation: "Remove the redirect to http:// (serve the site over HTTPS), or make the redirect target https://.",
                        key: "\(host.location.file) \(redirect.target) https->http"))
                }
            }
        }
        return findings
    }

    /// Whether following the redirect brings the visitor back to a request this same redirect
    /// answers (the loop). It does unless the redirect answers only some paths and its target is
    /// a literal URL whose path lies outside them, or names a host this virtual host does not serve.
    /// A target that keeps the request path (`$request_uri`, `%{REQUEST_URI}`) or that cannot be
    /// read always comes back.
    static func comesBack(_ redirect: Redirect, to host: VirtualHost) -> Bool {
        guard let applies = redirect.appliesTo else { return true }
        var target = redirect.target
        for name in ["$host", "$server_name", "$http_host", "%{HTTP_HOST}", "%{SERVER_NAME}"] {
            target = target.replacingOccurrences(of: name, with: "this-host.invalid")
        }
        guard !target.contains("$"), !target.contains("%{") else { return true }
        var path = target
        if let schemeEnd = target.range(of: "://") {
            let rest = target[schemeEnd.upperBound...]
            let authority = rest.prefix { $0 != "/" && $0 != "?" && $0 != "#" }
            let hostname = authority.split(separator: "@").last.map { String($0.split(separator: ":").first ?? "") } ?? ""
            // (A host without names answers every name: it is the default server.)
            if hostname != "this-host.invalid" && !hostname.isEmpty && !host.names.isEmpty && !host.serves(hostname) { return false }
            path = String(rest.dropFirst(authority.count))
        }
        path = String(path.prefix { $0 != "?" && $0 != "#" })
        return applies.matches(path.isEmpty ? "/" : path)
    }
}
