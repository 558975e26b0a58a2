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
                out += "    subject:   \(certificate.subjectText)\n"
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
            // The first certificate is what a server sends, CA-flagged or not.
            if let judgement = judge(file, inventory: inventory, hostnames: hostnames, at: at) {
                out += "  chain at \(day(at)): \(judgement.refusals.isEmpty ? "trusted" : "not trusted: \(judgement.refusals.joined(separator: "; "))")\n"
                if !hostnames.isEmpty {
                    out += "  names: \(judgement.uncovered.isEmpty ? "covers \(hostnames.joined(separator: ", "))" : "does not cover \(judgement.uncovered.joined(separator: ", "))")\n"
                }
                for caution in judgement.cautions { out += "  strict verifiers: \(caution)\n" }
                for note in judgement.notes { out += "  note: \(note)\n" }
                let strict = !judgement.refusals.isEmpty || !judgement.uncovered.isEmpty ? "rejected (526)"
                    : judgement.cautions.isEmpty ? "accepted" : "accepted by OpenSSL's default verification, rejected (526) by the stricter verifiers above"
                out += "  modes: off/flexible — not used; full — accepted (not validated); strict, origin-pull — \(strict)\n"
            }
            for (index, key) in file.keys.enumerated() {
                if key.encrypted {
                    out += "  private key \(index + 1): encrypted (needs a passphrase at server start-up)\n"
                    continue
                }
                let match = allCertificates.first { key.belongs(to: $0) }
                out += "  private key \(index + 1): \(key.type ?? "?") \(key.bits.map(String.init) ?? "?") bits\(key.curve.map { " (\($0))" } ?? ""); "
                out += match.map { "matches \($0.commonName.map { "CN=\($0)" } ?? $0.subjectText)\n" } ?? "matches no certificate given\n"
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
        if certificate.isExpired(at: at) { return "EXPIRED \(Int(at.timeIntervalSince(certificate.notAfter) / 86_400)) days ago" }
        if certificate.isNotYetValid(at: at) { return "NOT YET VALID for \(Int(certificate.notBefore.timeIntervalSince(at) / 86_400)) days" }
        return "valid for \(Int(certificate.notAfter.timeIntervalSince(at) / 86_400)) more days"
    }

    /// How a strict TLS client judges the file's first certificate served with the rest of the
    /// file: what OpenSSL's default refuses (`refusals`), names not covered, and what only
    /// stricter verifiers refuse (`cautions`: X509_STRICT, rustls/webpki, key strength, CN-only).
    public struct Judgement: Sendable {
        public var refusals: [String]
        public var uncovered: [String]
        public var cautions: [String]
        /// Issuance-policy remarks that change no verdict (see `PolicyNote`).
        public var notes: [String] = []
        /// Accepted by every verifier the audit knows of.
        public var isAccepted: Bool { refusals.isEmpty && uncovered.isEmpty && cautions.isEmpty }
    }

    public static func judge(_ file: CertificateFile, inventory: CertificateInventory, hostnames: [String], at: Date) -> Judgement? {
        guard let leaf = file.certificates.first else { return nil }
        let served = Array(file.certificates.dropFirst())
        guard let verdict = inventory.trust?.verify(leaf: leaf, served: served, at: at) else {
            return Judgement(refusals: ["no trust store"], uncovered: [], cautions: [])
        }
        let path = verdict.chain.count > 1 ? verdict.chain : [leaf] + served
        let refusals = verdict.problems.map { problem in
            let certificate = problem.depth < path.count ? path[problem.depth] : nil
            return "\(problem.reason) (depth \(problem.depth)\(certificate.map { ", \($0.commonName ?? $0.subjectText)" } ?? ""))"
        }
        let uncovered = hostnames.filter { !leaf.covers($0).covered }
        var cautions: [String] = []
        if let objection = StrictObjection.first(leaf: leaf, verdict: verdict), verdict.problems.isEmpty { cautions.append(objection) }
        for certificate in Set(path).union(served).sorted(by: { $0.fingerprint < $1.fingerprint }) {
            if let weak = certificate.keyWeakness { cautions.append("\(certificate.commonName ?? certificate.subjectText) has \(weak)") }
            if certificate.hasWeakSignature && !(certificate.isSelfSigned && certificate != leaf) {
                cautions.append("\(certificate.commonName ?? certificate.subjectText) is signed with \(certificate.signatureDigest ?? certificate.signatureAlgorithm)")
            }
        }
        for name in hostnames {
            if let issuer = leaf.wildcardEscapesConstraints(name, issuers: Array(verdict.chain.dropFirst())) {
                cautions.append("\(name) is covered only through a wildcard that the name constraints of \(issuer.commonName ?? issuer.subjectText) do not allow (Go's crypto/x509 and rustls/webpki refuse it; OpenSSL does not)")
            }
        }
        if hostnames.contains(where: { leaf.covers($0).byCommonNameOnly }) {
            cautions.append("the name matches only through the subject CN (no subjectAltName), which browsers, Go and rustls/webpki no longer accept")
        }
        return Judgement(refusals: refusals, uncovered: uncovered, cautions: cautions,
                         notes: verdict.trustProblem == nil ? PolicyNote.notes(leaf: leaf, path: path).map(\.text) : [])
    }
}
