import Foundation
import Testing
import TestSupport

/// `scan --live --save DIR`: a real live scan of the origin lab (a real nginx and firewall in
/// private namespaces) writes what it collected; `originaudit scan DIR` later, with nothing of
/// the lab left running, must report exactly the same findings — and DIR must hold no private
/// key material.
@Suite(.serialized, .oracle("the origin lab", unavailable: OriginLab.unavailableReason))
struct LiveSaveTests {
    @Test func savedCollectionAuditsLikeTheLiveScan() throws {
        let directory = try TestTools.temporaryDirectory("originaudit-save")
        defer { try? FileManager.default.removeItem(at: directory) }
        // www: chain in site.pem, its key alone in site.key, readable by everyone (a finding);
        // api: key, leaf and intermediate in one file, as some panels write them.
        let ssl = directory.appendingPathComponent("etc/nginx/ssl").path
        let (configuration, mounts) = try LiveScanTests.nginxSite(in: directory, certificateScript: """
            leaf api "/CN=api.example.test" "DNS:api.example.test" inter $VALID
            cat api.key api.pem inter.pem > ../etc/nginx/ssl/both.pem
            chmod 600 ../etc/nginx/ssl/both.pem
            """, keyMode: "644", extraServers: """
                server {
                    listen 443 ssl;
                    server_name api.example.test;
                    ssl_certificate \(ssl)/both.pem;
                    ssl_certificate_key \(ssl)/both.pem;
                    return 200 "api";
                }

            """)
        let lab = try OriginLab()
        defer { lab.close() }
        try lab.loadFirewall(v4: RealServerTests.firewallAdmittingTheCDN, v6: RealServerTests.firewallIPv6)
        try lab.startNginx(configuration: configuration, port: 443)

        let saved = directory.appendingPathComponent("evidence").path
        let live = try LiveScanTests.liveScan(in: lab, mounts: mounts, hiding: ["ipset"], directory: directory, extra: ["--save", saved])
        // Something to compare: the unreachable upstream (sockets), the open key (a stand-in's
        // mode), the missing ipset (a collection finding).
        #expect(live.ids.isSuperset(of: ["origin.upstream-unreachable", "tls.key-permissions", "input.unresolved"]), "\(live.output)")
        lab.close()

        // Offline, from the same directory, with the same profile on the command line — and
        // with none, the saved .originaudit.yml supplying it.
        let profile = ["--tls-mode", "strict", "--hostname", "www.example.test", "--cdn-ranges", directory.path + "/cdn-ranges.txt",
                       "--ca-file", directory.path + "/pki/root.pem"]
        for options in [profile, []] {
            let offline = try Binary.run(["scan", saved, "--root", saved, "--format", "json", "--fail-on", "never",
                                          "--at", "2026-11-23T00:00:00Z"] + options)
            #expect(offline.status == 0, "\(offline.stderr)")
            #expect(try Self.findings(offline.stdout) == Self.findings(live.output),
                    "offline (\(options.isEmpty ? "settings from .originaudit.yml" : "profile given")):\n\(offline.stdout)\nlive:\n\(live.output)")
        }
        // `scan DIR` alone: the saved .originaudit.yml makes DIR its own root.
        let plain = try Binary.run(["scan", saved, "--format", "json", "--fail-on", "never", "--at", "2026-11-23T00:00:00Z"])
        #expect(try Self.findings(plain.stdout) == Self.findings(live.output), "\(plain.stdout)")

        // No private key anywhere under DIR; each key is a stand-in recording its mode.
        for name in ["site.key", "both.pem"] {
            #expect(try Self.filesRevealing(ssl + "/" + name, under: saved).isEmpty, "\(name)'s private key is under DIR")
            let standIn = try String(contentsOfFile: saved + ssl + "/" + name, encoding: .utf8)
            #expect(standIn.contains("-----BEGIN ORIGINAUDIT KEY STAND-IN-----") && !standIn.contains("PRIVATE KEY"), "\(standIn)")
            #expect(standIn.contains(name == "site.key" ? "\"mode\":\"644\"" : "\"mode\":\"600\""), "\(standIn)")
        }
        // The combined file keeps its certificates, on the lines they were on.
        let combined = try String(contentsOfFile: ssl + "/both.pem", encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false)
        let savedCombined = try String(contentsOfFile: saved + ssl + "/both.pem", encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false)
        #expect(combined.count == savedCombined.count)
        for (index, line) in combined.enumerated() where line.hasPrefix("-----BEGIN CERTIFICATE") {
            #expect(savedCombined[index] == line, "line \(index + 1)")
        }

