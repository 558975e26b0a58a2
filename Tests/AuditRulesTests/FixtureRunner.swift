import Foundation
import Testing
import OriginAuditCore
import Audit
import AuditRules
import TestSupport

/// One fixture folder: `Fixtures/<rule-id>/<case>/` must make the rule report; `<case>_fp/` is a
/// near miss that must stay silent (gixy's naming).
struct RuleFixture: Sendable, CustomTestStringConvertible {
    var ruleId: String
    var name: String
    var directory: URL
    var mustTrigger: Bool { !name.hasSuffix("_fp") }
    var testDescription: String { "\(ruleId)/\(name)" }
}

enum FixtureRunner {
    static let root = TestTools.packageRoot.appendingPathComponent("Tests/AuditRulesTests/Fixtures")

    /// Every fixture folder, in name order.
    static func discover() -> [RuleFixture] {
        let fm = FileManager.default
        var fixtures: [RuleFixture] = []
        // `_lib/` holds helpers the fixtures' setup scripts share, not a rule.
        for ruleId in ((try? fm.contentsOfDirectory(atPath: root.path)) ?? []).sorted() where !ruleId.hasPrefix(".") && !ruleId.hasPrefix("_") {
            let ruleDirectory = root.appendingPathComponent(ruleId)
            for name in ((try? fm.contentsOfDirectory(atPath: ruleDirectory.path)) ?? []).sorted() where !name.hasPrefix(".") {
                fixtures.append(RuleFixture(ruleId: ruleId, name: name, directory: ruleDirectory.appendingPathComponent(name)))
            }
        }
        return fixtures
    }

    /// Scans a fixture the way `originaudit scan DIR --root DIR` would, from inside the folder:
    /// its `.originaudit.yml` sets the profile and inputs. A `setup.sh` (which generates
    /// certificates with openssl, say) runs first in a temporary copy.
    static func scan(_ fixture: RuleFixture) async throws -> AuditReport {
        let (directory, cleanup) = try prepare(fixture)
        defer { if let cleanup { try? FileManager.default.removeItem(at: cleanup) } }
        return try await scan(directory: directory)
    }

    /// The folder to scan: the fixture itself, or a temporary copy where its `setup.sh` ran
    /// (then `cleanup` is the folder to remove afterwards).
    static func prepare(_ fixture: RuleFixture) throws -> (directory: URL, cleanup: URL?) {
        guard FileManager.default.fileExists(atPath: fixture.directory.appendingPathComponent("setup.sh").path) else {
            return (fixture.directory, nil)
        }
        let copy = try TestTools.temporaryDirectory("fixture")
        let target = copy.appendingPathComponent(fixture.name)
        try FileManager.default.copyItem(at: fixture.directory, to: target)
        // setup.sh may copy public data the repository ships (Rules/trust) from ORIGINAUDIT_REPO.
        var environment = ProcessInfo.processInfo.environment
        environment["ORIGINAUDIT_REPO"] = TestTools.packageRoot.path
        let result = try TestTools.run("/bin/bash", ["setup.sh"], environment: environment, currentDirectory: target.path, timeout: 120)
        guard result.status == 0 else {
            try? FileManager.default.removeItem(at: copy)
            throw FixtureError(message: "setup.sh of \(fixture.testDescription) failed: \(result.stderr)")
        }
        return (target, copy)
    }

    /// A profile that cannot be built fails the fixture: falling back to some default (no CDN at
    /// all, say) would let a near miss pass for the wrong reason.
    static func scan(directory: URL) async throws -> AuditReport {
        var config = ProjectConfig()
        var configFindings: [Finding] = []
        let configURL = directory.appendingPathComponent(".originaudit.yml")
        if let text = try? String(contentsOf: configURL, encoding: .utf8) {
            (config, configFindings) = ProjectConfig.parse(text, file: ".originaudit.yml", directory: directory.path)
        }
        let tree = SourceTree(root: directory, base: directory)
        config.resolvePaths(in: tree)
        let profile = try ProfileBuilder.build(ProfileOptions(at: config.at ?? "2026-11-23T00:00:00Z"), config: config,
                                               now: Date(timeIntervalSince1970: 1_795_392_000), tree: tree)
        var selection = InputSelection()
        selection.add(config)
        if selection.paths.isEmpty { selection.paths = ["."] }
        var request = selection.request(tree: tree, defines: config.defines, caFiles: config.caFiles)
        // A live-mode fixture carries snapshots of /proc/net/tcp and /proc/net/unix.
        let tcp = directory.appendingPathComponent("proc-net-tcp"), unix = directory.appendingPathComponent("proc-net-unix")
        if let tcpText = try? String(contentsOf: tcp, encoding: .utf8) {
            request.sockets = HostSockets(tcp: HostSockets.parseProcTCP(tcpText, family: .ipv4),
                                          unixPaths: HostSockets.parseProcUnix((try? String(contentsOf: unix, encoding: .utf8)) ?? ""))
        }
        var loaded = AuditRunner.load(request)
        loaded.findings += configFindings
        return await AuditRunner.finish(loaded, profile: profile, config: config, catalog: RuleCatalog.embedded)
    }
}

struct FixtureError: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}

/// Where each expected finding is: `expected-findings.txt` beside a must-trigger fixture (the
/// fixture's own rule) or a scenario (every finding), one `RULE-ID FILE:LINE` line per finding
/// (`RULE-ID -` for a finding with no location), sorted. A rule that fires on the wrong host, file
/// or line fails, not only one that does not fire. `Scripts/test --record` writes the file anew;
/// the diff is reviewed like a golden file's.
enum ExpectedFindings {
    static let fileName = "expected-findings.txt"

    static func lines(_ findings: [Finding]) -> [String] {
        findings.map { finding in
            guard let location = finding.location else { return "\(finding.ruleId) -" }
            return location.line > 0 ? "\(finding.ruleId) \(location.file):\(location.line)" : "\(finding.ruleId) \(location.file)"
        }.sorted()
    }

    /// Compares `findings` with the file in `directory` (the fixture's own folder in the repository).
    static func check(_ findings: [Finding], in directory: URL, _ context: String,
                      sourceLocation: Testing.SourceLocation = #_sourceLocation) throws {
        let url = directory.appendingPathComponent(fileName)
        let actual = lines(findings)
        if Recording.requested {
            try actual.map { $0 + "\n" }.joined().write(to: url, atomically: true, encoding: .utf8)
            return
        }
        guard let text = try? String(contentsOf: url, encoding: .utf8) else {
            Issue.record("\(context) has no \(fileName): run Scripts/test --record and review what it writes", sourceLocation: sourceLocation)
            return
        }
        let expected = text.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        #expect(actual == expected, """
            \(context): findings are not where \(fileName) expects them
            expected: \(expected.filter { !actual.contains($0) })
            reported: \(actual.filter { !expected.contains($0) })
            """, sourceLocation: sourceLocation)
    }
}
