import Foundation
import OriginAuditCore
import Certificates
import WebServer

/// origin.aop-misconfigured: client-certificate verification that does not fit what the CDN
/// does. In origin-pull mode Cloudflare presents its Authenticated Origin Pulls certificate, so
/// the origin must require it and trust its CA; in any other mode Cloudflare presents none, so an
/// origin that requires one fails every handshake.
struct AOPRule: AuditRule {
    let id = "origin.aop-misconfigured"

    func check(_ model: OriginModel, profile: Profile) -> [Finding] {
        guard profile.cdn.name == "cloudflare" || profile.tlsMode == .originPull else { return [] }
        let aopCA = EmbeddedTrust.pemFiles.first { $0.name.contains("authenticated-origin-pull") }
        let aopFingerprints = Set(aopCA.map { CertificateInspector.fingerprints(pem: $0.pem) } ?? [])
        var findings: [Finding] = []
        for host in OriginContext.proxiedHosts(model, profile) where host.listeners.contains(where: \.tls) {
            let verification = host.tls?.clientVerification
            let requires = verification.map { $0.mode.value == .require } ?? false
            // Outside origin-pull mode only a host that requires a certificate is reported.
            guard profile.tlsMode == .originPull || requires else { continue }
            let location = verification?.mode.location ?? host.tls?.certificateFiles.first?.location ?? host.location
            let directive = host.software == .nginx ? "ssl_verify_client on;\nssl_client_certificate /etc/ssl/cloudflare-origin-pull-ca.pem;"
                : "SSLVerifyClient require\nSSLVerifyDepth 1\nSSLCACertificateFile /etc/ssl/cloudflare-origin-pull-ca.pem"
            if profile.tlsMode == .originPull {
                guard requires else {
                    findings.append(Finding(
                        ruleId: id,
                        message: "\(OriginContext.describe(host)) does not require a client certificate\(verification.map { " (\($0.mode.value.rawValue))" } ?? ""): Authenticated Origin Pulls is on at \(profile.cdn.displayName), but the origin accepts any TLS client, so the pull is not authenticated",
                        location: location, severity: .warning, predicts: "—",
                        remediation: directive, key: "\(host.location.file) \(OriginContext.describe(host)) not enforced"))
                    continue
                }
                let caPath = verification?.caFile?.hostPath
                let caCertificates = caPath.flatMap { model.certificates[$0] }?.certificates ?? []
                if caPath == nil || !caCertificates.contains(where: { aopFingerprints.contains($0.fingerprint) }) {
                    findings.append(Finding(
                        ruleId: id,
                        message: "\(OriginContext.describe(host)) requires a client certificate but \(caPath.map { "its CA file \(model.certificates[$0]?.displayPath ?? $0)" } ?? "names no CA file") does not hold Cloudflare's origin-pull CA: the certificate Cloudflare presents is refused and every request fails",
                        location: verification?.caFile?.location ?? location,
                        remediation: "Download Cloudflare's origin-pull CA (developers.cloudflare.com → Authenticated Origin Pulls) and name it:\n" + directive,
                        key: "\(host.location.file) \(OriginContext.describe(host)) wrong CA"))
                }
            } else if requires {
                findings.append(Finding(
                    ruleId: id,
                    message: "\(OriginContext.describe(host)) requires a client certificate, but in \(profile.tlsMode.rawValue) mode \(profile.cdn.displayName) presents none (Authenticated Origin Pulls is off): every handshake fails",
                    location: location,
                    remediation: "Turn on Authenticated Origin Pulls (the origin-pull mode here), or stop requiring client certificates (nginx: ssl_verify_client off; Apache: SSLVerifyClient none).",
                    key: "\(host.location.file) \(OriginContext.describe(host)) requires without aop"))
            }
        }
        return findings
    }
}
