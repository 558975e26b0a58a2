import Foundation
import OriginAuditCore
import Certificates
import Firewall
import WebServer

/// tls.origin-ca-exposed: a host serves a Cloudflare Origin CA certificate — trusted by
/// Cloudflare only, never by browsers — while the firewall lets non-CDN addresses reach its TLS
/// port, so anyone who finds the origin's address gets a certificate error. Only definite
/// accepts count; with no firewall ruleset among the inputs, exposure is unknown and nothing is said.
struct OriginCAExposedRule: AuditRule {
    let id = "tls.origin-ca-exposed"

    /// The issuer names of the Origin CA roots (RFC 2253 order differs; compared as sets of parts).
    static let originCANames = ["CloudFlare Origin SSL Certificate Authority", "CloudFlare Origin SSL ECC Certificate Authority"]

    func check(_ model: OriginModel, profile: Profile) -> [Finding] {
        guard !model.firewall.families.isEmpty else { return [] }
        var findings: [Finding] = []
        var seen = Set<String>()
        for served in ServedCertificate.all(model, profile) {
            guard let host = served.host, Self.originCANames.contains(where: { served.leaf.issuer.contains("OU=\($0)") }),
                  seen.insert(served.file.hostPath + "|\(host.location)").inserted else { continue }
            let ports = PortSet(ranges: host.listeners.filter(\.tls).compactMap(\.port).map { $0...$0 })
            guard !ports.isEmpty else { continue }
            var others = DualStackSet()
            for family in AddressFamily.allCases where model.firewall.families.contains(family) {
                others[family] = profile.cdn.ranges[family].complement()
            }
            let exposed = FirewallCheck.evaluator(model, profile).evaluate(sources: others, ports: ports)
                .filter { $0.decision.outcome.certainlyAccepted }
            guard let first = exposed.first else { continue }
            var reach = DualStackSet()
            for part in exposed { reach[part.family].formUnion(part.sources) }
            findings.append(Finding(
                ruleId: id,
                message: "\(served.describe) is issued by the Cloudflare Origin CA (by its issuer name), which only Cloudflare trusts, yet \(reach.ipv4.isEmpty ? reach.ipv6.summary(limit: 3) : reach.ipv4.summary(limit: 3)) can reach tcp/\(ports.portList) directly: visitors who reach the origin without the CDN get a certificate error",
                location: served.location,
                related: [RelatedLocation(first.decision.decidedBy.location, "accepts non-CDN sources: \(first.decision.decidedBy.text)")],
                key: "\(served.file.displayPath) \(host.location.file) exposed"))
        }
        return findings
    }
}
