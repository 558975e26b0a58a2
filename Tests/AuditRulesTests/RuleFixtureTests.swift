import Foundation
import Testing
import OriginAuditCore
import AuditRules
import TestSupport

/// Every rule proves itself on fixtures: each must-trigger folder reports the rule, each `_fp`
/// near miss does not. And every id this build can report has both kinds.
@Suite struct RuleFixtureTests {
    static let fixtures = FixtureRunner.discover()

    @Test(arguments: fixtures)
    func fixture(_ fixture: RuleFixture) async throws {
        let report = try await FixtureRunner.scan(fixture)
        let reported = report.findings.filter { $0.ruleId == fixture.ruleId }
        if fixture.mustTrigger {
            #expect(!reported.isEmpty, "\(fixture.testDescription) should report \(fixture.ruleId); reported: \(report.findings.map { "\($0.ruleId): \($0.message)" })")
            try ExpectedFindings.check(reported, in: fixture.directory, fixture.testDescription)
        } else {
            #expect(reported.isEmpty, "\(fixture.testDescription) should not report \(fixture.ruleId): \(reported.map(\.message))")
        }
        for finding in report.findings {
            #expect(finding.severity != nil && !finding.message.isEmpty)
        }
    }

    @Test func everyFixtureIsCounted() { #expect(Self.fixtures.count == ReadmeFigures.value("rule-fixtures")) }

    @Test func everyReportableIdHasTriggeringAndNearMissFixtures() {
        let byRule = Dictionary(grouping: Self.fixtures, by: \.ruleId)
        for id in RuleRegistry.implementedIds.sorted() {
            let cases = byRule[id] ?? []
            #expect(cases.contains { $0.mustTrigger }, "\(id) has no must-trigger fixture in Tests/AuditRulesTests/Fixtures/\(id)/")
            #expect(cases.contains { !$0.mustTrigger }, "\(id) has no _fp near-miss fixture in Tests/AuditRulesTests/Fixtures/\(id)/")
        }
        for id in byRule.keys {
            #expect(RuleRegistry.implementedIds.contains(id), "fixtures for \(id), which nothing in this build reports")
        }
    }
}

/// The Swift registry and the catalog in Rules/ describe the same ids.
@Suite struct RegistryTests {
    @Test func everyReportableIdIsInTheCatalog() {
        let catalog = RuleCatalog.embedded
        for id in RuleRegistry.implementedIds.sorted() {
            #expect(catalog[id] != nil, "\(id) is reported but has no Rules/*/\(id).yml")
        }
    }

    @Test func registeredRulesHaveUniqueIds() {
        let ids = RuleRegistry.rules.map(\.id)
        #expect(Set(ids).count == ids.count, "a rule id is registered twice: \(ids)")
        #expect(RuleRegistry.emittedByInputs.isDisjoint(with: ids))
    }

