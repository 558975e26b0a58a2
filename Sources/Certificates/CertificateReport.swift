import Foundation
import OriginAuditCore

/// What `originaudit cert` prints about each file: every certificate's subject, names, issuer,
/// validity, key and signature; the chain verdict at `--at`; what each TLS mode makes of it;
/// and the keys, matched to certificates. Never any key material.
public enum CertificateReport {
    public static func render(_ inventory: CertificateInventory, files: [String], hostnames: [String], at: Date) -> String {
        var out = ""
        let allCertificates = inventory.files.values.flatMap(\.certificates)
        for hostPath in files {
            guard let file = inventory[hostPath] else { continue }
            out += "\(file.displayPath)\n"
            for (index, certificate) in file.certificates.enumerated() {
                out += "  certificate \(index + 1)\(index == 0 ? " (leaf, as served)" : "")\n"
                out += "    subject:   \(certificate.subject)\n"
                if certificate.hasSubjectAltName {
                    out += "    names:     \((certificate.dnsNames + certificate.ipAddresses).joined(separator: ", "))\n"
                } else {
                    out += "    names:     no subjectAltName (CN \(certificate.commonName ?? "none") only)\n"
                }
                out += "    issuer:    \(certificate.issuer)\(certificate.isSelfSigned ? " (self-signed)" : "")\(certificate.isCA ? ", a CA" : "")\n"
                out += "    valid:     \(day(certificate.notBefore)) to \(day(certificate.notAfter)) — \(validity(certificate, at: at))\n"
                out += "    key:       \(certificate.keyType) \(certificate.keyBits) bits\(certificate.curve.map { " (\($0))" } ?? "")\n"
                out += "    signature: \(certificate.signatureAlgorithm)\n"
                out += "    sha256:    \(certificate.fingerprint)\n"
            }
            if let leaf = file.certificates.first, !leaf.isCA || file.certificates.count > 1 {
                let verdict = inventory.trust?.verify(leaf: leaf, served: Array(file.certificates.dropFirst()), at: at)
                let trusted = verdict?.isTrusted ?? false
                out += "  chain at \(day(at)): \(trusted ? "trusted" : "not trusted: \(verdict?.reason ?? "no trust store")")\n"
                var uncovered: [String] = []
                for name in hostnames where !leaf.covers(name).covered { uncovered.append(name) }
                if !hostnames.isEmpty {
                    out += "  names: \(uncovered.isEmpty ? "covers \(hostnames.joined(separator: ", "))" : "does not cover \(uncovered.joined(separator: ", "))")\n"
                }
                let strictOK = trusted && uncovered.isEmpty
                out += "  modes: off/flexible — not used; full — accepted (not validated); strict, origin-pull — \(strictOK ? "accepted" : "rejected (526)")\n"
            }
            for (index, key) in file.keys.enumerated() {
                if key.encrypted {
                    out += "  private key \(index + 1): encrypted (needs a passphrase at server start-up)\n"
                    continue
                }
                let match = allCertificates.first { key.belongs(to: $0) }
                out += "  private key \(index + 1): \(key.type ?? "?") \(key.bits.map(String.init) ?? "?") bits\(key.curve.map { " (\($0))" } ?? ""); "
                out += match.map { "matches \($0.commonName.map { "CN=\($0)" } ?? $0.subject)\n" } ?? "matches no certificate given\n"
            }
            if let permissions = file.permissions, !file.keys.isEmpty {
                out += "  permissions: \(String(permissions, radix: 8))\(permissions & 0o007 != 0 ? " — other users can read the key" : "")\n"
            }
            out += "\n"
        }
        return out
    }

    static func day(_ date: Date) -> String { UTCText.instant(date) }

    static func validity(_ certificate: CertificateInfo, at: Date) -> String {
        if certificate.notAfter < at { return "EXPIRED \(Int(at.timeIntervalSince(certificate.notAfter) / 86_400)) days ago" }
        if certificate.notBefore > at { return "NOT YET VALID for \(Int(certificate.notBefore.timeIntervalSince(at) / 86_400)) days" }
        return "valid for \(Int(certificate.notAfter.timeIntervalSince(at) / 86_400)) more days"
    }
}
