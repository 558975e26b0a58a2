import Foundation
import OriginAuditCore
import Certificates
import WebServer

/// The chain verdict of one served certificate at `--at`, computed by libcrypto against the
/// trust store built while loading (system roots, Origin CA roots, --ca-file).
enum TrustVerdict {
    static func of(_ served: ServedCertificate, _ model: OriginModel, _ profile: Profile) -> ChainVerdict? {
        model.certificates.trust?.verify(leaf: served.leaf, served: served.chain, at: profile.at)
    }
}

/// tls.self-signed, tls.untrusted-issuer and tls.chain-incomplete: why the chain is not accepted
/// by a TLS client (OpenSSL with the SSL-server purpose, as libssl verifies a server). Expiry is
/// left to the validity rules. What OpenSSL's default refuses is an error (526 in strict mode);
/// what only stricter validators refuse (OpenSSL's X509_STRICT, rustls/webpki) is a warning that
/// names them, since the CDN's own verifier may or may not be one of them.
struct TrustRule: AuditRule {
    enum Kind { case selfSigned, untrustedIssuer, chainIncomplete }
    let kind: Kind
    var id: String {
        switch kind {
        case .selfSigned: "tls.self-signed"
        case .untrustedIssuer: "tls.untrusted-issuer"
        case .chainIncomplete: "tls.chain-incomplete"
        }
    }

    func check(_ model: OriginModel, profile: Profile) -> [Finding] {
        // Each file and leaf judged once (a certificate is known by its DER, as its fingerprint is).
        struct Judged: Hashable { let file: String, leaf: CertificateInfo }
        var seen = Set<Judged>()
        var findings: [Finding] = []
        let clause = ModeSeverity.clause(profile)
        for served in ServedCertificate.all(model, profile) {
            guard let verdict = TrustVerdict.of(served, model, profile),
                  seen.insert(Judged(file: served.file.hostPath, leaf: served.leaf)).inserted else { continue }
            // Issuance-policy remarks only where nothing weightier is said about the chain.
            if kind == .untrustedIssuer, verdict.trustProblem == nil {
                for note in PolicyNote.notes(leaf: served.leaf, path: verdict.chain) where note.kind == .usage {
                    findings.append(Finding(ruleId: id, message: "\(served.describe): \(note.text)", location: served.location,
                                            severity: .info, predicts: nil, key: "\(served.file.displayPath) \(served.leaf.fingerprint) \(note.text)"))
                }
            }
            guard let problem = verdict.trustProblem else {
                if kind == .untrustedIssuer, let objection = StrictObjection.first(leaf: served.leaf, verdict: verdict) {
                    findings.append(ModeSeverity.strictVerifierFinding(id, "\(served.describe): \(objection)", at: served.location, profile,
                                                                       key: "\(served.file.displayPath) \(served.leaf.fingerprint) strict"))
                }
                continue
            }
            // Made when the report reads it (Finding.Deferred): one message per served certificate,
            // from what the model holds until then anyway.
            let message: Finding.Deferred
            switch kind {
            case .selfSigned:
                guard problem.isSelfSignedLeaf || served.leaf.isSelfSigned else { continue }
                message = Finding.Deferred { "\(served.describe) is self-signed\(served.leaf.isCA ? " (and marked as a CA, as `openssl req -x509` makes it: still the certificate the server sends)" : ""): \(clause)" }
            case .untrustedIssuer:
                guard !served.leaf.isSelfSigned else { continue }
                if problem.isUntrustedRoot {
                    message = Finding.Deferred { "\(served.describe) chains to a root that is neither publicly trusted nor the Cloudflare Origin CA (\(problem.reason)): \(clause)" }
                } else if problem.isMissingIssuer && !served.chain.isEmpty {
                    message = Finding.Deferred { "\(served.describe) and the \(served.chain.count) certificate\(served.chain.count == 1 ? "" : "s") served after it do not lead to a trusted root (\(problem.reason) at depth \(problem.depth)): \(clause)" }
                } else if problem.isPurpose && problem.depth == 0 {
                    message = Finding.Deferred { "\(served.describe) may not be used by a TLS server (\(problem.reason)): its extended key usage does not include serverAuth, and a TLS client verifies with the SSL-server purpose: \(clause)" }
                } else if !problem.isMissingIssuer {
                    message = Finding.Deferred { "\(served.describe) is not accepted: \(problem.reason) (at depth \(problem.depth)): \(clause)" }
                } else { continue }
            case .chainIncomplete:
                guard !served.leaf.isSelfSigned, problem.isMissingIssuer, served.chain.isEmpty else { continue }
                message = Finding.Deferred { String(exactly: "\(served.describe) is served alone and its issuer (\(served.leaf.issuer)) is not a trusted root: serve the intermediate certificate(s) after it — or, if that issuer is a private CA, this is an untrusted issuer: \(clause)") }
            }
            findings.append(Finding(
                ruleId: id, message: message, location: served.location,
                severity: ModeSeverity.forValidation(profile), predicts: ModeSeverity.predicts(profile),
                key: Finding.Deferred { String(exactly: "\(served.file.displayPath) \(served.leaf.fingerprint)") }))
        }
        return findings
    }
}

