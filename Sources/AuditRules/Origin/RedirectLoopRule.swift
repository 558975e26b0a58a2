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
        let everyHost = model.webServer.virtualHosts
        for host in hosts {
            // Most hosts have no redirect without a guard: nothing about their listeners is needed.
            guard host.redirects.contains(where: { $0.condition == nil }) else { continue }
            let listensPlain = host.listeners.contains { !$0.tls && $0.port != nil }
            let listensTLS = host.listeners.contains { $0.tls && $0.port != nil }
            // A redirect behind another guard (X-Forwarded-Proto, a cookie) may not fire on every
            // request the CDN makes: that is how origins avoid this loop, so it is not reported.
            for redirect in host.redirects where redirect.condition == nil {
                // Which schemes the redirect fires for on this host: its own condition, narrowed by
                // what the host listens on.
                let firesOnHTTP = redirect.from != .https && listensPlain
                let firesOnHTTPS = redirect.from != .http && listensTLS
                switch profile.tlsMode {
                case .off, .flexible:
                    guard firesOnHTTP, redirect.to == .https, Self.loops(redirect, on: host, fetchedOver: .http, among: everyHost) else { continue }
                    findings.append(Finding(
                        ruleId: id,
                        message: "\(OriginContext.describe(host)) redirects HTTP to HTTPS (\(redirect.target)), but in \(profile.tlsMode.rawValue) mode \(profile.cdn.displayName) always fetches over HTTP: every request\(redirect.scope.map { " under \($0)" } ?? "") is redirected again, forever",
                        location: redirect.location,
                        related: [RelatedLocation(host.location, "virtual host")],
                        remediation: "Set the CDN's encryption mode to Full (strict) and serve HTTPS on 443 with a valid certificate — or, if the origin cannot do TLS, remove this redirect and let the CDN redirect visitors (Always Use HTTPS).",
                        key: "\(host.location.file) \(redirect.target) http->https"))
                case .full, .strict, .originPull:
                    guard firesOnHTTPS, redirect.to == .http, Self.loops(redirect, on: host, fetchedOver: .https, among: everyHost) else { continue }
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

    /// Where a redirect sends the visitor, as far as the configuration tells.
    enum Destination {
        /// Back to this virtual host, at `path` (nil: the same path, or one that cannot be read).
        case sameHost(path: String?)
        /// To another host name, at `path`.
        case otherHost(String, path: String?)
        /// A target that cannot be read (a variable other than the host's own name).
        case unreadable
    }

    /// Whether following the redirect, and whatever the hosts it leads to answer over the same
    /// scheme, brings the visitor back to a redirect already followed: the loop. A redirect to a
    /// host served here is followed to that host's own handling (a `www` host sending visitors
    /// to the bare name, which serves them, is no loop); a host not served by this configuration
    /// is not known to send anyone back.
    static func loops(_ redirect: Redirect, on host: VirtualHost, fetchedOver scheme: Redirect.Scheme,
                      among hosts: [VirtualHost]) -> Bool {
        var current = (redirect: redirect, host: host)
        var followed = Set<SourceLocation>()
        while followed.insert(current.redirect.location).inserted {
            switch destination(current.redirect, from: current.host) {
            case .unreadable: return true
            case .sameHost(let path):
                guard let applies = current.redirect.appliesTo, let path else { return true }
                return applies.matches(path)
            case .otherHost(let name, let path):
                // The host that answers the name over the scheme the CDN fetches with, and whether
                // it redirects the same way again.
                let answering = hosts.filter { other in
                    other.serves(name) && other.listeners.contains { $0.tls == (scheme == .https) }
                }
                let next = answering.lazy.compactMap { other in
                    other.redirects.first { candidate in
                        candidate.condition == nil && candidate.from != (scheme == .https ? .http : .https)
                            && candidate.to == current.redirect.to
                            && (candidate.appliesTo == nil || path == nil || candidate.appliesTo!.matches(path!))
                    }.map { (redirect: $0, host: other) }
                }.first
                guard let next else { return false }
                current = next
            }
        }
        return true
    }

    /// Reads a redirect's target: this host (by `$host` and the like, a relative target or one of
    /// its names) or another, and the path when it is literal.
    static func destination(_ redirect: Redirect, from host: VirtualHost) -> Destination {
        var target = redirect.target
        for name in ["$host", "$server_name", "$http_host", "%{HTTP_HOST}", "%{SERVER_NAME}"] {
            target = target.replacingOccurrences(of: name, with: "this-host.invalid")
        }
        var hostname = "this-host.invalid"
        var path = target
        if let schemeEnd = target.range(of: "://") {
            let rest = target[schemeEnd.upperBound...]
            // (`http://example.org$request_uri`: the name ends where the path's variable starts.)
            let authority = rest.prefix { $0 != "/" && $0 != "?" && $0 != "#" && $0 != "$" && $0 != "%" }
            hostname = authority.split(separator: "@").last.map { String($0.split(separator: ":").first ?? "") } ?? ""
            path = String(rest.dropFirst(authority.count))
        }
        if hostname.contains("$") || hostname.contains("%{") { return .unreadable }
        path = String(path.prefix { $0 != "?" && $0 != "#" })
        let literalPath: String? = path.contains("$") || path.contains("%{") ? nil : (path.isEmpty ? "/" : path)
        // (A host without names answers every name: it is the default server.)
        if hostname == "this-host.invalid" || hostname.isEmpty || host.names.isEmpty || host.serves(hostname) {
            return .sameHost(path: literalPath)
        }
        return .otherHost(hostname, path: literalPath)
    }
}
