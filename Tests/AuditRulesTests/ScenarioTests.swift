import Foundation
import Testing
import OriginAuditCore
import TestSupport

/// Whole origins (firewall + web server + certificates), each with the exact set of rule ids it
/// must report in `expected-rules.txt` — nothing missing, nothing extra. A correct setup lists none.
/// `expected-findings.txt` pins where each finding is (rule id, file and line).
/// A line may name a severity after the id (`tls.self-signed info`): then every finding of that id
/// must have it (how a mode-dependent rule says "harmless in this mode").
@Suite struct ScenarioTests {
    static let root = TestTools.packageRoot.appendingPathComponent("Tests/AuditRulesTests/Scenarios")

    static let scenarios: [RuleFixture] = ((try? FileManager.default.contentsOfDirectory(atPath: root.path)) ?? []).sorted()
        .filter { !$0.hasPrefix(".") }
        .map { RuleFixture(ruleId: "scenario", name: $0, directory: root.appendingPathComponent($0)) }

    @Test(arguments: scenarios)
    func reportsExactlyTheExpectedRules(_ scenario: RuleFixture) async throws {
        let expectedText = try String(contentsOf: scenario.directory.appendingPathComponent("expected-rules.txt"), encoding: .utf8)
        let lines = expectedText.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty && !$0.hasPrefix("#") }
        let words = lines.map { $0.split(separator: " ").map(String.init) }
        let expected = Set(words.map { $0[0] })
        let severities = Dictionary(words.filter { $0.count > 1 }.map { ($0[0], $0[1]) }, uniquingKeysWith: { first, _ in first })
        let (directory, cleanup) = try FixtureRunner.prepare(scenario)
        defer { if let cleanup { try? FileManager.default.removeItem(at: cleanup) } }
        let report = try await FixtureRunner.scan(directory: directory)
        let reported = Set(report.findings.map(\.ruleId))
        #expect(reported == expected, """
            \(scenario.name): missing \(expected.subtracting(reported).sorted()), unexpected \(reported.subtracting(expected).sorted()):
            \(report.findings.filter { !expected.contains($0.ruleId) }.map { "\($0.ruleId): \($0.message)" }.joined(separator: "\n"))
            """)
        try ExpectedFindings.check(report.findings, in: scenario.directory, scenario.name)
        for finding in report.findings {
            guard let severity = severities[finding.ruleId] else { continue }
            #expect(finding.severity?.rawValue == severity,
                    "\(scenario.name): \(finding.ruleId) is \(finding.severity?.rawValue ?? "nil"), expected \(severity): \(finding.message)")
        }
    }

    @Test func everyScenarioIsCounted() { #expect(Self.scenarios.count == ReadmeFigures.value("scenarios")) }
}