    @Test func catalogFileNamesMatchTheirIds() throws {
        let rules = TestTools.packageRoot.appendingPathComponent("Rules")
        for domain in ["input", "firewall", "origin", "tls"] {
            let folder = rules.appendingPathComponent(domain)
            for file in (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? [] where file.hasSuffix(".yml") {
                let id = String(file.dropLast(4))
                #expect(id.hasPrefix(domain + "."), "Rules/\(domain)/\(file) is in the wrong folder")
                #expect(RuleCatalog.embedded[id] != nil, "Rules/\(domain)/\(file) does not declare id \(id)")
            }
        }
    }
}

/// The nginx fixtures are configurations the real nginx accepts (`nginx -t`): the rules are
/// proved on what a server would really run, not on something only our parser reads.
@Suite struct FixtureValidityTests {
    @Test(.oracle("nginx -t", unavailable: Oracle.missing(programs: ["nginx"], root: true)))
    func nginxAcceptsEveryNginxFixture() throws {
        let scratch = try TestTools.temporaryDirectory("nginx-t")
        defer { try? FileManager.default.removeItem(at: scratch) }
        var checked = 0
        // Fixtures that make their certificates at test time are judged by the nginx differential below.
        for fixture in RuleFixtureTests.fixtures where !fixture.ruleId.hasPrefix("input.")
            && !FileManager.default.fileExists(atPath: fixture.directory.appendingPathComponent("setup.sh").path) {
            let main = fixture.directory.appendingPathComponent("etc/nginx/nginx.conf")
            guard FileManager.default.fileExists(atPath: main.path) else { continue }
            let result = try TestTools.run("nginx", ["-t", "-q", "-p", fixture.directory.path, "-c", main.path,
                                                     "-g", "pid \(scratch.path)/nginx.pid; error_log \(scratch.path)/error.log;"])
            #expect(result.status == 0, "nginx -t rejects \(fixture.testDescription): \(result.stderr)")
            checked += 1
        }
        #expect(checked == ReadmeFigures.value("nginx-t-fixtures"))
    }
}

extension FixtureValidityTests {
    /// Every nginx scenario, with its certificates made, is judged by the real `nginx -t`: it
    /// accepts the configuration unless the scenario predicts that the server will not start.
    @Test(.oracle("nginx -t", unavailable: Oracle.missing(programs: ["nginx"], root: true)))
    func nginxJudgesEveryNginxScenario() throws {
        let wontStart: Set<String> = ["tls.key-mismatch", "tls.key-encrypted", "tls.cert-missing", "input.include-missing"]
        var checked = 0
        for scenario in ScenarioTests.scenarios {
            guard FileManager.default.fileExists(atPath: scenario.directory.appendingPathComponent("etc/nginx/nginx.conf").path) else { continue }
            let expectedText = try String(contentsOf: scenario.directory.appendingPathComponent("expected-rules.txt"), encoding: .utf8)
            let expected = Set(expectedText.split(separator: "\n").compactMap { $0.split(separator: " ").first.map(String.init) })
            let (directory, cleanup) = try FixtureRunner.prepare(scenario)
            defer { if let cleanup { try? FileManager.default.removeItem(at: cleanup) } }
            let scratch = try TestTools.temporaryDirectory("nginx-t-scenario")
            defer { try? FileManager.default.removeItem(at: scratch) }
            let main = directory.appendingPathComponent("etc/nginx/nginx.conf")
            let result = try TestTools.run("nginx", ["-t", "-q", "-p", directory.path, "-c", main.path,
                                                     "-g", "pid \(scratch.path)/nginx.pid; error_log \(scratch.path)/error.log;"])
            if expected.isDisjoint(with: wontStart) {
                #expect(result.status == 0, "nginx -t rejects scenario \(scenario.name): \(result.stderr)")
            } else {
                #expect(result.status != 0, "scenario \(scenario.name) predicts a server that will not start, yet nginx -t accepts it")
            }
            checked += 1
        }
        #expect(checked == ReadmeFigures.value("nginx-t-scenarios"))
    }

