import Foundation
import Testing
import TestSupport

/// The binary, run the way a user runs it: arguments in, stdout/stderr and exit code out.
enum Binary {
    /// The `originaudit` built beside this test bundle (`swift test` builds every product).
    static var path: String {
        let bundleDirectory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for candidate in [bundleDirectory.appendingPathComponent("originaudit"),
                          bundleDirectory.deletingLastPathComponent().appendingPathComponent("originaudit"),
                          TestTools.packageRoot.appendingPathComponent(".build/debug/originaudit")]
        where FileManager.default.isExecutableFile(atPath: candidate.path) {
            return candidate.path
        }
        return TestTools.packageRoot.appendingPathComponent(".build/debug/originaudit").path
    }

    static func run(_ arguments: [String], in directory: String = TestTools.packageRoot.path,
                    environment: [String: String] = [:]) throws -> ProcessResult {
        var env = ProcessInfo.processInfo.environment
        env["CI"] = nil
        env["NO_COLOR"] = nil
        for (key, value) in environment { env[key] = value }
        let result = try TestTools.run(path, arguments, environment: env, currentDirectory: directory, timeout: 120)
        try validateReport(result.stdout, status: result.status, arguments: arguments)
        return result
    }

    /// Every JSON or SARIF report a test gets from `scan` on standard output is checked against its
    /// schema (Schemas/report.schema.json, the OASIS SARIF schema): the contract holds for every
    /// input the tests feed, not only for one sample.
    static func validateReport(_ stdout: String, status: Int32, arguments: [String]) throws {
        guard arguments.first == "scan", status == 0 || status == 1, !arguments.contains("--output"),
              let flag = arguments.firstIndex(of: "--format"), flag + 1 < arguments.count else { return }
        switch arguments[flag + 1] {
        case "json": try SchemaValidation.validate(stdout, against: .report)
        case "sarif": try SchemaValidation.validate(stdout, against: .sarif)
        default: break
        }
    }

    static let example = "Examples/cloudflare-origin"
}

@Suite struct CLITests {
    @Test func version() throws {
        let result = try Binary.run(["--version"])
        #expect(result.status == 0)
        #expect(result.stdout.hasPrefix("originaudit "))
    }

    @Test func usageErrorsExitTwo() throws {
        #expect(try Binary.run(["scan", "--no-such-option"]).status == 2)
        #expect(try Binary.run(["scan", "--format", "yaml", Binary.example]).status == 2)
        #expect(try Binary.run(["scan", "--tls-mode", "paranoid", Binary.example]).status == 2)
        #expect(try Binary.run(["scan", "--cdn", "akamai", Binary.example]).status == 2)
        #expect(try Binary.run(["scan", "--at", "next tuesday", Binary.example]).status == 2)
        #expect(try Binary.run(["explain", "firewall.no-such-rule"]).status == 2)
        #expect(try Binary.run(["ranges", "--cdn", "akamai"]).status == 2)
    }

    @Test func nothingToAnalyseExitsTwo() throws {
        let directory = try TestTools.temporaryDirectory("empty")
        defer { try? FileManager.default.removeItem(at: directory) }
        try "just notes\n".write(to: directory.appendingPathComponent("README.txt"), atomically: true, encoding: .utf8)
        let result = try Binary.run(["scan", directory.path])
        #expect(result.status == 2)
        #expect(result.stderr.contains("nothing to analyse"))
    }

    /// The exit code follows --fail-on and the worst severity reported, whatever the findings are.
    @Test func exitCodeFollowsFailOn() throws {
        let json = try Binary.run(["scan", "--format", "json", "--fail-on", "never", Binary.example])
        #expect(json.status == 0)
        let root = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        let summary = try #require(root["summary"] as? [String: Int])
        for (threshold, levels) in [("error", ["error"]), ("warning", ["error", "warning"]), ("info", ["error", "warning", "info"])] {
            let expected: Int32 = levels.contains { summary[$0, default: 0] > 0 } ? 1 : 0
            #expect(try Binary.run(["scan", "--fail-on", threshold, Binary.example]).status == expected, "--fail-on \(threshold)")
        }
    }

