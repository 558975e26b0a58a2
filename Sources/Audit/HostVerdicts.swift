import OriginAuditCore
import AuditRules
import WebServer
import Certificates

/// The verdict per proxied hostname under the profile's TLS mode (what `--format html` puts at
/// the top), derived from the report's findings: a finding that predicts a visitor-facing
/// failure counts for a hostname when it sits on a directive of a virtual host serving that name
/// (a certificate that does not cover a name: only for the names it leaves out), or when it is
/// tied to no virtual host at all (the firewall, a server that will not start): then it counts for
/// every hostname. Nothing is assumed about what was not given: a missing firewall, a name no
/// virtual host serves, a certificate that was not read, and findings that make an outcome
/// uncertain are listed, and without a predicted failure the verdict is then `unknown`.
public enum HostVerdicts {
    /// Findings that do not predict an outcome but leave it open (an unmodelled match, a file
    /// that could not be read or parsed, a value not known statically).
    static let uncertainRules: Set<String> = [
        "firewall.unknown-match", "firewall.set-unresolved", "input.parse-error", "input.unreadable", "input.unresolved",
    ]

    public static func compute(model: OriginModel, profile: Profile, findings: [Finding],
                               unfilteredFamilies: [AddressFamily]) -> [HostVerdict] {
        let hosts = model.webServer.virtualHosts
        let directiveLines = hosts.map(directiveLines)
        // Each finding that matters, with the virtual hosts it is tied to (empty: the whole origin).
        var relevant: [(index: Int, hosts: [Int], failure: Bool)] = []
        for (index, finding) in findings.enumerated() {
            let severity = finding.severity ?? .warning
            let failure = severity >= .warning && finding.predicts.map(HostVerdict.isVisitorFailure) == true
            guard failure || uncertainRules.contains(finding.ruleId) else { continue }
            var tied: [Int] = []
            if !finding.ruleId.hasPrefix("firewall."), let location = finding.location {
                let key = lineKey(location)
                tied = directiveLines.indices.filter { directiveLines[$0].contains(key) }
            }
            relevant.append((index, tied, failure))
        }

        var common: [String] = []
        if model.firewall.families.isEmpty {
            common.append("no firewall ruleset was given: whether the CDN's connections reach the origin was not analysed")
        }
        for family in unfilteredFamilies {
            common.append("no \(family == .ipv4 ? "IPv4" : "IPv6") ruleset was given: the CDN's \(family == .ipv4 ? "IPv4" : "IPv6") connections were not analysed")
        }
        if hosts.isEmpty {
            common.append("no web-server configuration was given: what the origin answers was not analysed")
        }

        let hostnames = model.proxiedHostnames(profile)
        let names: [String?] = hostnames.isEmpty ? [nil] : hostnames.map { $0 }
        return names.map { name in
            let serving = name.map { name in hosts.indices.filter { hosts[$0].serves(name) } } ?? Array(hosts.indices)
            var unknowns = common
            if let name, serving.isEmpty, !hosts.isEmpty {
                unknowns.append("no virtual host serves \(name): which server answers it (a default server) was not analysed")
            }
            if profile.tlsMode.validatesCertificate {
                for index in serving {
                    for path in hosts[index].tls?.certificateFiles ?? [] {
                        guard let hostPath = path.hostPath else {
                            unknowns.append("the certificate at \(path.location) is not known statically (\(path.unresolvedReason ?? "a variable in its path")): whether the CDN accepts it was not analysed")
                            continue
                        }
                        let missing = model.certificates.missing.contains { $0.hostPath == hostPath }
                        if model.certificates[hostPath] == nil && !missing {
                            unknowns.append("the certificate \(path.raw) named at \(path.location) was not read: whether the CDN accepts it was not analysed")
                        }
                    }
                }
            }
            var causes: [HostVerdict.Cause] = []
            var uncertain: [Int] = []
            for entry in relevant {
                let finding = findings[entry.index]
                let applies: Bool
                if entry.hosts.isEmpty {
                    applies = true
                } else if let name {
                    let mine = entry.hosts.filter { serving.contains($0) }
                    applies = !mine.isEmpty && concernsName(finding, name, hosts: mine.map { hosts[$0] }, model: model)
                } else {
                    applies = true
                }
                guard applies else { continue }
                if entry.failure, let predicts = finding.predicts {
                    causes.append(HostVerdict.Cause(predicts: predicts, severity: finding.severity ?? .warning,
                                                    finding: entry.index, originWide: entry.hosts.isEmpty))
                } else {
                    uncertain.append(entry.index)
                }
            }
            let status: HostVerdict.Status
            if causes.contains(where: { $0.severity == .error }) {
                status = .fails
            } else if !causes.isEmpty {
                status = .atRisk
            } else if !unknowns.isEmpty || !uncertain.isEmpty {
                status = .unknown
            } else {
                status = .works
            }
            var verdict = HostVerdict(hostname: name ?? "", tlsMode: profile.tlsMode, status: status, causes: causes,
                                      unknowns: unknowns, servedAt: serving.map { hosts[$0].location })
            verdict.uncertainFindings = uncertain
            return verdict
        }
    }

    static func lineKey(_ location: SourceLocation) -> String { "\(location.file)\u{1F}\(location.line)" }

    /// The lines of every directive that makes up a virtual host, including what it inherits.
    static func directiveLines(_ host: VirtualHost) -> Set<String> {
        var locations: [SourceLocation] = [host.location]
        locations += host.names.map(\.location)
        locations += host.listeners.map(\.location)
        if let tls = host.tls {
            locations += tls.certificateFiles.map(\.location) + tls.keyFiles.map(\.location)
            locations += [tls.chainFile?.location, tls.protocols?.location, tls.ciphers?.location, tls.certificateRequiredAt,
                          tls.clientVerification?.mode.location, tls.clientVerification?.caFile?.location].compactMap { $0 }
        }
        if let realIP = host.realIP {
            locations.append(realIP.location)
            locations += realIP.trustedEntries.map(\.location) + realIP.unresolved.map(\.location)
            if let header = realIP.header { locations.append(header.location) }
        }
        locations += host.accessRules.map(\.location) + host.limiters.map(\.location) + host.redirects.map(\.location)
        locations += host.timeouts.map(\.location) + host.upstreams.map(\.location)
        if let keepAlive = host.keepAlive { locations.append(keepAlive.location) }
        return Set(locations.map(lineKey))
    }

    /// Whether a finding on a virtual host concerns one of its names. Everything about a host
    /// concerns all its names, except which names its certificate covers: a hostname mismatch
    /// (or a name matched only through the CN) is about the names the certificate named at the
    /// finding's place leaves out, decided here from the certificate itself.
    static func concernsName(_ finding: Finding, _ name: String, hosts: [VirtualHost], model: OriginModel) -> Bool {
        guard finding.ruleId == "tls.hostname-mismatch" || finding.ruleId == "tls.cn-only", let location = finding.location else { return true }
        let paths = hosts.flatMap { $0.tls?.certificateFiles ?? [] }.filter { lineKey($0.location) == lineKey(location) }
        let leaves = paths.compactMap { $0.hostPath.flatMap { model.certificates[$0]?.certificates.first } }
        guard !leaves.isEmpty else { return true }
        if finding.message.contains(" only through a wildcard") {
            // A wildcard that the issuer's name constraints exclude: the message names the one name.
            return finding.message.contains(" covers \(name) only through a wildcard")
        }
        return leaves.contains { leaf in
            let coverage = leaf.covers(name)
            return finding.ruleId == "tls.cn-only" ? coverage.covered && coverage.byCommonNameOnly : !coverage.covered
        }
    }
}
