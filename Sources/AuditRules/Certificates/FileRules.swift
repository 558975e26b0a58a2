import Foundation
import OriginAuditCore
import Certificates
import WebServer

/// tls.cert-missing: a certificate or key the configuration names does not exist, or a host turns
/// TLS on and names no certificate at all; either way the server refuses to start.
struct CertMissingRule: AuditRule {
    let id = "tls.cert-missing"

    func check(_ model: OriginModel, profile: Profile) -> [Finding] {
        unnamed(model) + missingFiles(model)
    }

    /// nginx: 'no "ssl_certificate" is defined for the "listen ... ssl" directive'; Apache:
    /// AH02572 "Failed to configure at least one certificate and key" (which `apache2 -t` misses).
    private func unnamed(_ model: OriginModel) -> [Finding] {
        var seen = Set<SourceLocation>()
        return model.webServer.virtualHosts.compactMap { host in
            guard let tls = host.tls, tls.certificateFiles.isEmpty, let at = tls.certificateRequiredAt,
                  seen.insert(at).inserted else { return nil }
            let directive = host.software == .nginx ? "ssl_certificate" : "SSLCertificateFile"
            let name = host.names.first.map { " for \($0.value)" } ?? ""
            return Finding(
                ruleId: id,
                message: "TLS is turned on here\(name) but no certificate is named (\(directive)): the web server refuses to start with this configuration",
                location: at,
                remediation: host.software == .nginx
                    ? "Add `ssl_certificate` and `ssl_certificate_key` to this server (or to `http {}`), or `ssl_reject_handshake on;` for a catch-all server."
                    : "Add `SSLCertificateFile` and `SSLCertificateKeyFile` to this virtual host, or turn `SSLEngine off`.",
                key: "\(at.file):\(at.line) no certificate")
        }
    }

    private func missingFiles(_ model: OriginModel) -> [Finding] {
        model.certificates.missing.compactMap { reference in
            guard let location = reference.referencedAt else { return nil }
            let what = reference.role == .key ? "private key" : reference.role == .chain ? "chain file" : reference.role == .clientCA ? "client CA file" : "certificate"
            return Finding(
                ruleId: id,
                message: "the \(what) \(reference.displayPath ?? reference.hostPath) named here does not exist: the web server refuses to start (or to reload) with this configuration",
                location: location,
                key: "\(location.file) \(reference.hostPath)")
        }
    }
}

/// tls.key-mismatch: the key served beside a certificate is not its key; the server will not start.
struct KeyMismatchRule: AuditRule {
    let id = "tls.key-mismatch"

    func check(_ model: OriginModel, profile: Profile) -> [Finding] {
        var seen = Set<String>()
        return ServedCertificate.all(model, profile).compactMap { served in
            guard served.host != nil, let keyFile = served.keyFile,
                  let key = keyFile.keys.first(where: { $0.publicKey != nil }), let publicKey = key.publicKey,
                  !keyFile.keys.contains(where: { $0.belongs(to: served.leaf) }),
                  seen.insert(served.file.hostPath + "|" + keyFile.hostPath).inserted else { return nil }
            return Finding(
                ruleId: id,
                message: "the private key in \(keyFile.displayPath) (\(key.type ?? "?") \(key.bits.map(String.init) ?? "?")) does not belong to \(served.describe) (\(served.leaf.keyType) \(served.leaf.keyBits)): the server refuses to load the pair",
                location: served.keyLocation ?? served.location,
                related: [RelatedLocation(served.location, "certificate \(served.file.displayPath)")],
                remediation: "Install the key that was generated with this certificate (compare `openssl x509 -noout -pubkey -in CERT` with `openssl pkey -pubout -in KEY`), or reissue the certificate for this key.",
                key: "\(served.file.hostPath) \(keyFile.hostPath) \(publicKey.count)")
        }
    }
}

/// tls.key-encrypted: the key needs a passphrase, so the server cannot start unattended.
struct KeyEncryptedRule: AuditRule {
    let id = "tls.key-encrypted"

    func check(_ model: OriginModel, profile: Profile) -> [Finding] {
        var seen = Set<String>()
        var findings: [Finding] = []
        for served in ServedCertificate.all(model, profile) {
            guard let keyFile = served.keyFile, keyFile.keys.contains(where: \.encrypted), seen.insert(keyFile.hostPath).inserted else { continue }
            findings.append(Finding(
                ruleId: id,
                message: "\(keyFile.displayPath) holds a passphrase-protected private key: the server waits for the passphrase at start-up, so an unattended restart or reboot leaves the origin down",
                location: served.keyLocation ?? served.location,
                remediation: "Store the key unencrypted with tight permissions: `openssl pkey -in \(keyFile.displayPath) -out key.pem` (asks for the passphrase once), `chmod 600 key.pem` — or give the server the passphrase (nginx ssl_password_file; Apache SSLPassPhraseDialog).",
                key: keyFile.hostPath))
        }
        return findings
    }
}

/// tls.key-permissions: a private key other users can read.
struct KeyPermissionsRule: AuditRule {
    let id = "tls.key-permissions"

    func check(_ model: OriginModel, profile: Profile) -> [Finding] {
        model.certificates.files.values.sorted { $0.hostPath < $1.hostPath }.compactMap { file in
            guard !file.keys.isEmpty, let permissions = file.permissions, permissions & 0o007 != 0 else { return nil }
            return Finding(
                ruleId: id,
                message: "\(file.displayPath) holds a private key and is \(permissions & 0o004 != 0 ? "readable" : "accessible") by every user on the machine (mode \(String(permissions, radix: 8)))",
                location: SourceLocation(file: file.displayPath),
                remediation: "chmod 600 \(file.displayPath) (or 640 with group ssl-cert on Debian); the web server reads keys as root before dropping privileges.",
                key: file.hostPath)
        }
    }
}
