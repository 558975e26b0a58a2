import Foundation
import OriginAuditCore
import Certificates
import WebServer

/// A certificate as a server presents it: the leaf, what is served after it, the key beside
/// it, the names it must cover, and the directive that names it. A class: every certificate
/// rule walks the same list, which is shared rather than copied field by field.
final class ServedCertificate: Sendable {
    let host: VirtualHost?
    let file: CertificateFile
    let leaf: CertificateInfo
    /// Everything served after the leaf (rest of the file, then a chain file), in order.
    let chain: [CertificateInfo]
    /// Fingerprints of the chain certificates that only Apache's SSLCertificateChainFile names:
    /// mod_ssl adds those with `SSL_CTX_add_extra_chain_cert`, which OpenSSL's security level does
    /// not check, so a weak one there does not stop Apache from starting (the same certificate in
    /// the certificate file, nginx's or Apache's, does).
    let startUnchecked: Set<String>
    let keyFile: CertificateFile?
    let keyLocation: SourceLocation?
    /// Where the certificate is named (`ssl_certificate`, `SSLCertificateFile`), or the file itself.
    let location: SourceLocation
    /// The proxied hostnames this certificate must cover.
    let hostnames: [String]

    init(host: VirtualHost?, file: CertificateFile, leaf: CertificateInfo, chain: [CertificateInfo], startUnchecked: Set<String> = [],
         keyFile: CertificateFile?, keyLocation: SourceLocation?, location: SourceLocation, hostnames: [String]) {
        self.host = host
        self.file = file
        self.leaf = leaf
        self.chain = chain
        self.startUnchecked = startUnchecked
        self.keyFile = keyFile
        self.keyLocation = keyLocation
        self.location = location
        self.hostnames = hostnames
    }

    /// Every served certificate: per virtual host with TLS, then certificate files given on
    /// their own (which must cover `--hostname`, if any).
    static func all(_ model: OriginModel, _ profile: Profile) -> [ServedCertificate] {
        model.derived.value("served certificates \(profile.hostnames)") { compute(model, profile) }
    }

    private static func compute(_ model: OriginModel, _ profile: Profile) -> [ServedCertificate] {
        let inventory = model.certificates
        // No certificate file loaded (an estate whose certificates are all elsewhere): none is served.
        guard !inventory.files.isEmpty else { return [] }
        var result: [ServedCertificate] = []
        var referenced = Set<String>()
        for host in model.webServer.virtualHosts {
            guard let tls = host.tls else { continue }
            let names: [String]
            if profile.hostnames.isEmpty {
                names = host.names.compactMap { if case .exact(let n) = $0.value { n } else { nil } }
            } else {
                names = profile.hostnames.filter { host.serves($0) }
            }
            let chainFile = tls.chainFile?.hostPath.flatMap { inventory[$0] }
            for (index, path) in tls.certificateFiles.enumerated() {
                guard let hostPath = path.hostPath else { continue }
                referenced.insert(hostPath)
                guard let file = inventory[hostPath], let leaf = file.certificates.first else { continue }
                let keyPath = index < tls.keyFiles.count ? tls.keyFiles[index] : tls.keyFiles.last
                if let key = keyPath?.hostPath { referenced.insert(key) }
                let keyFile = keyPath?.hostPath.flatMap { inventory[$0] } ?? (file.keys.isEmpty ? nil : file)
                result.append(ServedCertificate(
                    host: host, file: file, leaf: leaf,
                    chain: Array(file.certificates.dropFirst()) + (chainFile?.certificates ?? []),
                    startUnchecked: Set(chainFile?.certificates.map(\.fingerprint) ?? []).subtracting(file.certificates.map(\.fingerprint)),
                    keyFile: keyFile, keyLocation: keyPath?.location ?? path.location,
                    location: path.location, hostnames: names))
            }
            if let chain = tls.chainFile?.hostPath { referenced.insert(chain) }
            if let ca = tls.clientVerification?.caFile?.hostPath { referenced.insert(ca) }
        }
        for (hostPath, file) in inventory.files.sorted(by: { $0.key < $1.key }) where !referenced.contains(hostPath) {
            // A CA certificate on its own (a root, an intermediate bundle) is not a served leaf;
            // a CA-flagged certificate that names a server, or has its key beside it, is one
            // (`openssl req -x509` marks its self-signed certificates CA:TRUE).
            guard let leaf = file.certificates.first, !leaf.isCA || leaf.looksLikeServerCertificate || file.keys.contains(where: { $0.belongs(to: leaf) })
            else { continue }
            result.append(ServedCertificate(
                host: nil, file: file, leaf: leaf, chain: Array(file.certificates.dropFirst()),
                keyFile: file.keys.isEmpty ? nil : file, keyLocation: SourceLocation(file: file.displayPath),
                location: SourceLocation(file: file.displayPath), hostnames: profile.hostnames))
        }
        return result
    }

    /// The certificates whose validity counts: the path the verifier built (leaf, the served
    /// certificates it used, the root from the trust store), else what is served. A served
    /// certificate no path uses (an expired cross-sign beside a valid one) decides nothing.
    func judged(_ model: OriginModel, _ profile: Profile) -> [CertificateInfo] {
        let path = TrustVerdict.of(self, model, profile)?.chain ?? []
        return path.count > 1 ? path : [leaf] + chain
    }

    /// `site.pem (CN=www.example.test)` for messages.
    var describe: String { "\(file.displayPath) (\(leaf.commonName.map { "CN=\($0)" } ?? leaf.subjectText))" }
}

/// Mode-dependent severity: what strict and origin-pull reject, full and flexible accept.
enum ModeSeverity {
    /// nil (the catalog's severity) when the mode validates certificates; info otherwise.
    static func forValidation(_ profile: Profile) -> Severity? {
        profile.tlsMode.validatesCertificate ? nil : .info
    }

    static func clause(_ profile: Profile) -> String {
        profile.tlsMode.validatesCertificate
            ? "in \(profile.tlsMode.rawValue) mode \(validator(profile)) rejects it (526)"
            : "harmless in \(profile.tlsMode.rawValue) mode, which does not validate the certificate — it becomes 526 the day the mode is Full (strict)"
    }

    /// A finding about what only stricter verifiers than OpenSSL's default refuse: a warning
    /// (whether the CDN's verifier is one of them is not documented), info when the mode does
    /// not validate. `message` names who refuses; the consequence is added here.
    static func strictVerifierFinding(_ id: String, _ message: String, at location: SourceLocation, _ profile: Profile, key: String) -> Finding {
        let validates = profile.tlsMode.validatesCertificate
        return Finding(
            ruleId: id,
            message: "\(message) — \(validates ? "a CDN that validates with such a verifier answers 526" : "harmless while the mode does not validate certificates")",
            location: location, severity: validates ? .warning : .info, predicts: "526 with a strict verifier", key: key)
    }

    /// Who validates: the CDN by name, or any CDN when none is named (`--cdn none`).
    static func validator(_ profile: Profile) -> String {
        profile.cdn.name == "none" ? "a CDN that validates the origin" : profile.cdn.displayName
    }

    static func predicts(_ profile: Profile) -> String? { profile.tlsMode.validatesCertificate ? nil : "526 only in strict mode" }
}

/// Date text for messages.
enum DateText {
    static func day(_ date: Date) -> String { UTCText.day(date) }
}