    /// An unrecognised file named explicitly is a finding, and the run goes on with the others.
    @Test func unknownExplicitFileIsAFinding() throws {
        let result = try Binary.run(["scan", "--format", "json", "--fail-on", "never", "README.md", Binary.example])
        #expect(result.status == 0)
        #expect(result.stdout.contains("\"ruleId\": \"input.unknown-format\""))
        #expect(result.stdout.contains("README.md"))
    }

    @Test func sarifFromARealRunValidates() throws {
        let result = try Binary.run(["scan", "--format", "sarif", "--fail-on", "never", Binary.example])
        #expect(result.status == 0)
        try SARIFValidation.validate(result.stdout)
    }

    @Test func outputFileAndNoColourInFiles() throws {
        let directory = try TestTools.temporaryDirectory("output")
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("report.txt").path
        let result = try Binary.run(["scan", "--output", file, "--fail-on", "never", Binary.example])
        #expect(result.status == 0)
        #expect(result.stdout.isEmpty)
        let text = try String(contentsOfFile: file, encoding: .utf8)
        #expect(text.contains("CDN cloudflare, TLS mode strict"))
        #expect(!text.contains("\u{1B}["))
    }

    @Test func rangesAndRulesComeFromTheEmbeddedCatalog() throws {
        let ranges = try Binary.run(["ranges", "--cdn", "cloudflare"])
        #expect(ranges.status == 0)
        #expect(ranges.stdout.contains("173.245.48.0/20") && ranges.stdout.contains("2400:cb00::/32"))
        #expect(ranges.stdout.contains("199.27.128.0/21"))
        let plain = try Binary.run(["ranges", "--plain"])
        #expect(plain.stdout.split(separator: "\n").count == 22)
        let rules = try Binary.run(["rules"])
        #expect(rules.status == 0)
    }

    /// Rules/ is compiled in: the binary works copied alone to an empty directory.
    @Test func binaryWorksCopiedAlone() throws {
        let directory = try TestTools.temporaryDirectory("alone")
        defer { try? FileManager.default.removeItem(at: directory) }
        let copy = directory.appendingPathComponent("originaudit")
        try FileManager.default.copyItem(atPath: Binary.path, toPath: copy.path)
        let result = try TestTools.run(copy.path, ["ranges", "--cdn", "fastly"], currentDirectory: directory.path)
        #expect(result.status == 0)
        #expect(result.stdout.contains("151.101.0.0/16"))
        let rules = try TestTools.run(copy.path, ["rules"], currentDirectory: directory.path)
        #expect(rules.stdout == (try Binary.run(["rules"])).stdout)
    }
}

/// `.originaudit.yml`: profile, suppressions with reasons and expiry, and confinement to --root.
@Suite struct ProjectFileTests {
    func project(_ config: String, files: [String: String] = [:]) throws -> URL {
        let directory = try TestTools.temporaryDirectory("project")
        try config.write(to: directory.appendingPathComponent(".originaudit.yml"), atomically: true, encoding: .utf8)
        for (name, text) in files {
            let url = directory.appendingPathComponent(name)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try text.write(to: url, atomically: true, encoding: .utf8)
        }
        return directory
    }

    static let ipset = "create cdn hash:net family inet hashsize 1024 maxelem 65536\nadd cdn 192.0.2.0/24\n"