        // Safe modes: nothing under DIR readable by others; the manifest says what, when, where.
        for file in try Self.files(under: saved, includingDirectories: true) {
            let mode = try #require(try FileManager.default.attributesOfItem(atPath: file)[.posixPermissions] as? Int)
            #expect(mode & 0o077 == 0, "\(file) has mode \(String(mode, radix: 8))")
        }
        let manifestData = try Data(contentsOf: URL(fileURLWithPath: saved + "/.originaudit-live/manifest.json"))
        let manifest = try #require(try JSONSerialization.jsonObject(with: manifestData) as? [String: Any])
        #expect(manifest["format"] as? String == "originaudit-live-evidence")
        #expect((manifest["tool"] as? [String: String])?["version"] != nil && manifest["host"] is String && manifest["collectedAt"] is String)
        #expect((manifest["inputs"] as? [[String: Any]])?.contains { $0["file"] as? String == "nginx-T.conf" } == true, "\(manifest)")
        let project = try String(contentsOfFile: saved + "/.originaudit.yml", encoding: .utf8)
        #expect(project.contains("root: .") && project.contains("tlsMode: strict") && project.contains("hostnames: [\"www.example.test\"]"), "\(project)")
    }

    /// The same for Apache: its configuration (main file, an included directory, envvars) is
    /// laid out under its absolute paths and read back under --root; httpd's compiled-in modules
    /// and sockets come from the manifest. One virtual host names a key that is not its
    /// certificate's: the stand-in's public key must still tell them apart.
    @Test(.oracle("the origin lab's Apache", unavailable: OriginLab.apacheUnavailableReason))
    func savedApacheCollectionAuditsLikeTheLiveScan() throws {
        let directory = try TestTools.temporaryDirectory("originaudit-save-apache")
        defer { try? FileManager.default.removeItem(at: directory) }
        let (etc, configuration) = try LiveScanTests.apacheSite(in: directory, certificateScript: """
            leaf other "/CN=other.example.test" "DNS:other.example.test" root $VALID
            cp other.key ../etc/apache2/ssl/other.key
            chmod 644 ../etc/apache2/ssl/other.key
            """, sitesDirectory: true)
        let ssl = etc.appendingPathComponent("ssl").path

        let lab = try OriginLab()
        defer { lab.close() }
        try lab.loadFirewall(v4: RealServerTests.firewallAdmittingTheCDN, v6: RealServerTests.firewallIPv6)
        try lab.startApache(configuration: configuration, port: 443)
        // Not served by httpd (it would refuse the mismatched key), but in the configuration the
        // audit reads from now on: a virtual host whose key is another certificate's.
        try """
            <VirtualHost *:443>
                ServerName mismatch.example.test
                SSLEngine on
                SSLCertificateFile \(ssl)/www.example.test.pem
                SSLCertificateKeyFile \(ssl)/other.key
            </VirtualHost>

            """.write(to: etc.appendingPathComponent("sites-enabled/mismatch.conf"), atomically: false, encoding: .utf8)

        let saved = directory.appendingPathComponent("evidence").path
        let live = try LiveScanTests.liveScan(in: lab, mounts: [(etc.path, "/etc/apache2")], hiding: ["nginx"], directory: directory,
                                              extra: ["--save", saved])
        #expect(live.ids == ["origin.upstream-unreachable", "tls.key-mismatch", "tls.key-permissions", "input.unresolved"],
                "\(live.output)")
        lab.close()
        let offline = try Binary.run(["scan", saved, "--format", "json", "--fail-on", "never", "--at", "2026-11-23T00:00:00Z"])
        #expect(try Self.findings(offline.stdout) == Self.findings(live.output), "offline:\n\(offline.stdout)\nlive:\n\(live.output)")
        for key in ["www.example.test.key", "other.key"] {
            #expect(try Self.filesRevealing(ssl + "/" + key, under: saved).isEmpty, "\(key) is under DIR")
        }
        #expect(FileManager.default.fileExists(atPath: saved + etc.path + "/sites-enabled/mismatch.conf"))
    }

    /// The findings of a JSON report, each as canonical JSON (sorted keys): rule, severity,
    /// message, location, related locations, remediation, fingerprint — all must match.
    static func findings(_ report: String) throws -> [String] {
        let json = try #require(try JSONSerialization.jsonObject(with: Data(report.utf8)) as? [String: Any])
        let findings = try #require(json["findings"] as? [[String: Any]])
        return try findings.map { String(decoding: try JSONSerialization.data(withJSONObject: $0, options: [.sortedKeys]), as: UTF8.self) }
    }

    /// The files under `root` that give away the secret of the key in `keyFile` (in the clear or
    /// in any base64), after checking that the key file itself does.
    static func filesRevealing(_ keyFile: String, under root: String) throws -> [String] {
        let secret = try #require(try KeySecrets.secret(ofKeyFile: keyFile), "openssl should print \(keyFile)'s secret")
        try #require(KeySecrets.reveals([UInt8](try Data(contentsOf: URL(fileURLWithPath: keyFile))), secret: secret))
        return try files(under: root).filter { file in
            KeySecrets.reveals([UInt8]((try? Data(contentsOf: URL(fileURLWithPath: file))) ?? Data()), secret: secret)
        }
    }

    static func files(under root: String, includingDirectories: Bool = false) throws -> [String] {
        var result: [String] = includingDirectories ? [root] : []
        guard let enumerator = FileManager.default.enumerator(atPath: root) else { return result }
        while let relative = enumerator.nextObject() as? String {
            let path = root + "/" + relative
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { continue }
            if !isDirectory.boolValue || includingDirectories { result.append(path) }
        }
        return result
    }
}

