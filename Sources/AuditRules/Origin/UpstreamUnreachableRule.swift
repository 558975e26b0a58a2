import OriginAuditCore
import WebServer

/// origin.upstream-unreachable (live mode): a proxy_pass/fastcgi_pass/ProxyPass to a local port or
/// unix socket where nothing listens — the 502 of a stopped PHP-FPM or application server.
struct UpstreamUnreachableRule: AuditRule {
    let id = "origin.upstream-unreachable"

    static let localNames: Set<String> = ["localhost", "127.0.0.1", "::1", "[::1]", "ip6-localhost"]

    func check(_ model: OriginModel, profile: Profile) -> [Finding] {
        guard let sockets = model.sockets else { return [] }
        var findings: [Finding] = []
        var seen = Set<String>()
        for host in model.webServer.virtualHosts {
            for upstream in host.upstreams {
                for endpoint in Self.endpoints(upstream.endpoint) {
                    guard let problem = Self.problem(endpoint, sockets) else { continue }
                    let key = "\(upstream.location) \(problem.target)"
                    guard seen.insert(key).inserted else { continue }
                    findings.append(Finding(
                        ruleId: id,
                        message: "\(upstream.directive) sends \(OriginContext.describe(host))\(upstream.scope.map { " \($0)" } ?? "") to \(problem.target), where \(problem.reason): every such request gets 502",
                        location: upstream.location,
                        remediation: "Start the service behind \(problem.target) (and enable it at boot), or point \(upstream.directive) at where it really listens.",
                        key: "\(upstream.location.file) \(upstream.directive) \(problem.target)"))
                }
            }
        }
        return findings
    }

    static func endpoints(_ endpoint: UpstreamTarget.Endpoint) -> [UpstreamTarget.Endpoint] {
        if case .group(_, let members) = endpoint { return members.flatMap(endpoints) }
        return [endpoint]
    }

    static func problem(_ endpoint: UpstreamTarget.Endpoint, _ sockets: HostSockets) -> (target: String, reason: String)? {
        switch endpoint {
        case .tcp(let host, let port):
            let lower = host.lowercased()
            let address = IPAddress(lower)
            let isLocal = localNames.contains(lower) || (address.map { $0.family == .ipv4 && $0.value >> 24 == 127 } ?? false)
            guard isLocal else { return nil }
            let listening = address.map { sockets.listens(port: port, address: $0) } ?? sockets.listens(port: port)
            return listening ? nil : ("\(host):\(port)", "nothing listens")
        case .unix(let path):
            return sockets.unixPaths.contains(path) ? nil : ("unix:\(path)", "no socket exists")
        case .group, .unresolved:
            return nil
        }
    }
}