    @Test func activeSuppressionHidesAndExpiredOneResurfaces() throws {
        let files = ["ipset.save": Self.ipset, "notes.txt": "not a config\n"]
        let active = try project("""
            at: 2026-11-23T00:00:00Z
            inputs: {paths: [notes.txt]}
            suppress:
              - rule: input.unknown-format
                path: notes.txt
                reason: kept for the operators
                expires: 2027-01-31
            """, files: files)
        defer { try? FileManager.default.removeItem(at: active) }
        let hidden = try Binary.run(["scan", "--format", "json", "--fail-on", "never", "."], in: active.path)
        #expect(!hidden.stdout.contains("input.unknown-format"))
        #expect(hidden.stdout.contains("\"suppressed\": 1"))

        let expired = try project("""
            at: 2026-11-23T00:00:00Z
            inputs: {paths: [notes.txt]}
            suppress:
              - rule: input.unknown-format
                reason: kept for the operators
                expires: 2026-01-31
            """, files: files)
        defer { try? FileManager.default.removeItem(at: expired) }
        let shown = try Binary.run(["scan", "--format", "json", "--fail-on", "never", "."], in: expired.path)
        #expect(shown.stdout.contains("input.unknown-format"))
        #expect(shown.stdout.contains("suppression of this finding expired on 2026-01-31"))
        #expect(shown.stdout.contains("\"message\": \"expired suppression\""))
    }

    @Test func brokenProjectFileIsAFindingWithALine() throws {
        let directory = try project("tlsMode: strict\nsuppress:\n  - rule: input.unknown-format\n", files: ["ipset.save": Self.ipset])
        defer { try? FileManager.default.removeItem(at: directory) }
        let result = try Binary.run(["scan", "--format", "json", "."], in: directory.path)
        #expect(result.stdout.contains("a suppression needs a `reason`"))
        #expect(result.stdout.contains("\"line\": 3"))
        #expect(result.status == 1)
    }

    @Test func profileComesFromTheProjectFileAndFlagsWin() throws {
        let directory = try project("cdn: fastly\ntlsMode: flexible\nat: 2026-05-01\n", files: ["ipset.save": Self.ipset])
        defer { try? FileManager.default.removeItem(at: directory) }
        let fromFile = try Binary.run(["scan", "--format", "json", "."], in: directory.path)
        #expect(fromFile.stdout.contains("\"cdn\": \"fastly\"") && fromFile.stdout.contains("\"tlsMode\": \"flexible\""))
        #expect(fromFile.stdout.contains("\"at\": \"2026-05-01T00:00:00Z\""))
        let overridden = try Binary.run(["scan", "--format", "json", "--tls-mode", "strict", "--cdn", "cloudflare", "."], in: directory.path)
        #expect(overridden.stdout.contains("\"cdn\": \"cloudflare\"") && overridden.stdout.contains("\"tlsMode\": \"strict\""))
    }

    /// In CI (or with --root), a path named inside the tree never leads outside the root: a link's
    /// absolute target and the project file's inputs resolve under it. (A path typed on the
    /// command line is the user's own and read as given: HostileInputTests.)
    @Test func nothingOutsideTheRootIsRead() throws {
        let outside = try TestTools.temporaryDirectory("outside")
        defer { try? FileManager.default.removeItem(at: outside) }
        try Self.ipset.write(to: outside.appendingPathComponent("secret.save"), atomically: true, encoding: .utf8)
        let directory = try project("inputs:\n  ipset: [\(outside.path)/secret.save]\n", files: ["ipset.save": Self.ipset])
        defer { try? FileManager.default.removeItem(at: directory) }
        try FileManager.default.createSymbolicLink(atPath: directory.appendingPathComponent("link.save").path,
                                                   withDestinationPath: outside.appendingPathComponent("other.save").path)
        try Self.ipset.write(to: outside.appendingPathComponent("other.save"), atomically: true, encoding: .utf8)
        let result = try Binary.run(["scan", "--format", "json", "--fail-on", "never", "."],
                                    in: directory.path, environment: ["CI": "true"])
        #expect(result.stdout.contains("link.save is a symbolic link to \(outside.path)/other.save (read under --root as"), "\(result.stdout)")
        // The absolute path maps under the root, where there is no such file.
        #expect(result.stdout.contains("secret.save does not exist"))
    }
}

