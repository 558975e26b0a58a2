import Foundation
import Testing
import OriginAuditCore
import TestSupport

/// The tls.* verdicts against the real judges, on every certificate fixture: `openssl verify`
/// for trust, time and name; `nginx -t` and a real start of Apache for whether the server starts
/// at all.
@Suite struct CertificateDifferentialTests {
    static let fixtures = RuleFixtureTests.fixtures.filter { $0.ruleId.hasPrefix("tls.") }
    @Test func everyCertificateFixtureIsCounted() { #expect(Self.fixtures.count == ReadmeFigures.value("certificate-fixtures")) }
    static let at = "1795392000" // 2026-11-23T00:00:00Z, the fixtures' --at
    static let trustIds: Set<String> = ["tls.cert-expired", "tls.cert-not-yet-valid", "tls.self-signed", "tls.untrusted-issuer",
                                        "tls.chain-incomplete", "tls.hostname-mismatch"]
    /// What stops nginx from starting. Weak keys and SHA-1 signatures count here because Debian's
    /// OpenSSL runs at security level 2, where libssl refuses to load them.
    static let startIds: Set<String> = ["tls.cert-missing", "tls.key-mismatch", "tls.key-encrypted", "tls.weak-key", "tls.weak-signature"]

    /// The findings that say the server will not start: a start rule predicting 521. A weak
    /// certificate in Apache's SSLCertificateChainFile is still reported, with what the CDN makes
    /// of it, but Apache starts with it, and the finding says so.
    static func startFailures(_ report: AuditReport) -> [Finding] {
        report.findings.filter { startIds.contains($0.ruleId) && ($0.predicts?.hasPrefix("521") ?? false) }
    }

    /// PEM blocks of a file, in order.
    static func blocks(_ url: URL) -> [String] {
        guard let text = try? String(contentsOf: url, encoding: .utf8) else { return [] }
        return text.components(separatedBy: "-----END CERTIFICATE-----").dropLast().map { $0.trimmingCharacters(in: .whitespacesAndNewlines) + "\n-----END CERTIFICATE-----\n" }
    }

    @Test(.oracle("openssl verify", unavailable: Oracle.missing(programs: ["openssl"])), arguments: fixtures)
    func opensslVerifyAgrees(_ fixture: RuleFixture) async throws {
        let (directory, cleanup) = try FixtureRunner.prepare(fixture)
        defer { if let cleanup { try? FileManager.default.removeItem(at: cleanup) } }
        let served = Self.blocks(directory.appendingPathComponent("etc/nginx/ssl/site.pem"))
        guard let leafPEM = served.first else { return } // tls.cert-missing: nothing to verify
        // Outside the scanned folder, or they would be audited too.
        let scratch = try TestTools.temporaryDirectory("verify")
        defer { try? FileManager.default.removeItem(at: scratch) }
        let leaf = scratch.appendingPathComponent("leaf.pem"), rest = scratch.appendingPathComponent("rest.pem")
        try leafPEM.write(to: leaf, atomically: true, encoding: .utf8)
        var arguments = ["verify", "-attime", Self.at, "-verify_hostname", "www.example.test"]
        let root = directory.appendingPathComponent("pki/root.pem")
        let config = (try? String(contentsOf: directory.appendingPathComponent(".originaudit.yml"), encoding: .utf8)) ?? ""
        arguments += ["-CAfile", config.contains("caFiles") ? root.path : "/etc/ssl/certs/ca-certificates.crt"]
        if served.count > 1 {
            try served.dropFirst().joined().write(to: rest, atomically: true, encoding: .utf8)
            arguments += ["-untrusted", rest.path]
        }
        // As a TLS client verifies a server (libssl sets the SSL-server purpose): what it refuses
        // is an error; what only X509_STRICT refuses is at least a warning.
        arguments += ["-purpose", "sslserver"]
        let openssl = try TestTools.run("openssl", arguments + [leaf.path])
        let strict = try TestTools.run("openssl", arguments + ["-x509_strict", leaf.path])
        let report = try await FixtureRunner.scan(directory: directory)
        let ours = report.findings.filter { Self.trustIds.contains($0.ruleId) }
        let errors = ours.filter { $0.severity == .error }
        #expect((openssl.status == 0) == errors.isEmpty,
                "\(fixture.testDescription): openssl verify -purpose sslserver says \(openssl.status == 0 ? "OK" : openssl.stdout + openssl.stderr); we say \(errors.map(\.ruleId))")
        if strict.status != 0 {
            #expect(!ours.isEmpty, "\(fixture.testDescription): openssl verify -x509_strict refuses it (\(strict.stdout + strict.stderr)); we say nothing")
        }
    }

