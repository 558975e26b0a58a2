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

/// tls.self-signed, tls.untrusted-issuer and tls.chain-incomplete: why the chain does not end at
/// a trusted root. Expiry is left to the validity rules.
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
        var seen = Set<String>()
        var findings: [Finding] = []
        for served in ServedCertificate.all(model, profile) {
            guard let verdict = TrustVerdict.of(served, model, profile), !verdict.isTrusted, !verdict.isExpiry,
                  seen.insert(served.file.hostPath + "|" + served.leaf.fingerprint).inserted else { continue }
            let message: String
            switch kind {
            case .selfSigned:
                guard verdict.isSelfSignedLeaf || served.leaf.isSelfSigned else { continue }
                message = "\(served.describe) is self-signed: \(ModeSeverity.clause(profile))"
            case .untrustedIssuer:
                guard !served.leaf.isSelfSigned else { continue }
                if verdict.isUntrustedRoot {
                    message = "\(served.describe) chains to a root that is neither publicly trusted nor the Cloudflare Origin CA (\(verdict.reason)): \(ModeSeverity.clause(profile))"
                } else if verdict.isMissingIssuer && !served.chain.isEmpty {
                    message = "\(served.describe) and the \(served.chain.count) certificate\(served.chain.count == 1 ? "" : "s") served after it do not lead to a trusted root (\(verdict.reason) at depth \(verdict.depth)): \(ModeSeverity.clause(profile))"
                } else if !verdict.isMissingIssuer {
                    message = "\(served.describe) is not accepted: \(verdict.reason): \(ModeSeverity.clause(profile))"
                } else { continue }
            case .chainIncomplete:
                guard !served.leaf.isSelfSigned, verdict.isMissingIssuer, served.chain.isEmpty else { continue }
                message = "\(served.describe) is served alone and its issuer (\(served.leaf.issuer)) is not a trusted root: serve the intermediate certificate(s) after it — or, if that issuer is a private CA, this is an untrusted issuer: \(ModeSeverity.clause(profile))"
            }
            findings.append(Finding(
                ruleId: id, message: message, location: served.location,
                severity: ModeSeverity.forValidation(profile), predicts: ModeSeverity.predicts(profile),
                key: "\(served.file.hostPath) \(served.leaf.fingerprint)"))
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
                message: "\(served.file.displayPath) serves its chain out of order (\(list.map { $0.commonName ?? $0.subject }.joined(separator: " → "))): it must start with the site's certificate, each followed by its issuer",
                location: served.location,
                remediation: "Rebuild the file leaf first: `cat site.crt intermediate.crt > fullchain.pem`.",
                key: served.file.hostPath)
        }
    }
}

/// tls.weak-key and tls.weak-signature.
struct WeakCryptoRule: AuditRule {
    let signature: Bool
    var id: String { signature ? "tls.weak-signature" : "tls.weak-key" }

    static let strongCurves: Set<String> = ["prime256v1", "secp384r1", "secp521r1", "P-256", "P-384", "P-521"]

    func check(_ model: OriginModel, profile: Profile) -> [Finding] {
        var seen = Set<String>()
        var findings: [Finding] = []
        for served in ServedCertificate.all(model, profile) {
            for (position, certificate) in ([served.leaf] + served.chain).enumerated() {
                // A root's own signature is never checked by anyone: skip self-signed CAs in the chain.
                if position > 0 && certificate.isSelfSigned { continue }
                // From SSLCertificateChainFile, a weak certificate does not stop Apache (see `startUnchecked`).
                let startsAnyway = served.startUnchecked.contains(certificate.fingerprint)
                guard seen.insert(certificate.fingerprint + (startsAnyway ? " chain file" : "")).inserted else { continue }
                let name = position == 0 ? served.describe : "the chain certificate \(certificate.commonName ?? certificate.subject) in \(startsAnyway ? "the SSLCertificateChainFile of " : "")\(served.file.displayPath)"
                let levelTwo = startsAnyway
                    ? "Apache still starts, because mod_ssl adds SSLCertificateChainFile certificates without OpenSSL's security-level check (from the certificate file, as nginx serves chains, OpenSSL 3 at security level 2 refuses to load it and the server does not start)"
                    : "OpenSSL 3 at security level 2 (the Debian and Ubuntu default) refuses to load it, so the server does not start"
                if signature {
                    let algorithm = certificate.signatureAlgorithm.lowercased()
                    guard algorithm.contains("sha1") || algorithm.contains("md5") || algorithm.contains("md2") else { continue }
                    findings.append(Finding(
                        ruleId: id,
                        message: "\(name) is signed with \(certificate.signatureAlgorithm): \(levelTwo); \(startsAnyway ? "but" : "elsewhere") \(ModeSeverity.clause(profile))",
                        location: served.location,
                        severity: ModeSeverity.forValidation(profile) == nil ? nil : .warning,
                        predicts: startsAnyway ? nil : "521 at OpenSSL security level 2; 526 (strict) otherwise",
                        key: "\(served.file.hostPath) \(certificate.fingerprint) signature"))
                } else {
                    let weak: String?
                    switch certificate.keyType {
                    case "RSA" where certificate.keyBits < 2048: weak = "an RSA key of \(certificate.keyBits) bits (at least 2048 are needed)"
                    case "DSA": weak = "a DSA key"
                    case "EC" where !(certificate.curve.map(Self.strongCurves.contains) ?? false): weak = "an EC key on \(certificate.curve ?? "an unnamed curve")"
                    default: weak = nil
                    }
                    guard let weak else { continue }
                    let refused = certificate.keyType == "RSA" && certificate.keyBits < 2048
                    findings.append(Finding(
                        ruleId: id,
                        message: "\(name) has \(weak)\(refused ? ": " + levelTwo : "")",
                        location: served.location,
                        predicts: refused && !startsAnyway ? "521 at OpenSSL security level 2" : nil,
                        key: "\(served.file.hostPath) \(certificate.fingerprint) key"))
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
        for host in model.webServer.virtualHosts {
            guard let protocols = host.tls?.protocols, seen.insert(protocols.location).inserted else { continue }
            let enabled = Self.enabled(protocols.value, software: host.software)
            let legacy = ["TLSv1", "TLSv1.1"].filter(enabled.contains)
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