/// tls.chain-misordered: the served chain is not leaf first, each certificate followed by its issuer.
struct ChainMisorderedRule: AuditRule {
    let id = "tls.chain-misordered"

    func check(_ model: OriginModel, profile: Profile) -> [Finding] {
        var seen = Set<String>()
        return ServedCertificate.all(model, profile).compactMap { served in
            let list = [served.leaf] + served.chain
            guard list.count > 1, seen.insert(served.file.hostPath).inserted else { return nil }
            let leafIsCA = served.leaf.isCA && list.dropFirst().contains { !$0.isCA }
            let outOfOrder = zip(list, list.dropFirst()).contains { subject, next in
                subject.issuer != next.subject && list.contains { $0.subject == subject.issuer && $0.fingerprint != subject.fingerprint }
            }
            guard leafIsCA || outOfOrder else { return nil }
            return Finding(
                ruleId: id,
                message: "\(served.file.displayPath) serves its chain out of order (\(list.map { $0.commonName ?? $0.subjectText }.joined(separator: " → "))): it must start with the site's certificate, each followed by its issuer",
                location: served.location,
                remediation: "Rebuild the file leaf first: `cat site.crt intermediate.crt > fullchain.pem`.",
                key: served.file.displayPath)
        }
    }
}

/// tls.weak-key and tls.weak-signature.
struct WeakCryptoRule: AuditRule {
    let signature: Bool
    var id: String { signature ? "tls.weak-signature" : "tls.weak-key" }

    func check(_ model: OriginModel, profile: Profile) -> [Finding] {
        // Each certificate judged once, and once more from a chain file (known by its DER, as
        // its fingerprint is); each file's policy notes said once.
        struct Judged: Hashable { let certificate: CertificateInfo, chainFile: Bool }
        var seen = Set<Judged>(), noted = Set<String>()
        var findings: [Finding] = []
        for served in ServedCertificate.all(model, profile) {
            if !signature, TrustVerdict.of(served, model, profile)?.trustProblem == nil, noted.insert(served.file.hostPath).inserted {
                for note in PolicyNote.notes(leaf: served.leaf, path: served.judged(model, profile)) where note.kind == .key {
                    findings.append(Finding(ruleId: id, message: note.text, location: served.location, severity: .info, predicts: nil,
                                            key: "\(served.file.displayPath) \(note.text)"))
                }
            }
            let servedList = [served.leaf] + served.chain
            // The root the verifier reached from the trust store is judged too (its key, never its
            // own signature): the server does not load it, but the CDN's verifier uses it.
            let roots = served.judged(model, profile).filter { !servedList.contains($0) }
            for (position, certificate) in (servedList + roots).enumerated() {
                // A root's own signature is never checked by anyone: skip self-signed CAs in the chain.
                if signature && position > 0 && certificate.isSelfSigned { continue }
                let fromStore = position >= servedList.count
                // From SSLCertificateChainFile, a weak certificate does not stop Apache (see `startUnchecked`).
                let startsAnyway = served.startUnchecked.contains(certificate.fingerprint)
                guard seen.insert(Judged(certificate: certificate, chainFile: startsAnyway)).inserted else { continue }
                let name = position == 0 ? served.describe
                    : fromStore ? "the trusted root \(certificate.commonName ?? certificate.subjectText) that \(served.describe) chains to"
                    : "the chain certificate \(certificate.commonName ?? certificate.subjectText) in \(startsAnyway ? "the SSLCertificateChainFile of " : "")\(served.file.displayPath)"
                let levelTwo = fromStore
                    ? "the server does not send it, but a verifier at OpenSSL security level 2 (auth level 2) refuses the chain (CA certificate key too weak), as do Go's crypto/x509 and rustls/webpki"
                    : startsAnyway
                    ? "Apache still starts, because mod_ssl adds SSLCertificateChainFile certificates without OpenSSL's security-level check (from the certificate file, as nginx serves chains, OpenSSL 3 at security level 2 refuses to load it and the server does not start)"
                    : "OpenSSL 3 at security level 2 (the Debian and Ubuntu default) refuses to load it, so the server does not start"
                if signature {
                    // The digest, also inside RSA-PSS parameters (the algorithm's name hides it).
                    guard certificate.hasWeakSignature else { continue }
                    findings.append(Finding(
                        ruleId: id,
                        message: "\(name) is signed with \(certificate.signatureAlgorithm): \(levelTwo); \(startsAnyway ? "but" : "elsewhere") \(ModeSeverity.clause(profile))",
                        location: served.location,
                        severity: ModeSeverity.forValidation(profile) == nil ? nil : .warning,
                        predicts: startsAnyway ? nil : "521 at OpenSSL security level 2; 526 (strict) otherwise",
                        key: "\(served.file.displayPath) \(certificate.fingerprint) signature"))
                } else {
                    let weak = certificate.keyWeakness
                    guard let weak else { continue }
                    let refused = (certificate.keyType.hasPrefix("RSA") && certificate.keyBits < 2048) || fromStore
                    findings.append(Finding(
                        ruleId: id,
                        message: "\(name) has \(weak)\(refused ? ": " + levelTwo : "")",
                        location: served.location,
                        predicts: refused && !startsAnyway ? (fromStore ? "526 with a verifier at security level 2" : "521 at OpenSSL security level 2") : nil,
                        key: "\(served.file.displayPath) \(certificate.fingerprint) key"))
                }
            }
        }
        return findings
    }
}