    @Test(.oracle("nginx -t", unavailable: Oracle.missing(programs: ["nginx"], root: true)), arguments: fixtures)
    func nginxStartsExactlyWhenWeSayItWill(_ fixture: RuleFixture) async throws {
        let (directory, cleanup) = try FixtureRunner.prepare(fixture)
        defer { if let cleanup { try? FileManager.default.removeItem(at: cleanup) } }
        let scratch = try TestTools.temporaryDirectory("nginx-t")
        defer { try? FileManager.default.removeItem(at: scratch) }
        let main = directory.appendingPathComponent("etc/nginx/nginx.conf")
        let nginx = try TestTools.run("nginx", ["-t", "-q", "-c", main.path, "-g", "pid \(scratch.path)/nginx.pid; error_log \(scratch.path)/error.log;"],
                                      timeout: 20)
        let report = try await FixtureRunner.scan(directory: directory)
        let fatal = Self.startFailures(report)
        #expect((nginx.status != 0) == !fatal.isEmpty,
                "\(fixture.testDescription): nginx -t \(nginx.status == 0 ? "accepts it" : "refuses it: \(nginx.stderr)"); we predict \(fatal.map(\.ruleId))")
    }

    /// The same question for Apache, asked of the fixture's Apache twins (same certificate, key,
    /// name, protocols and ciphers, in each file layout mod_ssl accepts): a twin is scanned, so the
    /// prediction comes from our Apache model, and really started, since only mod_ssl's start
    /// notices a key mismatch, an encrypted key or a weak key (see `ApacheStart`).
    @Test(.oracle("a real Apache start", unavailable: Oracle.missing(programs: ["openssl"]) ?? ApacheStart.missing),
          arguments: fixtures)
    func apacheStartsExactlyWhenWeSayItWill(_ fixture: RuleFixture) async throws {
        let (directory, cleanup) = try FixtureRunner.prepare(fixture)
        defer { if let cleanup { try? FileManager.default.removeItem(at: cleanup) } }
        for layout in ApacheTwin.Layout.allCases {
            guard let twin = try ApacheTwin(of: directory, layout: layout) else { continue }
            defer { twin.remove() }
            let context = "\(fixture.testDescription) (\(layout))"
            let report = try await FixtureRunner.scan(directory: twin.directory)
            #expect(report.files.contains("etc/apache2/apache2.conf") && !report.files.contains { $0.hasPrefix("etc/nginx/nginx.conf") },
                    "\(context): the twin was not read as Apache: \(report.files)")
            let fatal = Self.startFailures(report)
            let apache = try ApacheStart.judge(twin)
            #expect(apache.outcome != .undecided, "\(context): apache2 \(apache.outcome):\n\(apache.log)")
            #expect(apache.leftovers == 0, "\(context): \(apache.leftovers) processes outlived the stopped server")
            if case .exited = apache.outcome {
                // Apache's own refusal (an AH message id), not `ip netns exec` failing to run it.
                #expect(apache.log.contains("AH0"), "\(context): apache2 did not run: \(apache.log)")
            }
            // `apache2 -t` is shown, not trusted: it accepts a mismatched, encrypted or weak key.
            let syntax = try TestTools.run("apache2", ["-t", "-f", twin.main.path], timeout: 20)
            #expect(syntax.status == 0 || apache.outcome != .serving, "\(context): apache2 -t refuses what apache2 serves: \(syntax.stderr)")
            #expect((apache.outcome != .serving) == !fatal.isEmpty,
                    "\(context): apache2 \(apache.outcome) in \(String(format: "%.2f", apache.seconds)) s (apache2 -t \(syntax.status == 0 ? "accepts it" : "refuses it")); we predict \(fatal.map(\.ruleId))\n\(apache.log)")
        }
    }
}
