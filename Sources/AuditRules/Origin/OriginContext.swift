import OriginAuditCore
import WebServer

/// What the origin.* rules share: which virtual hosts the CDN will talk to, on which ports, and
/// how a fix is spelled in the server's own syntax.
enum OriginContext {
    /// Virtual hosts that serve a proxied hostname (`--hostname`), or every named host when none
    /// was given.
    static func proxiedHosts(_ model: OriginModel, _ profile: Profile) -> [VirtualHost] {
        model.derived.value("proxied hosts \(profile.hostnames)") {
            // In runs side by side on a large estate: each host's names are read once, cold in
            // the cache, before the rules can start.
            let hosts = model.webServer.virtualHosts, hostnames = profile.hostnames
            return ConcurrentRuns.map(count: hosts.count, minimum: 4_096) { range in
                hosts[range].filter { host in
                    if hostnames.isEmpty { return host.names.contains { if case .catchAll = $0.value { false } else { true } } }
                    return hostnames.contains { host.serves($0) }
                }
            }
        }
    }

    /// The hostnames to reason about: `--hostname`, or every exact name configured.
    static func hostnames(_ model: OriginModel, _ profile: Profile) -> [String] {
        if !profile.hostnames.isEmpty { return profile.hostnames }
        return model.derived.value("configured hostnames") {
            var names: [String] = []
            // A host has a name or two: room made once rather than grown step by step.
            var seen = Set<String>(minimumCapacity: model.webServer.virtualHosts.count * 2)
            for host in model.webServer.virtualHosts {
                for name in host.names { if case .exact(let n) = name.value, seen.insert(LowercaseASCII.lowercased(n)).inserted { names.append(n) } }
            }
            return names
        }
    }

    /// The ports the CDN will open connections to: what the mode implies (flexible: 80;
    /// full/strict: 80 and 443 by the visitor's scheme; origin-pull: 443), plus the other proxied
    /// ports the listeners use (a site on 8443 is reached on 8443).
    static func cdnPorts(_ model: OriginModel, _ profile: Profile) -> (http: PortSet, https: PortSet) {
        let key = "cdn ports \(profile.tlsMode) \(profile.defaultPorts.http.portList) \(profile.defaultPorts.https.portList) \(profile.cdn.httpPorts.portList) \(profile.cdn.httpsPorts.portList)"
        return model.derived.value(key) { computeCDNPorts(model, profile) }
    }

    private static func computeCDNPorts(_ model: OriginModel, _ profile: Profile) -> (http: PortSet, https: PortSet) {
        var (http, https) = profile.defaultPorts
        // 10,000 hosts listen on a handful of ports: each port, with TLS or without, is judged once.
        var judged = Set<UInt32>()
        for host in model.webServer.virtualHosts {
            for listener in host.listeners {
                guard let port = listener.port, judged.insert(UInt32(port) << 1 | (listener.tls ? 1 : 0)).inserted else { continue }
                let single = PortSet(port...port)
                if listener.tls, profile.tlsMode != .off, profile.tlsMode != .flexible, profile.cdn.httpsPorts.contains(port) {
                    https.formUnion(single)
                } else if !listener.tls, profile.tlsMode != .originPull, profile.cdn.httpPorts.contains(port) {
                    http.formUnion(single)
                }
            }
        }
        return (http, https)
    }

    /// Whether a listener accepts connections on a TCP port (any address, or a concrete one).
    static func listens(_ listener: Listener, on port: UInt16) -> Bool {
        if case .unix = listener.address { return false }
        return listener.port == port
    }

    static func directive(_ software: ServerSoftware, nginx: String, apache: String) -> String {
        software == .nginx ? nginx : apache
    }

    /// The CDN's ranges as configuration lines in the server's syntax, for remediations.
    static func trustLines(_ profile: Profile, _ software: ServerSoftware, _ set: DualStackSet? = nil) -> String {
        let cidrs = (set ?? profile.cdn.ranges).cidrs.map(\.description)
        switch software {
        case .nginx: return cidrs.map { "set_real_ip_from \($0);" }.joined(separator: "\n")
        case .apache: return "RemoteIPTrustedProxy " + cidrs.joined(separator: " ")
        }
    }

    /// The host's names, for messages. A host with no name of its own is named as `httpd -S`
    /// lists it — by its addresses and where it is defined — rather than by a placeholder: httpd
    /// gives a name-less vhost the main server's name, which here is not set either.
    static func describe(_ host: VirtualHost) -> String {
        // The first three names, and how many more (without gathering them all first). Their
        // length is counted first and the text written once into storage of that size: adding
        // each to a growing string cost a new storage (or a slow append) per name, for each of
        // 10,000 hosts in several rules.
        var count = 0, length = 0
        var first = ""
        for name in host.names where name.value != .catchAll {
            if count == 0 { first = name.value.description }
            if count < 3 { length += (count == 0 ? 0 : 2) + name.value.description.utf8.count }
            count += 1
        }
        // (One name is the name itself, its storage shared.)
        let shown = count < 2 ? first : String(unsafeUninitializedCapacity: length) { buffer in
            var offset = 0, listed = 0
            for name in host.names where name.value != .catchAll && listed < 3 {
                if listed > 0 { offset = ExactText.write(", ", into: buffer, at: offset) }
                offset = ExactText.write(name.value.description, into: buffer, at: offset)
                listed += 1
            }
            return offset
        }
        if count == 0 {
            var sockets: [String] = []
            for listener in host.listeners where !sockets.contains(socket(listener)) { sockets.append(socket(listener)) }
            let on = sockets.isEmpty ? "" : " " + sockets.joined(separator: " ")
            let place = host.location.line > 0 ? "\(host.location.file):\(host.location.line)" : host.location.file
            return host.software == .apache
                ? "the <VirtualHost\(on)> without a ServerName (\(place))"
                : "the server\(on.isEmpty ? "" : " on" + on) without a server_name (\(place))"
        }
        return count > 3 ? shown + " (+\(count - 3))" : shown
    }

    /// `address:port` as `httpd -S` prints it (`*:80`, `0.0.0.0:7081`, `[::1]:443`).
    static func socket(_ listener: Listener) -> String {
        let address: String
        switch listener.address {
        case .any(nil): address = "*"
        case .any(.ipv4): address = "0.0.0.0"
        case .any(.ipv6): address = "[::]"
        case .ip(let ip): address = ip.family == .ipv6 ? "[\(ip)]" : "\(ip)"
        case .hostname(let name): address = name
        case .unix(let path): return "unix:" + path
        }
        return listener.port.map { "\(address):\($0)" } ?? address
    }
}

/// The last address set a rule summarised, and its text: the hosts of one estate mostly share
/// one set (the CDN ranges an access list or a limiter catches), and summarising it again for
/// each of 10,000 hosts was most of such a rule's time. One per rule run, never shared.
final class LastSummary {
    private var last: (set: DualStackSet, text: String)?

    func text(_ set: DualStackSet, _ make: () -> String) -> String {
        if let last, last.set == set { return last.text }
        let text = make()
        last = (set, text)
        return text
    }
}
