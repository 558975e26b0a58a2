import OriginAuditCore
import WebServer

/// Which virtual host answers a hostname on a port: one that names it, else the port's default
/// server (nginx: `default_server`, or the first server on that port; Apache: the first vhost).
enum HostSelection {
    static func host(for hostname: String, port: UInt16, in model: OriginModel) -> (host: VirtualHost, listener: Listener, byName: Bool)? {
        for config in model.webServer.servers {
            let onPort = config.virtualHosts.compactMap { host -> (VirtualHost, Listener)? in
                guard let listener = host.listeners.first(where: { OriginContext.listens($0, on: port) }) else { return nil }
                return (host, listener)
            }
            if let named = onPort.first(where: { $0.0.serves(hostname) }) { return (named.0, named.1, true) }
            if let fallback = onPort.first(where: { $0.1.defaultServer }) ?? onPort.first { return (fallback.0, fallback.1, false) }
        }
        return nil
    }

    static func anyoneListens(on port: UInt16, in model: OriginModel) -> Bool {
        model.webServer.servers.contains { config in
            config.listeners.contains { OriginContext.listens($0, on: port) }
                || config.virtualHosts.contains { $0.listeners.contains { OriginContext.listens($0, on: port) } }
        }
    }
}

/// origin.tls-listener-missing: the mode sends HTTPS to 443 but nothing there speaks TLS for the
/// host (nothing listens → 521; plain HTTP on 443 → the handshake fails → 525).
struct TLSListenerMissingRule: AuditRule {
    let id = "origin.tls-listener-missing"

    func check(_ model: OriginModel, profile: Profile) -> [Finding] {
        guard [.full, .strict, .originPull].contains(profile.tlsMode), !model.webServer.servers.isEmpty else { return [] }
        var findings: [Finding] = []
        for hostname in OriginContext.hostnames(model, profile) {
            guard let chosen = HostSelection.host(for: hostname, port: 443, in: model) else {
                guard let anchor = model.webServer.virtualHosts.first(where: { $0.serves(hostname) }) else { continue }
                findings.append(Finding(
                    ruleId: id,
                    message: "nothing listens on port 443 for \(hostname), but in \(profile.tlsMode.rawValue) mode \(profile.cdn.displayName) connects to 443 for HTTPS visitors: the connection is refused",
                    location: anchor.location, predicts: "521",
                    remediation: OriginContext.directive(anchor.software,
                        nginx: "Add a TLS server for \(hostname): `listen 443 ssl;` with `ssl_certificate` and `ssl_certificate_key`.",
                        apache: "Add `<VirtualHost *:443>` for \(hostname) with `SSLEngine on`, `SSLCertificateFile` and `SSLCertificateKeyFile` (and `Listen 443`)."),
                    key: "\(hostname) 443 none"))
                continue
            }
            guard !chosen.listener.tls else { continue }
            findings.append(Finding(
                ruleId: id,
                message: "port 443 is served without TLS for \(hostname) (\(chosen.listener.location)): \(profile.cdn.displayName)'s TLS handshake in \(profile.tlsMode.rawValue) mode fails",
                location: chosen.listener.location, predicts: "525",
                remediation: OriginContext.directive(chosen.host.software,
                    nginx: "Use `listen 443 ssl;` (with a certificate and key) for this server.",
                    apache: "Set `SSLEngine on` with a certificate and key in the `<VirtualHost *:443>`."),
                key: "\(hostname) 443 plain"))
        }
        return findings
    }
}

/// origin.http-listener-missing: the CDN sends HTTP to 80 (always in flexible/off; for HTTP
/// visitors in full/strict) but nothing listens there for the host.
struct HTTPListenerMissingRule: AuditRule {
    let id = "origin.http-listener-missing"

    func check(_ model: OriginModel, profile: Profile) -> [Finding] {
        guard profile.tlsMode != .originPull, !model.webServer.servers.isEmpty else { return [] }
        var findings: [Finding] = []
        for hostname in OriginContext.hostnames(model, profile) {
            guard HostSelection.host(for: hostname, port: 80, in: model) == nil,
                  let anchor = model.webServer.virtualHosts.first(where: { $0.serves(hostname) }) else { continue }
            let always = profile.tlsMode == .flexible || profile.tlsMode == .off
            findings.append(Finding(
                ruleId: id,
                message: always
                    ? "nothing listens on port 80 for \(hostname), and in \(profile.tlsMode.rawValue) mode \(profile.cdn.displayName) fetches every request over HTTP on port 80"
                    : "nothing listens on port 80 for \(hostname): visitors who reach \(profile.cdn.displayName) over http:// are refused unless the CDN redirects them to HTTPS first (Always Use HTTPS)",
                location: anchor.location,
                severity: always ? nil : .warning,
                predicts: "521",
                remediation: OriginContext.directive(anchor.software,
                    nginx: always ? "Add `listen 80;` to the server for \(hostname)." : "Add a port-80 server for \(hostname), or turn on Always Use HTTPS at the CDN.",
                    apache: always ? "Add `Listen 80` and a `<VirtualHost *:80>` for \(hostname)." : "Add a `<VirtualHost *:80>` for \(hostname), or turn on Always Use HTTPS at the CDN."),
                key: "\(hostname) 80"))
        }
        return findings
    }
}

/// origin.unproxied-port: a host is served only on ports the CDN never connects to.
struct UnproxiedPortRule: AuditRule {
    let id = "origin.unproxied-port"

    func check(_ model: OriginModel, profile: Profile) -> [Finding] {
        var findings: [Finding] = []
        let proxied = profile.cdn.allPorts
        for host in OriginContext.proxiedHosts(model, profile) {
            let ports = host.listeners.compactMap(\.port)
            guard !ports.isEmpty, !ports.contains(where: proxied.contains) else { continue }
            findings.append(Finding(
                ruleId: id,
                message: "\(OriginContext.describe(host)) is served only on port\(ports.count == 1 ? "" : "s") \(ports.map(String.init).joined(separator: ", ")), which \(profile.cdn.displayName) does not proxy (HTTP \(profile.cdn.httpPorts.portList); HTTPS \(profile.cdn.httpsPorts.portList))",
                location: host.listeners.first?.location ?? host.location,
                remediation: "Serve the site on a proxied port (80/443), or point the CDN at the origin through a rule that rewrites the port (Cloudflare Origin Rules).",
                key: "\(host.location.file) \(OriginContext.describe(host))"))
        }
        return findings
    }
}