/// `--save DIR` refuses a directory that is not new or empty, a link, and a scan without
/// `--live` — before collecting anything, and without touching what is there.
struct LiveSaveRefusalTests {
    @Test func saveRefusesWhatItWouldOverwrite() throws {
        let directory = try TestTools.temporaryDirectory("originaudit-save-refused")
        defer { try? FileManager.default.removeItem(at: directory) }
        let full = directory.appendingPathComponent("full")
        try FileManager.default.createDirectory(at: full, withIntermediateDirectories: true)
        try "keep me\n".write(to: full.appendingPathComponent("notes.txt"), atomically: false, encoding: .utf8)
        let refused = try Binary.run(["scan", "--live", "--save", full.path])
        #expect(refused.status == 2 && refused.stderr.contains("not empty"), "\(refused)")
        #expect(try String(contentsOf: full.appendingPathComponent("notes.txt"), encoding: .utf8) == "keep me\n")
        #expect(try FileManager.default.contentsOfDirectory(atPath: full.path) == ["notes.txt"])

        // A link to an empty directory is not followed.
        let target = directory.appendingPathComponent("target")
        try FileManager.default.createDirectory(at: target, withIntermediateDirectories: true)
        let link = directory.appendingPathComponent("link")
        try FileManager.default.createSymbolicLink(at: link, withDestinationURL: target)
        let linked = try Binary.run(["scan", "--live", "--save", link.path])
        #expect(linked.status == 2 && linked.stderr.contains("not a directory"), "\(linked)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: target.path).isEmpty)

        // Files named besides --live would be audited but not replayed: refused.
        let withPaths = try Binary.run(["scan", "--live", directory.path, "--save", directory.appendingPathComponent("new").path])
        #expect(withPaths.status == 2 && withPaths.stderr.contains("audit them separately"), "\(withPaths)")
        let withoutLive = try Binary.run(["scan", directory.path, "--save", directory.appendingPathComponent("new").path])
        #expect(withoutLive.status == 2 && withoutLive.stderr.contains("--live"), "\(withoutLive)")
        #expect(!FileManager.default.fileExists(atPath: directory.appendingPathComponent("new").path))
    }
}

/// A finding's fingerprint is the same wherever the scanned tree is checked out: certificate
/// rules keyed their fingerprints on the host path (`/tmp/a/etc/nginx/ssl/site.key`), so a
/// suppression by fingerprint stopped matching in another checkout, and a saved live
/// collection (`--save`) fingerprinted differently from the live scan.
struct FingerprintPlacementTests {
    @Test func fingerprintsDoNotDependOnWhereTheTreeIs() throws {
        let fixture = TestTools.packageRoot.appendingPathComponent("Tests/AuditRulesTests/Fixtures/tls.key-permissions/world-readable-key")
        let directory = try TestTools.temporaryDirectory("originaudit-fingerprint")
        defer { try? FileManager.default.removeItem(at: directory) }
        var fingerprints: [[String]] = []
        for place in ["a", "b/deeper"] {
            let target = directory.appendingPathComponent(place)
            try FileManager.default.createDirectory(at: target.deletingLastPathComponent(), withIntermediateDirectories: true)
            try FileManager.default.copyItem(at: fixture, to: target)
            var environment = ProcessInfo.processInfo.environment
            environment["ORIGINAUDIT_REPO"] = TestTools.packageRoot.path
            let setup = try TestTools.run("/bin/bash", ["setup.sh"], environment: environment, currentDirectory: target.path, timeout: 120)
            try #require(setup.status == 0, "\(setup.stderr)")
            // From / so that paths show as the configuration names them, under --root.
            let scan = try Binary.run(["scan", target.path, "--root", target.path, "--format", "json", "--fail-on", "never"], in: "/")
            let json = try #require(try JSONSerialization.jsonObject(with: Data(scan.stdout.utf8)) as? [String: Any])
            let findings = try #require(json["findings"] as? [[String: Any]])
            #expect(findings.contains { $0["ruleId"] as? String == "tls.key-permissions" }, "\(scan.stdout)")
            fingerprints.append(findings.map { "\($0["ruleId"] ?? "") \($0["fingerprint"] ?? "")" }.sorted())
        }
        #expect(fingerprints[0] == fingerprints[1])
    }
}
