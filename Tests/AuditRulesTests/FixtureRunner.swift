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
        return await scan(directory: directory)
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

    static func scan(directory: URL) async -> AuditReport {
        var config = ProjectConfig()
        var configFindings: [Finding] = []
        let configURL = directory.appendingPathComponent(".originaudit.yml")
        if let text = try? String(contentsOf: configURL, encoding: .utf8) {
            (config, configFindings) = ProjectConfig.parse(text, file: ".originaudit.yml", directory: directory.path)
        }
        let tree = SourceTree(root: directory, base: directory)
        config.resolvePaths(in: tree)
        let profile = (try? ProfileBuilder.build(ProfileOptions(at: config.at ?? "2026-11-23T00:00:00Z"), config: config,
                                                 now: Date(timeIntervalSince1970: 1_795_392_000), tree: tree))
            ?? Profile(cdn: .none, at: Date(timeIntervalSince1970: 1_795_392_000))
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