/// tls.legacy-protocols: TLS 1.0 or 1.1 enabled where the configuration names its protocols.
struct LegacyProtocolsRule: AuditRule {
    let id = "tls.legacy-protocols"

    func check(_ model: OriginModel, profile: Profile) -> [Finding] {
        var seen = Set<SourceLocation>()
        var findings: [Finding] = []
        // An estate's hosts mostly write the same protocols: worked out again only when they differ.
        var last: (words: [String], software: ServerSoftware, legacy: [String])?
        for host in model.webServer.virtualHosts {
            guard let protocols = host.tls?.protocols, seen.insert(protocols.location).inserted else { continue }
            let legacy: [String]
            if let last, last.software == host.software, last.words == protocols.value {
                legacy = last.legacy
            } else {
                let enabled = Self.enabled(protocols.value, software: host.software)
                legacy = ["TLSv1", "TLSv1.1"].filter(enabled.contains)
                last = (protocols.value, host.software, legacy)
            }
            guard !legacy.isEmpty else { continue }
            findings.append(Finding(
                ruleId: id,
                message: "\(legacy.joined(separator: " and ")) \(legacy.count == 1 ? "is" : "are") enabled (\(protocols.value.joined(separator: " "))): both are deprecated (RFC 8996)",
                location: protocols.location,
                remediation: host.software == .nginx ? "ssl_protocols TLSv1.2 TLSv1.3;" : "SSLProtocol -all +TLSv1.2 +TLSv1.3",
                key: "\(protocols.location.file) \(protocols.value.joined(separator: " "))"))
        }
        return findings
    }

    /// The protocols a directive enables: nginx lists them; Apache adds and removes from `all`.
    static func enabled(_ words: [String], software: ServerSoftware) -> Set<String> {
        let all: Set<String> = ["SSLv3", "TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"]
        func canonical(_ word: Substring) -> String? {
            switch word.lowercased() {
            case "sslv3": "SSLv3"
            case "tlsv1", "tlsv1.0": "TLSv1"
            case "tlsv1.1": "TLSv1.1"
            case "tlsv1.2": "TLSv1.2"
            case "tlsv1.3": "TLSv1.3"
            default: nil
            }
        }
        if software == .nginx { return Set(words.compactMap { canonical(Substring($0)) }) }
        var result = Set<String>()
        for word in words {
            let sign = word.first == "-" ? "-" : word.first == "+" ? "+" : ""
            let name = sign.isEmpty ? Substring(word) : word.dropFirst()
            let set: Set<String> = name.lowercased() == "all" ? all.subtracting(["SSLv3"]) : canonical(name).map { [$0] } ?? []
            if sign == "-" { result.subtract(set) } else if sign == "+" { result.formUnion(set) } else { result = set.union(sign.isEmpty && result.isEmpty ? [] : result) }
        }
        return result
    }
}
