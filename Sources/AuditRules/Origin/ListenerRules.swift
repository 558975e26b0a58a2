import OriginAuditCore
import WebServer

/// Which virtual host answers a hostname on a port: one that names it, else the port's default
/// server (nginx: `default_server`, or the first server on that port; Apache: the first vhost).
/// Built once per check: an estate has tens of thousands of hosts and names.
struct HostSelection {
    private struct Config {
        /// Port → (host, listener) in configuration order.
        var byPort: [UInt16: [(host: Int, listener: Listener)]] = [:]
        /// Port → host → its position in `byPort[port]`.
        var position: [UInt16: [Int: Int]] = [:]
        /// Lowercased exact name → hosts that carry it.
        var exact: [String: [Int]] = [:]
        /// Hosts with wildcard or regex names, matched one by one.
        var patterns: [Int] = []
    }

    private let hosts: [VirtualHost]
    private let configs: [Config]

    /// The selection for a model, built once and shared by the rules that ask.
    static func of(_ model: OriginModel) -> HostSelection {
        model.derived.value("host selection") { HostSelection(model) }
    }

    init(_ model: OriginModel) {
        var hosts: [VirtualHost] = []
        var configs: [Config] = []
        for server in model.webServer.servers {
            var config = Config()
            // A host has a name or two: room made once rather than grown step by step.
            config.exact.reserveCapacity(server.virtualHosts.count * 2)
            for host in server.virtualHosts {
                let index = hosts.count
                hosts.append(host)
                var seenPorts = Set<UInt16>()
                for listener in host.listeners {
                    guard let port = listener.port, OriginContext.listens(listener, on: port), seenPorts.insert(port).inserted else { continue }
                    config.position[port, default: [:]][index] = config.byPort[port]?.count ?? 0
                    config.byPort[port, default: []].append((index, listener))
                }
                var patterned = false
                for name in host.names {
                    switch name.value {
                    case .exact(let exact): config.exact[LowercaseASCII.lowercased(exact), default: []].append(index)
                    case .wildcard, .regex: patterned = true
                    case .catchAll: break
                    }
                }
                if patterned { config.patterns.append(index) }
            }
            configs.append(config)
        }
        self.hosts = hosts
        self.configs = configs
    }

    /// The host that answers `hostname` on `port`, as its index (`host(at:)`): most callers
    /// only ask whether there is one, or look at the listener, and a host is a large value to copy.
    func choice(for hostname: String, port: UInt16) -> (host: Int, listener: Listener, byName: Bool)? {
        let lower = LowercaseASCII.lowercased(hostname)
        for config in configs {
            guard let onPort = config.byPort[port], !onPort.isEmpty else { continue }
            let positions = config.position[port] ?? [:]
            // The earliest on this port among the hosts that name it.
            var first: Int?
            for index in config.exact[lower] ?? [] {
                if let position = positions[index], position < first ?? .max { first = position }
            }
            for index in config.patterns where hosts[index].serves(hostname) {
                if let position = positions[index], position < first ?? .max { first = position }
            }
            if let first { return (onPort[first].host, onPort[first].listener, true) }
            let fallback = onPort.first(where: { $0.listener.defaultServer }) ?? onPort[0]
            return (fallback.host, fallback.listener, false)
        }
        return nil
    }

    func host(at index: Int) -> VirtualHost { hosts[index] }

    /// What `choice(for:port:)` gives every hostname on a port, where the names do not matter.
    enum PortAnswer: Equatable {
        /// No host listens there: no host is chosen for any name.
        case nobody
        /// Each host that can be chosen (its first listener there) speaks TLS on it.
        case onlyTLS
        /// Some host that can be chosen listens in plain text: which one answers depends on the name.
        case someInPlainText
    }

    /// `PortAnswer` for `port`, read from the listeners alone (no selection built): the hosts
    /// `choice(for:port:)` chooses among are those of the first configuration where any host
    /// listens on the port, each by its first listener there. The 20,000 names of a large
    /// estate then need no choosing one by one when, as usual, every name gets a TLS server on
    /// 443 and some server on 80.
    static func answer(on port: UInt16, in model: OriginModel) -> PortAnswer {
        for server in model.webServer.servers {
            var listened = false
            for host in server.virtualHosts {
                guard let first = host.listeners.first(where: { OriginContext.listens($0, on: port) }) else { continue }
                if !first.tls { return .someInPlainText }
                listened = true
            }
            if listened { return .onlyTLS }
        }
        return .nobody
    }

    /// The first host that names `hostname`, on any port.
    func anyHost(serving hostname: String) -> VirtualHost? {
        let lower = LowercaseASCII.lowercased(hostname)
        for config in configs {
            if let index = config.exact[lower]?.first { return hosts[index] }
            if let index = config.patterns.first(where: { hosts[$0].serves(hostname) }) { return hosts[index] }
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
        if Self.portAnswersEveryName(model) { return [] }
        let selection = HostSelection.of(model)
        for hostname in OriginContext.hostnames(model, profile) {
            guard let chosen = selection.choice(for: hostname, port: 443) else {
                guard let anchor = selection.anyHost(serving: hostname) else { continue }
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
                remediation: OriginContext.directive(selection.host(at: chosen.host).software,
                    nginx: "Use `listen 443 ssl;` (with a certificate and key) for this server.",
                    apache: "Set `SSLEngine on` with a certificate and key in the `<VirtualHost *:443>`."),
                key: "\(hostname) 443 plain"))
        }
        return findings
    }

    /// Whether port 443 alone settles every name (whichever host is chosen there speaks TLS):
    /// then no host is chosen name by name, here or in `SharedResults.prepare`.
    static func portAnswersEveryName(_ model: OriginModel) -> Bool {
        HostSelection.answer(on: 443, in: model) == .onlyTLS
    }
}

/// origin.http-listener-missing: the CDN sends HTTP to 80 (always in flexible/off; for HTTP
/// visitors in full/strict) but nothing listens there for the host.
struct HTTPListenerMissingRule: AuditRule {
    let id = "origin.http-listener-missing"

    func check(_ model: OriginModel, profile: Profile) -> [Finding] {
        guard profile.tlsMode != .originPull, !model.webServer.servers.isEmpty else { return [] }
        var findings: [Finding] = []
        if Self.portAnswersEveryName(model) { return [] }
        let selection = HostSelection.of(model)
        for hostname in OriginContext.hostnames(model, profile) {
            guard let anchor = selection.anyHost(serving: hostname) else { continue }
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

    /// Whether port 80 alone settles every name (some host listens there, and answers every name,
    /// as its default server at least): then no host is chosen name by name, here or in
    /// `SharedResults.prepare`.
    static func portAnswersEveryName(_ model: OriginModel) -> Bool {
        HostSelection.answer(on: 80, in: model) != .nobody
    }
}

/// origin.unproxied-port: a host is served only on ports the CDN never connects to.
struct UnproxiedPortRule: AuditRule {
    let id = "origin.unproxied-port"

    func check(_ model: OriginModel, profile: Profile) -> [Finding] {
        var findings: [Finding] = []
        let proxied = profile.cdn.allPorts
        for host in OriginContext.proxiedHosts(model, profile) {
            // Most hosts listen on a proxied port: asked first, before their ports are gathered.
            guard !host.listeners.contains(where: { $0.port.map(proxied.contains) ?? false }) else { continue }
            // One port listened on at several addresses (or in several files) is named once.
            var ports: [UInt16] = []
            for listener in host.listeners { if let port = listener.port, !ports.contains(port) { ports.append(port) } }
            ports.sort()
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
