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
        } else {
            #expect(reported.isEmpty, "\(fixture.testDescription) should not report \(fixture.ruleId): \(reported.map(\.message))")
        }
        for finding in report.findings {
            #expect(finding.severity != nil && !finding.message.isEmpty)
        }
    }

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
    @Test(.enabled(if: TestTools.locate("nginx") != nil, "nginx is not installed; Scripts/test installs it"))
    func nginxAcceptsEveryNginxFixture() throws {
        let scratch = try TestTools.temporaryDirectory("nginx-t")
        defer { try? FileManager.default.removeItem(at: scratch) }
        var checked = 0
        for fixture in RuleFixtureTests.fixtures where !fixture.ruleId.hasPrefix("input.") {
            let main = fixture.directory.appendingPathComponent("etc/nginx/nginx.conf")
            guard FileManager.default.fileExists(atPath: main.path) else { continue }
            let result = try TestTools.run("nginx", ["-t", "-q", "-p", fixture.directory.path, "-c", main.path,
                                                     "-g", "pid \(scratch.path)/nginx.pid; error_log \(scratch.path)/error.log;"])
            #expect(result.status == 0, "nginx -t rejects \(fixture.testDescription): \(result.stderr)")
            checked += 1
        }
        #expect(checked >= 10)
    }
}