/// The README's rule table is `originaudit rules --markdown`, never a second hand-kept copy.
@Suite struct ReadmeTests {
    @Test func ruleTableMatchesTheCatalog() throws {
        let readme = try String(contentsOf: TestTools.packageRoot.appendingPathComponent("README.md"), encoding: .utf8)
        let begin = try #require(readme.range(of: "<!-- rules:begin -->\n"))
        let end = try #require(readme.range(of: "<!-- rules:end -->"))
        let table = String(readme[begin.upperBound..<end.lowerBound])
        let generated = try Binary.run(["rules", "--markdown"])
        #expect(generated.status == 0)
        #expect(table == generated.stdout, "README.md's rule table is stale: regenerate it with `swift run originaudit rules --markdown`")
    }

    @Test func ciRunsTheReadmeTestCommand() throws {
        let readme = try String(contentsOf: TestTools.packageRoot.appendingPathComponent("README.md"), encoding: .utf8)
        let ci = try String(contentsOf: TestTools.packageRoot.appendingPathComponent(".ci/run"), encoding: .utf8)
        #expect(readme.contains("Scripts/test      "))
        #expect(ci.split(separator: "\n").contains("Scripts/test"))
    }
}

@Suite struct CatalogCommandTests {
    @Test func rangesUpdateConvertsPublishedLists() throws {
        let directory = try TestTools.temporaryDirectory("ranges")
        defer { try? FileManager.default.removeItem(at: directory) }
        let fastly = directory.appendingPathComponent("public-ip-list.json")
        try #"{"addresses": ["151.101.0.0/16", "203.0.113.0/24"], "ipv6_addresses": ["2a04:4e42::/32"]}"#
            .write(to: fastly, atomically: true, encoding: .utf8)
        let output = directory.appendingPathComponent("fastly.txt")
        let result = try Binary.run(["ranges", "update", "--cdn", "fastly", "--from", fastly.path, "--output", output.path])
        #expect(result.status == 0)
        let text = try String(contentsOf: output, encoding: .utf8)
        #expect(text.contains("151.101.0.0/16\n203.0.113.0/24\n2a04:4e42::/32\n"))
        #expect(result.stderr.contains("new since the embedded snapshot (2023-06-06): 203.0.113.0/24"))
        #expect(result.stderr.contains("no longer published: 2a04:4e40::/32"))

        let aws = directory.appendingPathComponent("ip-ranges.json")
        try #"{"prefixes": [{"ip_prefix": "198.51.100.0/24", "service": "CLOUDFRONT_ORIGIN_FACING"}, {"ip_prefix": "192.0.2.0/24", "service": "EC2"}], "ipv6_prefixes": []}"#
            .write(to: aws, atomically: true, encoding: .utf8)
        let cloudfront = try Binary.run(["ranges", "update", "--cdn", "cloudfront", "--from", aws.path])
        #expect(cloudfront.stdout.contains("198.51.100.0/24") && !cloudfront.stdout.contains("192.0.2.0/24"))

        let garbage = directory.appendingPathComponent("garbage.txt")
        try "not an address\n".write(to: garbage, atomically: true, encoding: .utf8)
        let bad = try Binary.run(["ranges", "update", "--from", garbage.path])
        #expect(bad.status == 2)
        #expect(bad.stderr.contains("line 1"))
    }

    /// `--rules DIR` overrides a rule's metadata, and the report uses it.
    @Test func rulesDirectoryOverridesTheCatalog() throws {
        let directory = try TestTools.temporaryDirectory("rules")
        defer { try? FileManager.default.removeItem(at: directory) }
        try "id: input.unknown-format\nseverity: error\ntitle: Stray file in the configuration repository\n"
            .write(to: directory.appendingPathComponent("override.yml"), atomically: true, encoding: .utf8)
        let explained = try Binary.run(["explain", "input.unknown-format", "--rules", directory.path])
        #expect(explained.status == 0)
        #expect(explained.stdout.contains("Stray file in the configuration repository"))
        #expect(explained.stdout.contains("Severity: error"))
        let scan = try Binary.run(["scan", "--rules", directory.path, "--format", "json", "README.md", Binary.example])
        #expect(scan.stdout.contains("\"severity\": \"error\""))
        #expect(scan.status == 1)
        try "id: [broken\n".write(to: directory.appendingPathComponent("broken.yml"), atomically: true, encoding: .utf8)
        #expect(try Binary.run(["rules", "--rules", directory.path]).status == 2)
    }