    /// Every Apache scenario, with its certificates made, passes the real `apache2 -t`. Its files
    /// name /etc/apache2, /etc/ssl, /etc/letsencrypt as on a server, so httpd runs in a mount
    /// namespace of its own where an overlay on /etc holds the scenario's files (the real /etc is
    /// never written). A scenario that loads a third-party module Debian does not ship
    /// (mod_antiloris, mod_cloudflare) gets the stand-in of `Fixtures/_lib/standin-modules/`, built
    /// here against apache2-dev's headers and put where its LoadModule looks, in an overlay on the
    /// module directory; a module with no stand-in fails the test.
    @Test(.oracle("apache2 -t", unavailable: Oracle.missing(programs: ["apache2", "unshare", "gcc"], root: true,
                                                            files: ["/usr/include/apache2/httpd.h"])))
    func apacheAcceptsEveryApacheScenario() throws {
        let standins = FixtureRunner.root.appendingPathComponent("_lib/standin-modules")
        let built = try TestTools.temporaryDirectory("apache-standins")
        defer { try? FileManager.default.removeItem(at: built) }
        var checked = 0
        for scenario in ScenarioTests.scenarios {
            let modules = scenario.directory.appendingPathComponent("etc/apache2/mods-enabled")
            guard FileManager.default.fileExists(atPath: scenario.directory.appendingPathComponent("etc/apache2/apache2.conf").path) else { continue }
            let loads = ((try? FileManager.default.contentsOfDirectory(atPath: modules.path)) ?? []).filter { $0.hasSuffix(".load") }
            let missing = try loads.flatMap { name in
                try String(contentsOf: modules.appendingPathComponent(name), encoding: .utf8).split(separator: "\n")
                    .compactMap { line in line.split(separator: " ").count == 3 && line.hasPrefix("LoadModule") ? String(line.split(separator: " ")[2]) : nil }
            }.filter { !FileManager.default.fileExists(atPath: $0) }
            let moduleDirectory = built.appendingPathComponent(scenario.name)
            try FileManager.default.createDirectory(at: moduleDirectory, withIntermediateDirectories: true)
            for path in missing {
                let name = URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent
                let source = standins.appendingPathComponent(name + ".c")
                try #require(FileManager.default.fileExists(atPath: source.path),
                             "scenario \(scenario.name) loads \(path), which this machine lacks and which has no stand-in in _lib/standin-modules")
                let compiled = try TestTools.run("gcc", ["-shared", "-fPIC", "-Wall", "-Werror", "-I/usr/include/apache2", "-I/usr/include/apr-1.0",
                                                         "-o", moduleDirectory.appendingPathComponent(name + ".so").path, source.path])
                try #require(compiled.status == 0, "the stand-in \(name).c does not build: \(compiled.stderr)")
            }
            let (directory, cleanup) = try FixtureRunner.prepare(scenario)
            defer { if let cleanup { try? FileManager.default.removeItem(at: cleanup) } }
            let scratch = try TestTools.temporaryDirectory("apache-t-scenario")
            defer { try? FileManager.default.removeItem(at: scratch) }
            for folder in ["upper", "work", "modules-upper", "modules-work"] {
                try FileManager.default.createDirectory(at: scratch.appendingPathComponent(folder), withIntermediateDirectories: true)
            }
            let script = #"""
                mount -t overlay overlay -o "lowerdir=/etc,upperdir=$1/upper,workdir=$1/work" /etc && rm -rf /etc/apache2 && cp -a "$2/etc/." /etc/ \
                && mount -t overlay overlay -o "lowerdir=/usr/lib/apache2/modules,upperdir=$1/modules-upper,workdir=$1/modules-work" /usr/lib/apache2/modules \
                && cp "$3"/. /usr/lib/apache2/modules/ -r && . /etc/apache2/envvars && exec apache2 -t
                """#
            let result = try TestTools.run("unshare", ["--mount", "--propagation", "private", "sh", "-c", script, "sh",
                                                       scratch.path, directory.path, moduleDirectory.path], timeout: 30)
            #expect(result.status == 0, "apache2 -t rejects scenario \(scenario.name): \(result.stderr)")
            checked += 1
        }
        #expect(checked == ReadmeFigures.value("apache-t-scenarios"))
    }

    /// Every iptables-save fixture and scenario loads with the real `iptables-restore --test` / `ip6tables-restore
    /// --test`, inside a network namespace of the test's own where the fixture's ipsets (if it has
    /// them) are created first. A set the rules name that no file of the fixture gives (the
    /// fixtures about unresolved sets) is created empty, of the rules' family, so the kernel still
    /// judges every rule. Nothing is skipped: a match module this machine lacks fails the test.
    @Test(.oracle("iptables-restore --test", unavailable: Oracle.missing(programs: ["iptables-restore", "ip6tables-restore", "ipset"], namespaces: true)))
    func iptablesRestoreAcceptsEveryRulesetFixture() throws {
        var checked = 0
        for fixture in RuleFixtureTests.fixtures + ScenarioTests.scenarios where !fixture.ruleId.hasPrefix("input.") {
            guard let walker = FileManager.default.enumerator(at: fixture.directory, includingPropertiesForKeys: nil) else { continue }
            let files = walker.compactMap { $0 as? URL }
            let rulesets = files.filter { ["rules.v4", "rules.v6"].contains($0.lastPathComponent) }
            guard !rulesets.isEmpty else { continue }
            let namespace = "oa-fx-\(getpid())-\(checked)"
            try TestTools.run("ip", ["netns", "add", namespace])
            defer { _ = try? TestTools.run("ip", ["netns", "delete", namespace]) }
            // ipset-persistent saves to /etc/iptables/ipsets.
            let ipsets = files.filter { $0.lastPathComponent.hasSuffix("ipset.save") || ["ipset", "ipsets"].contains($0.lastPathComponent) }
            for set in ipsets {
                let restored = try TestTools.run("ip", ["netns", "exec", namespace, "ipset", "restore"], stdin: try String(contentsOf: set, encoding: .utf8))
                #expect(restored.status == 0, "ipset restore rejects \(fixture.testDescription)/\(set.lastPathComponent): \(restored.stderr)")
            }
            for url in rulesets {
                let text = try String(contentsOf: url, encoding: .utf8)
                guard text.contains("*filter") || text.contains("*nat") || text.contains("*raw") || text.contains("*mangle") else { continue }
                let v6 = url.lastPathComponent == "rules.v6"
                let existing = try TestTools.run("ip", ["netns", "exec", namespace, "ipset", "list", "-n"]).stdout.split(separator: "\n").map(String.init)
                for name in Self.setNames(in: text) where !existing.contains(name) {
                    let created = try TestTools.run("ip", ["netns", "exec", namespace, "ipset", "create", name, "hash:net", "family", v6 ? "inet6" : "inet"])
                    #expect(created.status == 0, "ipset create \(name): \(created.stderr)")
                }
                let tool = v6 ? "ip6tables-restore" : "iptables-restore"
                let result = try TestTools.run("ip", ["netns", "exec", namespace, tool, "--test"], stdin: text)
                #expect(result.status == 0, "\(tool) --test rejects \(fixture.testDescription)/\(url.lastPathComponent): \(result.stderr)")
                checked += 1
            }
        }
        #expect(checked == ReadmeFigures.value("iptables-restore-fixtures"), "rulesets judged by iptables-restore --test")
    }
}

extension FixtureValidityTests {
    /// The ipset names an iptables-save text matches against (`--match-set NAME`).
    static func setNames(in text: String) -> [String] {
        var names: [String] = []
        for line in text.split(separator: "\n") {
            let words = line.split(separator: " ")
            for (index, word) in words.enumerated() where word == "--match-set" && index + 1 < words.count {
                let name = String(words[index + 1])
                if !names.contains(name) { names.append(name) }
            }
        }
        return names
    }
}

extension FixtureValidityTests {
    /// Every nftables ruleset among the fixtures and scenarios (`*.nft`, `nftables.conf`) is one
    /// the real `nft -c -f` accepts, inside a network namespace of the test's own.
    @Test(.oracle("nft -c", unavailable: Oracle.missing(programs: ["nft"], namespaces: true)))
    func nftAcceptsEveryNftRuleset() throws {
        let namespace = "oa-nft-\(getpid())"
        try TestTools.run("ip", ["netns", "add", namespace])
        defer { _ = try? TestTools.run("ip", ["netns", "delete", namespace]) }
        var checked = 0
        for fixture in RuleFixtureTests.fixtures + ScenarioTests.scenarios where !fixture.ruleId.hasPrefix("input.") {
            guard let walker = FileManager.default.enumerator(at: fixture.directory, includingPropertiesForKeys: nil) else { continue }
            for case let url as URL in walker where url.pathExtension == "nft" || url.lastPathComponent == "nftables.conf" {
                let result = try TestTools.run("ip", ["netns", "exec", namespace, "nft", "-c", "-f", url.path])
                #expect(result.status == 0, "nft -c rejects \(fixture.testDescription)/\(url.lastPathComponent): \(result.stderr)")
                checked += 1
            }
        }
        #expect(checked == ReadmeFigures.value("nft-c-rulesets"))
    }
}
