import OriginAuditCore
import Firewall
import WebServer

/// origin.port-not-listening: the firewall lets the CDN in on a port it will use, but nothing
/// listens there, so the kernel answers the SYN with a reset and the CDN reports 521. What
/// listens comes from the web-server configuration, or — in live mode — from the kernel's own
/// socket table (a server that is configured but stopped).
struct PortNotListeningRule: AuditRule {
    let id = "origin.port-not-listening"

    func check(_ model: OriginModel, profile: Profile) -> [Finding] {
        guard !model.firewall.families.isEmpty, !profile.cdn.ranges.isEmpty else { return [] }
        let listening: (UInt16) -> Bool
        let evidence: String
        if let sockets = model.sockets {
            listening = { sockets.listens(port: $0) }
            evidence = "no socket is listening on this machine"
        } else if !model.webServer.servers.isEmpty {
            listening = { HostSelection.anyoneListens(on: $0, in: model) }
            evidence = "no web-server configuration listens there"
        } else {
            return []
        }
        let wanted = FirewallCheck.ports(model, profile)
        // Judged from the configuration alone, a standard port nobody configures is already
        // origin.tls-listener-missing / origin.http-listener-missing for every host that needs
        // it: one finding per cause. Live sockets add what the configuration cannot show (a
        // server configured on the port but not running).
        var covered = Set<UInt16>()
        if model.sockets == nil {
            let selection = HostSelection.of(model)
            if OriginContext.hostnames(model, profile).contains(where: { selection.anyHost(serving: $0) != nil }) {
                if profile.tlsMode != .originPull { covered.insert(80) }
                if [.full, .strict, .originPull].contains(profile.tlsMode) { covered.insert(443) }
            }
        }
        var silent = PortSet()
        for range in wanted.ranges {
            for port in range where !listening(port) && !covered.contains(port) { silent.insert(port...port) }
        }
        guard !silent.isEmpty else { return [] }
        let parts = FirewallCheck.evaluator(model, profile).evaluate(sources: FirewallCheck.cdnSources(model.firewall, profile), ports: silent)
        var byRule: [RuleReference: (ports: PortSet, sources: DualStackSet)] = [:]
        for part in parts where part.decision.outcome.kind == .accept {
            var entry = byRule[part.decision.decidedBy] ?? (PortSet(), DualStackSet())
            entry.ports.formUnion(part.ports)
            entry.sources[part.family].formUnion(part.sources)
            byRule[part.decision.decidedBy] = entry
        }
        return byRule.keys.sorted { $0.location < $1.location }.map { rule in
            let entry = byRule[rule]!
            let policy = rule.text.hasPrefix("policy ")
            return Finding(
                ruleId: id,
                message: "\(policy ? "the chain policy" : "the firewall rule") at \(rule.location) lets \(profile.cdn.displayName) in on tcp/\(entry.ports.portList), which it uses in \(profile.tlsMode.rawValue) mode, but \(evidence): the connection is reset",
                location: rule.location,
                related: [RelatedLocation(rule.location, "\(rule.chain): \(rule.text)")],
                remediation: "Start (or configure) the server on tcp/\(entry.ports.portList) — e.g. nginx `listen \(entry.ports.ranges.first.map { String($0.lowerBound) } ?? "80");` — or change the CDN's mode so it does not use the port.",
                key: "\(rule.location.file) \(rule.text) \(entry.ports.portList)")
        }
    }
}
