import Foundation
import OriginAuditCore
import Certificates
import WebServer

/// tls.cert-missing: a certificate or key the configuration names does not exist, or a host turns
/// TLS on and names no certificate at all; either way the server refuses to start.
struct CertMissingRule: AuditRule {
    let id = "tls.cert-missing"

    func check(_ model: OriginModel, profile: Profile) -> [Finding] {
        unnamed(model) + missingFiles(model) + swapped(model)
    }

    /// A file named as the certificate that holds no certificate (a private key put there, the
    /// two directives swapped), or one named as the key that holds no key: nginx -t refuses it
    /// (`PEM_read_bio_X509_AUX() failed`, `PEM_read_bio_PrivateKey() failed`), and so does
    /// mod_ssl at start-up. Unreadable contents are input.parse-error's; this says what it means.
    private func swapped(_ model: OriginModel) -> [Finding] {
        var seen = Set<String>()
        var findings: [Finding] = []
        for host in model.webServer.virtualHosts {
            guard let tls = host.tls else { continue }
            let nginx = host.software == .nginx
            for path in tls.certificateFiles {
                guard let hostPath = path.hostPath, let file = model.certificates[hostPath], file.certificates.isEmpty,
                      seen.insert("\(path.location) \(hostPath)").inserted else { continue }
                let holds = file.keys.isEmpty ? "no certificate" : "a private key and no certificate"
                findings.append(Finding(
                    ruleId: id,
                    message: "\(file.displayPath) is named as the certificate (\(nginx ? "ssl_certificate" : "SSLCertificateFile")) but holds \(holds): \(nginx ? "nginx refuses to start (PEM_read_bio_X509_AUX() failed)" : "Apache refuses to start (unable to configure the certificate)")",
                    location: path.location,
                    remediation: nginx ? "Name the certificate (leaf first, then intermediates) in `ssl_certificate` and the key in `ssl_certificate_key`: the two are probably swapped."
                        : "Name the certificate in `SSLCertificateFile` and the key in `SSLCertificateKeyFile`: the two are probably swapped.",
                    key: "\(path.location.file) \(file.displayPath) holds no certificate"))
            }
            for path in tls.keyFiles {
                guard let hostPath = path.hostPath, let file = model.certificates[hostPath], file.keys.isEmpty, !file.certificates.isEmpty,
                      seen.insert("\(path.location) \(hostPath)").inserted else { continue }
                findings.append(Finding(
                    ruleId: id,
                    message: "\(file.displayPath) is named as the private key (\(nginx ? "ssl_certificate_key" : "SSLCertificateKeyFile")) but holds a certificate and no key: \(nginx ? "nginx refuses to start (PEM_read_bio_PrivateKey() failed)" : "Apache refuses to start (unable to configure the private key)")",
                    location: path.location,
                    key: "\(path.location.file) \(file.displayPath) holds no key"))
            }
        }
        return findings
    }

    /// nginx: 'no "ssl_certificate" is defined for the "listen ... ssl" directive'; Apache:
    /// AH02572 "Failed to configure at least one certificate and key" (which `apache2 -t` misses).
    private func unnamed(_ model: OriginModel) -> [Finding] {
        var seen = Set<SourceLocation>()
        return model.webServer.virtualHosts.compactMap { host in
            guard let tls = host.tls, tls.certificateFiles.isEmpty, let at = tls.certificateRequiredAt,
                  seen.insert(at).inserted else { return nil }
            let directive = host.software == .nginx ? "ssl_certificate" : "SSLCertificateFile"
            let name = " for " + OriginContext.describe(host)
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
            // A file outside --root is not here: the loader said it was not read (input.unreadable).
            return Finding(
                ruleId: id,
                message: String(exactly: "the \(reference.role.described) \(reference.displayPath ?? reference.hostPath) named here \(reference.absence ?? "does not exist"): the web server refuses to start (or to reload) with this configuration"),
                location: location,
                // The file involved is known: the commands name it, not a placeholder. (Each text
                // made in one storage of its size: 10,000 of them on a large estate.)
                remediation: String(exactly: """
                    Point the directive at an existing file, or restore the file, then validate before reloading:
                      ls -l \(reference.hostPath)
                    \(reference.role == .key ? "  openssl pkey -in \(reference.hostPath) -noout" : "  openssl x509 -in \(reference.hostPath) -noout -subject -enddate")
                      nginx -t && systemctl reload nginx          # or: apachectl configtest && systemctl reload apache2
                    With certbot, use the stable paths under /etc/letsencrypt/live/NAME/ (fullchain.pem, privkey.pem), which survive renewals.
                    """),
                key: String(exactly: "\(location.file) \(reference.displayPath ?? reference.hostPath)"))
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
                key: "\(served.file.displayPath) \(keyFile.displayPath) \(publicKey.count)")
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
                key: keyFile.displayPath))
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
                key: file.displayPath)
        }
    }
}