    /// A `--rules` that names nothing, or a file, is a usage error in every command that takes it;
    /// it used to list the embedded catalog and exit 0 as if the overrides had been read.
    @Test func rulesDirectoryThatIsNotOneIsAUsageError() throws {
        let file = TestTools.packageRoot.appendingPathComponent("README.md").path
        for (path, message) in [("/nonexistent-originaudit-rules", "does not exist"), (file, "is not a directory")] {
            for command in [["rules"], ["explain", "input.unknown-format"], ["scan", Binary.example]] {
                let result = try Binary.run(command + ["--rules", path])
                #expect(result.status == 2, "\(command) --rules \(path)")
                #expect(result.stderr.contains(message), "\(command): \(result.stderr)")
            }
        }
    }
}

@Suite struct OutputTargetTests {
    /// `--output /dev/null` writes into the device: an atomic rename would replace it with a file.
    @Test func outputToADeviceLeavesTheDeviceAlone() throws {
        let result = try Binary.run(["scan", "--output", "/dev/null", "--fail-on", "never", Binary.example])
        #expect(result.status == 0)
        let type = try FileManager.default.attributesOfItem(atPath: "/dev/null")[.type] as? FileAttributeType
        #expect(type == .typeCharacterSpecial)
    }

    /// A regular file is written through a temporary file beside it and renamed over it once
    /// whole: the file it replaces keeps its mode, a new one gets 0666 less the umask, and
    /// nothing else is left in the directory.
    @Test func aRegularFileIsReplacedWholeKeepingItsMode() throws {
        let directory = try TestTools.temporaryDirectory("atomic-output")
        defer { try? FileManager.default.removeItem(at: directory) }
        let existing = directory.appendingPathComponent("report.json").path
        try Data("old".utf8).write(to: URL(fileURLWithPath: existing))
        try FileManager.default.setAttributes([.posixPermissions: 0o640], ofItemAtPath: existing)
        let arguments = ["scan", "--format", "json", "--at", "2026-11-23", "--fail-on", "never", Binary.example]
        let result = try Binary.run(arguments + ["--output", existing])
        #expect(result.status == 0)
        let expected = try Binary.run(arguments)
        let written = try String(contentsOfFile: existing, encoding: .utf8)
        #expect(written.count > 1000 && written == expected.stdout)
        #expect(try FileManager.default.attributesOfItem(atPath: existing)[.posixPermissions] as? Int == 0o640)

        let fresh = directory.appendingPathComponent("new.txt").path
        #expect(try Binary.run(["scan", "--output", fresh, "--fail-on", "never", Binary.example]).status == 0)
        // The umask the binary inherited, read without changing it (tests run side by side).
        let status = try String(contentsOfFile: "/proc/self/status", encoding: .utf8)
        let mask = try #require(status.split(separator: "\n").first { $0.hasPrefix("Umask:") }
            .flatMap { Int($0.dropFirst(6).trimmingCharacters(in: .whitespaces), radix: 8) })
        #expect(try FileManager.default.attributesOfItem(atPath: fresh)[.posixPermissions] as? Int == 0o666 & ~mask)
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted() == ["new.txt", "report.json"])
    }

    /// A file that cannot be written is a usage error naming it; nothing is left behind.
    @Test func anUnwritableOutputIsAUsageError() throws {
        let directory = try TestTools.temporaryDirectory("atomic-output-missing")
        defer { try? FileManager.default.removeItem(at: directory) }
        let output = directory.appendingPathComponent("missing/report.txt").path
        let result = try Binary.run(["scan", "--output", output, "--fail-on", "never", Binary.example])
        #expect(result.status == 2)
        #expect(result.stderr.contains("--output \(output): cannot be created"), "\(result.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path).isEmpty)
    }
}

