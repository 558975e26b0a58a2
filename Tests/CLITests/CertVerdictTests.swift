import Foundation
import Testing
import TestSupport

/// `cert` and `scan` judge a certificate file the same way a strict TLS client does (issue 13):
/// certificates made here with the openssl CLI, through the fixtures' own helpers.
@Suite(.oracle("openssl", unavailable: Oracle.missing(programs: ["openssl"])))
struct CertVerdictTests {
    static let directory: URL? = {
        guard let directory = try? TestTools.temporaryDirectory("cert-verdicts") else { return nil }
        let script = """
            set -e
            . "$ORIGINAUDIT_REPO/Tests/AuditRulesTests/Fixtures/_lib/certificates.sh"
            # What `openssl req -x509` makes: self-signed, and marked CA:TRUE.
            openssl req -x509 -newkey rsa:2048 -nodes -keyout ss.key -subj /CN=www.example.test -days 30 -out ss.pem 2>/dev/null
            # Valid through 2026-11-23T00:00:00Z exactly.
            leaf edge "/CN=www.example.test" "DNS:www.example.test" root 20250101000000Z 20261123000000Z
            printf '\\357\\273\\277' | cat - edge.pem > bom.pem
            { printf -- '-----BEGIN PRIVATE KEY-----\\n!!!! not base64 !!!!\\n-----END PRIVATE KEY-----\\n'; cat edge.pem; } > broken-first.pem
            key stray
            openssl req -new -key edge.key -subj / -addext "subjectAltName=critical,DNS:www.example.test" -out empty.csr 2>/dev/null
            openssl x509 -req -in empty.csr -CA root.pem -CAkey root.key -copy_extensions copy -days 30 -out empty.pem 2>/dev/null
            """
        let environment = ProcessInfo.processInfo.environment.merging(["ORIGINAUDIT_REPO": TestTools.packageRoot.path]) { $1 }
        guard let result = try? TestTools.run("/bin/sh", ["-c", script], environment: environment, currentDirectory: directory.path, timeout: 120),
              result.status == 0 else { return nil }
        return directory.appendingPathComponent("pki")
    }()

    static func path(_ name: String) throws -> String {
        try #require(Self.directory, "openssl could not make the certificates").appendingPathComponent(name).path
    }

    /// The scan of one file in strict mode, as JSON findings (rule id, severity, message).
    static func scan(_ arguments: [String]) throws -> [(id: String, severity: String, message: String)] {
        let result = try Binary.run(["scan", "--tls-mode", "strict", "--format", "json", "--fail-on", "never"] + arguments)
        let json = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any], "scan: \(result.stderr)")
        let findings = try #require(json["findings"] as? [[String: Any]])
        return findings.map { ($0["ruleId"] as? String ?? "", $0["severity"] as? String ?? "", $0["message"] as? String ?? "") }
    }

    /// The commonest self-signed certificate is CA-flagged; it is still the leaf the server sends.
    @Test func caFlaggedSelfSignedLeafIsJudged() throws {
        let file = try Self.path("ss.pem")
        let cert = try Binary.run(["cert", file, "--hostname", "other.example.test"])
        #expect(cert.status == 1, "\(cert.stdout)")
        #expect(cert.stdout.contains("chain at") && cert.stdout.contains("rejected (526)"), "\(cert.stdout)")
        let ids = try Self.scan(["--cert", file, "--hostname", "other.example.test"]).map(\.id)
        #expect(ids.contains("tls.self-signed") && ids.contains("tls.hostname-mismatch"), "\(ids)")
    }

    /// RFC 5280: valid through notAfter inclusive — the same rule in `cert` and `scan`.
    @Test func notAfterIsTheLastValidInstant() throws {
        let file = try Self.path("edge.pem"), root = try Self.path("root.pem")
        let atEdge = ["--ca-file", root, "--hostname", "www.example.test", "--at", "2026-11-23T00:00:00Z"]
        let cert = try Binary.run(["cert", file] + atEdge)
        #expect(cert.status == 0 && !cert.stdout.contains("EXPIRED") && cert.stdout.contains("trusted"), "\(cert.stdout)")
        let ids = try Self.scan(["--cert", file] + atEdge).map(\.id)
        #expect(!ids.contains("tls.cert-expired") && ids.contains("tls.cert-expiring"), "\(ids)")
        let after = ["--ca-file", root, "--hostname", "www.example.test", "--at", "2026-11-23T00:00:01Z"]
        let late = try Binary.run(["cert", file] + after)
        #expect(late.status == 1 && late.stdout.contains("EXPIRED"), "\(late.stdout)")
        #expect(try Self.scan(["--cert", file] + after).contains { $0.id == "tls.cert-expired" && $0.severity == "error" })
    }

    /// A UTF-8 byte order mark before the armour, and a damaged block of another kind before
    /// the certificate, leave the certificate readable (as openssl reads it).
    @Test func byteOrderMarkAndBrokenBlockBeforeTheCertificate() throws {
        let bom = try Binary.run(["cert", try Self.path("bom.pem")])
        #expect(bom.stdout.contains("CN=www.example.test") && !bom.stdout.contains("parse-error"), "\(bom.stdout)")
        let broken = try Binary.run(["cert", try Self.path("broken-first.pem")])
        #expect(broken.stdout.contains("CN=www.example.test"), "\(broken.stdout)")
        #expect(broken.stdout.contains("private key block 1 cannot be read"), "\(broken.stdout)")
        #expect(!broken.stdout.contains("certificate block"), "\(broken.stdout)")
    }

    /// A key that belongs to no certificate given cannot be served with any of them.
    @Test func keyMatchingNoCertificateFailsCert() throws {
        let result = try Binary.run(["cert", try Self.path("edge.pem"), try Self.path("stray.key"), "--ca-file", try Self.path("root.pem"),
                                     "--at", "2026-01-01T00:00:00Z"])
        #expect(result.stdout.contains("matches no certificate given"))
        #expect(result.status == 1, "\(result.stdout)")
    }

    @Test func emptySubjectIsSaid() throws {
        let result = try Binary.run(["cert", try Self.path("empty.pem")])
        #expect(result.stdout.contains("subject:   (empty subject)"), "\(result.stdout)")
        #expect(!result.stdout.contains("()"), "\(result.stdout)")
    }

    /// With no CDN named, no message speaks of "no CDN" rejecting anything.
    @Test func noCDNMessages() throws {
        let findings = try Self.scan(["--cdn", "none", "--cert", try Self.path("edge.pem"), "--ca-file", try Self.path("root.pem"),
                                      "--hostname", "www.example.test", "--at", "2027-01-01T00:00:00Z"])
        let expired = try #require(findings.first { $0.id == "tls.cert-expired" })
        #expect(!expired.message.contains("no CDN"), "\(expired.message)")
        #expect(expired.message.contains("a CDN that validates the origin rejects it (526)"), "\(expired.message)")
    }
}
