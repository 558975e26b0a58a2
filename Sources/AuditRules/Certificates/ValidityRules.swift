import Foundation
import OriginAuditCore
import Certificates
import WebServer

/// tls.cert-expired, tls.cert-not-yet-valid and tls.cert-expiring, judged at `--at` for the
/// leaf and every certificate served after it.
struct ValidityRule: AuditRule {
    enum Kind { case expired, notYetValid, expiring }
    let kind: Kind
    var id: String {
        switch kind {
        case .expired: "tls.cert-expired"
        case .notYetValid: "tls.cert-not-yet-valid"
        case .expiring: "tls.cert-expiring"
        }
    }

    func check(_ model: OriginModel, profile: Profile) -> [Finding] {
        // Each certificate judged once (known by its DER, as its fingerprint is).
        var seen = Set<CertificateInfo>()
        var findings: [Finding] = []
        let kind = kind, clause = ModeSeverity.clause(profile)
        let renewal = profile.tlsMode.validatesCertificate ? ": renew it before \(ModeSeverity.validator(profile)) starts answering 526" : ""
        for served in ServedCertificate.all(model, profile) {
            for (position, certificate) in served.judged(model, profile).enumerated() {
                guard seen.insert(certificate).inserted else { continue }
                let role: Role = position == 0 ? .leaf : served.chain.contains(certificate) ? .chain : .root
                switch kind {
                case .expired:
                    guard certificate.isExpired(at: profile.at) else { continue }
                case .notYetValid:
                    guard certificate.isNotYetValid(at: profile.at) else { continue }
                case .expiring:
                    guard !certificate.isExpired(at: profile.at), certificate.notAfter <= profile.at.addingTimeInterval(profile.expiryWindow) else { continue }
                }
                let days = Int(certificate.notAfter.timeIntervalSince(profile.at) / 86_400)
                // Made when the report reads it (Finding.Deferred), from what the model holds until then anyway.
                let message = Finding.Deferred {
                    let name = role.describe(certificate, served)
                    return switch kind {
                    case .expired: "\(name) expired on \(DateText.day(certificate.notAfter)): \(clause)"
                    case .notYetValid: "\(name) is not valid before \(DateText.day(certificate.notBefore)): \(clause)"
                    case .expiring: "\(name) expires on \(DateText.day(certificate.notAfter)), in \(days) day\(days == 1 ? "" : "s")\(renewal)"
                    }
                }
                findings.append(Finding(
                    ruleId: id, message: message, location: served.location,
                    severity: kind == .expiring ? (profile.tlsMode.validatesCertificate ? nil : .info) : ModeSeverity.forValidation(profile),
                    predicts: kind == .expiring ? nil : ModeSeverity.predicts(profile),
                    key: Finding.Deferred { String(exactly: "\(served.file.displayPath) \(certificate.fingerprint)") }))
            }
        }
        return findings
    }

    /// Which certificate of what a server serves a finding is about.
    enum Role {
        case leaf, chain, root

        /// How a message names it.
        func describe(_ certificate: CertificateInfo, _ served: ServedCertificate) -> String {
            let name = certificate.commonName ?? certificate.subjectText
            return switch self {
            case .leaf: "the certificate \(served.describe)"
            case .chain: "the chain certificate \(name) served in \(served.file.displayPath)"
            case .root: "the trusted root \(name) that \(served.describe) chains to"
            }
        }
    }
}

/// tls.hostname-mismatch and tls.cn-only: every proxied name the host serves must be covered by
/// the certificate's subjectAltName (one-label wildcards; the CN only when there is no SAN).
struct HostnameRule: AuditRule {
    let cnOnly: Bool
    var id: String { cnOnly ? "tls.cn-only" : "tls.hostname-mismatch" }

    func check(_ model: OriginModel, profile: Profile) -> [Finding] {
        var findings: [Finding] = []
        var seen = Set<String>()
        // Each place and set of names judged once. Known by their values, not by a text made
        // of them: one text per served certificate was held until the rule ended (1.5 MB on
        // 5,000 certificates).
        struct Judged: Hashable { let location: SourceLocation, names: [String] }
        var judged = Set<Judged>()
        // Thousands of certificates miss the same names: their remediation is made once (each
        // finding's own copy was held until the rule ended, when equal texts are shared).
        var remediation: (names: [String], text: String)?
        let clause = ModeSeverity.clause(profile)
        for served in ServedCertificate.all(model, profile) {
            var uncovered: [String] = []
            var viaCN: [String] = []
            for name in served.hostnames {
                let result = served.leaf.covers(name)
                if !result.covered { uncovered.append(name) } else if result.byCommonNameOnly { viaCN.append(name) }
            }
            if !cnOnly, uncovered.isEmpty, let verdict = TrustVerdict.of(served, model, profile) {
                let issuers = Array(verdict.chain.dropFirst())
                for name in served.hostnames {
                    guard let issuer = served.leaf.wildcardEscapesConstraints(name, issuers: issuers),
                          seen.insert("\(served.location) \(name) constraints").inserted else { continue }
                    findings.append(ModeSeverity.strictVerifierFinding(
                        id, "\(served.describe) covers \(name) only through a wildcard, and the name constraints of \(issuer.commonName ?? issuer.subjectText) do not allow \(name): OpenSSL lets the wildcard pass, Go's crypto/x509 (since CVE-2025-61727) and rustls/webpki refuse it",
                        at: served.location, profile, key: "\(served.file.displayPath) \(name) constraints"))
                }
            }
            let names = cnOnly ? viaCN : uncovered
            guard !names.isEmpty, judged.insert(Judged(location: served.location, names: names)).inserted else { continue }
            if cnOnly {
                findings.append(Finding(
                    ruleId: id,
                    message: "\(served.describe) has no subjectAltName: \(names.joined(separator: ", ")) \(names.count == 1 ? "is" : "are") matched only through the subject CN, which browsers and many TLS clients no longer accept",
                    location: served.location,
                    key: "\(served.file.displayPath) cn-only"))
            } else {
                let remedy: String
                if let last = remediation, last.names == names {
                    remedy = last.text
                } else {
                    remedy = "Issue a certificate whose subjectAltName lists \(names.joined(separator: ", ")) (a Cloudflare Origin CA certificate for *.zone and zone covers every proxied name), or serve these names from a host with their own certificate."
                    remediation = (names, remedy)
                }
                // Message and key made when the report reads them (Finding.Deferred), one per served
                // certificate, from what the model holds until then anyway.
                findings.append(Finding(
                    ruleId: id,
                    message: Finding.Deferred {
                        let leaf = served.leaf
                        let covered = leaf.hasSubjectAltName ? leaf.dnsNames.joined(separator: ", ") : "CN \(leaf.commonName ?? "none")"
                        return String(exactly: "\(served.describe) does not cover \(names.joined(separator: ", ")) (it names \(covered.isEmpty ? "no DNS name" : covered)): \(clause)")
                    },
                    location: served.location,
                    severity: ModeSeverity.forValidation(profile), predicts: ModeSeverity.predicts(profile),
                    remediation: remedy,
                    key: Finding.Deferred { String(exactly: "\(served.file.displayPath) \(names.joined(separator: ","))") }))
            }
        }
        return findings
    }
}