@Suite struct FirewallCommandTests {
    @Test func matrixForTheExample() throws {
        let text = try Binary.run(["firewall", Binary.example])
        #expect(text.status == 1, "some Cloudflare ranges are dropped in the example")
        #expect(text.stdout.contains("172.64.0.0/13") && text.stdout.contains("policy DROP"))
        #expect(text.stdout.contains("999424 of 1524736"))
        let json = try Binary.run(["firewall", "--format", "json", "--ports", "443", Binary.example])
        let root = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        #expect(root["ports"] as? String == "443")
        let cells = try #require(root["cells"] as? [[String: Any]])
        #expect(cells.count == 15)
    }

    @Test func usage() throws {
        #expect(try Binary.run(["firewall", "--ports", "80-", Binary.example]).status == 2)
        #expect(try Binary.run(["firewall", "Tests/AuditRulesTests/Fixtures/origin.keepalive-disabled/keepalive-on_fp"]).status == 2)
    }
}

/// No output format, and no command, ever shows private key material.
@Suite struct KeyMaterialTests {
    @Test func privateKeysNeverAppearInAnyOutput() throws {
        let directory = try TestTools.temporaryDirectory("keys")
        defer { try? FileManager.default.removeItem(at: directory) }
        func openssl(_ arguments: [String]) throws {
            let result = try TestTools.run("openssl", arguments, currentDirectory: directory.path)
            try #require(result.status == 0, "openssl \(arguments): \(result.stderr)")
        }
        try openssl(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "plain.key", "-out", "site.pem", "-days", "30", "-subj", "/CN=www.example.test"])
        try openssl(["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", "other.key"])
        try openssl(["pkey", "-in", "plain.key", "-aes256", "-passout", "pass:secret", "-out", "encrypted.key"])
        try openssl(["pkey", "-in", "other.key", "-traditional", "-out", "sec1.key"])
        // A combined file: certificate and key together.
        let combined = try String(contentsOf: directory.appendingPathComponent("site.pem"), encoding: .utf8)
            + String(contentsOf: directory.appendingPathComponent("plain.key"), encoding: .utf8)
        try combined.write(to: directory.appendingPathComponent("combined.pem"), atomically: true, encoding: .utf8)
        try FileManager.default.createDirectory(at: directory.appendingPathComponent("conf"), withIntermediateDirectories: true)
        try """
        events { }
        http {
            server { listen 443 ssl; server_name www.example.test; ssl_certificate ../site.pem; ssl_certificate_key ../other.key; }
            server { listen 443 ssl; server_name api.example.test; ssl_certificate ../site.pem; ssl_certificate_key ../encrypted.key; }
        }
        """.write(to: directory.appendingPathComponent("conf/nginx.conf"), atomically: true, encoding: .utf8)
        var secrets: [String] = []
        for name in ["plain.key", "other.key", "encrypted.key", "sec1.key"] {
            let text = try String(contentsOf: directory.appendingPathComponent(name), encoding: .utf8)
            secrets += text.split(separator: "\n").filter { !$0.hasPrefix("-----") && $0.count >= 16 }.map { String($0.prefix(24)) }
        }
        try #require(secrets.count > 20)
        var outputs: [String] = []
        for format in ["text", "json", "sarif", "github", "html"] {
            let result = try Binary.run(["scan", "--format", format, "--fail-on", "never", directory.path])
            outputs.append(result.stdout + result.stderr)
        }
        let cert = try Binary.run(["cert"] + ["site.pem", "plain.key", "other.key", "encrypted.key", "sec1.key", "combined.pem"].map { directory.appendingPathComponent($0).path })
        outputs.append(cert.stdout + cert.stderr)
        #expect(cert.stdout.contains("encrypted (needs a passphrase"))
        #expect(outputs[1].contains("tls.key-mismatch") && outputs[1].contains("tls.key-encrypted"))
        for output in outputs {
            #expect(!output.contains("PRIVATE KEY-----"))
            for secret in secrets { #expect(!output.contains(secret), "key material in output") }
        }
    }
}

/// A file that no main configuration includes is not serving configuration: whatever in it would
/// stop a server from starting is said about the file, never as a server that is down (521).
@Suite struct UnincludedFragmentTests {
    static let apacheSite = """
        <VirtualHost *:443>
            ServerName example.org
            SSLEngine on
            SSLCertificateFile /etc/ssl/certs/missing.pem
            SSLCertificateKeyFile /etc/ssl/private/missing.key
            Include /etc/apache2/missing.conf
            KeepAlive maybe
            Listen 8080
        </VirtualHost>

        """
    static let nginxSite = """
        server {
            listen 443 ssl;
            server_name example.org;
            ssl_certificate /etc/ssl/certs/missing.pem;
            ssl_certificate_key /etc/ssl/private/missing.key;
            include /etc/nginx/missing.conf;
            add_header X;
        }

        """

    /// (rule id, severity, predicts, line) of every finding in the file.
    static func findings(_ arguments: [String], in directory: URL) throws -> [(rule: String, severity: String, predicts: String?, line: Int)] {
        let result = try Binary.run(["scan", "--format", "json", "--fail-on", "never"] + arguments, in: directory.path)
        let report = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]
        return (report?["findings"] as? [[String: Any]] ?? []).map { finding in
            ((finding["ruleId"] as? String) ?? "", (finding["severity"] as? String) ?? "", finding["predicts"] as? String,
             ((finding["location"] as? [String: Any])?["line"] as? Int) ?? 0)
        }
    }

    @Test("a lone vhost file and a lone server block: start failures are warnings about the file, without a 521",
          arguments: [("apache", apacheSite, [4, 5, 6, 7, 8]), ("nginx", nginxSite, [4, 5, 6, 7])])
    func loneFragment(server: String, text: String, lines: [Int]) throws {
        let directory = try TestTools.temporaryDirectory("fragment-\(server)")
        defer { try? FileManager.default.removeItem(at: directory) }
        try text.write(to: directory.appendingPathComponent("site.conf"), atomically: true, encoding: .utf8)
        let found = try Self.findings(["site.conf", "--root", "."], in: directory)
        let startRules: Set<String> = ["input.parse-error", "input.include-missing", "tls.cert-missing"]
        let start = found.filter { startRules.contains($0.rule) }
        #expect(start.map(\.line).sorted() == lines, "\(found)")
        #expect(start.allSatisfy { $0.severity == "warning" && $0.predicts == nil }, "\(start)")
    }

    @Test("the same vhost file, included by a main configuration, is a server that does not start")
    func includedFragment() throws {
        let directory = try TestTools.temporaryDirectory("fragment-included")
        defer { try? FileManager.default.removeItem(at: directory) }
        let apache = directory.appendingPathComponent("etc/apache2")
        try FileManager.default.createDirectory(at: apache, withIntermediateDirectories: true)
        try Self.apacheSite.write(to: apache.appendingPathComponent("site.conf"), atomically: true, encoding: .utf8)
        try "LoadModule ssl_module /usr/lib/apache2/modules/mod_ssl.so\nInclude site.conf\n"
            .write(to: apache.appendingPathComponent("apache2.conf"), atomically: true, encoding: .utf8)
        let found = try Self.findings(["etc", "--root", "."], in: directory)
        #expect(found.contains { $0.rule == "input.include-missing" && $0.severity == "error" && $0.predicts == "521" }, "\(found)")
        #expect(found.contains { $0.rule == "input.parse-error" && $0.line == 7 && $0.severity == "error" }, "\(found)")
    }
}
