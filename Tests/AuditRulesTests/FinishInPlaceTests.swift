@testable import Audit
@testable import AuditRules
import OriginAuditCore
import Testing

/// `AuditRunner.finish` sorts, then removes duplicates in place: the same findings, in the same
/// order, as removing duplicates first (keeping the first) and sorting after, which it did before.
@Suite struct FinishInPlaceTests {
    /// Findings with many repeats, and findings that tie in report order (same place, rule and
    /// message) but differ in another field, in a scrambled order.
    static func scrambled(count: Int) -> [Finding] {
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        func next(_ bound: Int) -> Int {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int((state >> 33) % UInt64(bound))
        }
        return (0..<count).map { _ in
            let location = next(5) == 0 ? nil : SourceLocation(file: "f\(next(2)).conf", line: next(2), column: 1)
            let rule = next(2)
            return Finding(ruleId: "origin.rule-\(rule)", message: "message \(next(2))", location: location,
                           related: next(3) == 0 ? [] : [RelatedLocation(SourceLocation(file: "g.conf", line: next(12)), "here")],
                           severity: rule == 0 ? .warning : .error, remediation: next(2) == 0 ? nil : "fix")
        }
    }

    @Test(arguments: [0, 1, 7, 40, 2_000])
    func sameAsDeduplicatingFirst(count: Int) {
        let findings = FinishInPlaceTests.scrambled(count: count)
        var seen = Set<Finding>()
        let expected = findings.filter { seen.insert($0).inserted }.sorted(by: Finding.reportOrder)
        var inPlace = findings
        inPlace.sort(by: Finding.reportOrder)
        AuditRunner.removeDuplicates(sorted: &inPlace)
        #expect(inPlace == expected)
        // As `finish` does it: the ties told by the ranked sort's keys, or (a handle of 0 in the
        // list) by the comparator the sort falls back on.
        let zero = Finding(ruleId: "origin.rule-0", message: "message 0", location: SourceLocation(file: "f0.conf", line: 1, column: 1, handle: 0))
        for list in [findings, findings + [zero, zero]] {
            var seen = Set<Finding>()
            let expected = list.filter { seen.insert($0).inserted }.sorted(by: Finding.reportOrder)
            var ranked = list
            var ties: [Bool] = []
            Finding.sortInReportOrder(&ranked, ties: &ties)
            #expect(ties.count == ranked.count)
            AuditRunner.removeDuplicates(sorted: &ranked, ties: ties)
            #expect(ranked == expected)
        }
        if count == 2_000 {
            // Many repeats, and runs of more tied findings than the linear look-back compares.
            #expect(expected.count < count / 2)
            let longest = Dictionary(grouping: expected) { "\($0.location.map(\.description) ?? "") \($0.ruleId) \($0.message)" }.values.map(\.count).max() ?? 0
            #expect(longest > 8)
        }
    }

    @Test func equalTextsShareOneStorage() {
        // Built at run time, as rules build their remediations: two allocations of equal text.
        let words = ["Restore", "the", "visitor's", "address", "first", "then", "key", "the", "zone"]
        var findings = (0..<3).map { index in
            Finding(ruleId: "origin.per-ip-limit-on-cdn", message: "m\(index)", remediation: words.joined(separator: " "))
        }
        func storage(_ text: String?) -> UnsafeRawPointer? {
            var text = text!
            return text.withUTF8 { UnsafeRawPointer($0.baseAddress) }
        }
        #expect(storage(findings[0].remediation) != storage(findings[1].remediation))
        var shared = SharedText()
        shared.share(&findings)
        #expect(storage(findings[0].remediation) == storage(findings[1].remediation))
        #expect(storage(findings[1].remediation) == storage(findings[2].remediation))
        #expect(findings.allSatisfy { $0.remediation == words.joined(separator: " ") })
    }

    /// Sorting by ranked keys gives the stable sort's order: places with and without lines,
    /// columns and handles, files that are equal only canonically (é composed and not), equal
    /// places with different rule ids and messages, exact repeats; and a list with a handle of 0.
    /// (20,000 findings are read in runs side by side: files and rule ids met in several runs.)
    @Test(arguments: [0, 1, 7, 40, 3_000, 20_000])
    func rankedSortAsTheComparatorSorts(count: Int) {
        var state: UInt64 = 0x2545_F491_4F6C_DD1D
        func next(_ bound: Int) -> Int {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int((state >> 33) % UInt64(bound))
        }
        let files = ["a.conf", "b.conf", "", "caf\u{E9}.conf", "cafe\u{301}.conf", "a.conf.d/x", "B.conf"]
        let findings = (0..<count).map { _ in
            let location = next(6) == 0 ? nil : SourceLocation(file: files[next(files.count)], line: next(3), column: next(2),
                                                              handle: next(3) == 0 ? next(3) + 1 : nil)
            return Finding(ruleId: ["origin.b", "origin.a", "tls.x"][next(3)], message: ["m", "n", "l", "m\u{301}"][next(4)],
                           location: location, remediation: "\(next(1_000))")
        }
        var expected = findings
        expected.sort(by: Finding.reportOrder)
        var ranked = findings
        let largest = Finding.sortInReportOrder(&ranked)
        #expect(ranked == expected)
        // The largest group of one file and rule id, as `FindingList` keys them (files equal canonically are one).
        #expect(largest == (Dictionary(grouping: findings) { "\($0.location?.file ?? "")\u{0}\($0.ruleId)" }.values.map(\.count).max() ?? 0))
        var withZero = findings + [Finding(ruleId: "x", message: "m", location: SourceLocation(file: "a.conf", handle: 0))]
        var zeroExpected = withZero
        zeroExpected.sort(by: Finding.reportOrder)
        #expect(Finding.sortInReportOrder(&withZero) == .max)
        #expect(withZero == zeroExpected)
        // A rule id with a NUL: `FindingList`'s keys could merge groups, so nothing is counted.
        var withNUL = findings + [Finding(ruleId: "origin.a\u{0}b", message: "m")]
        #expect(Finding.sortInReportOrder(&withNUL) == .max)
    }

    /// Counting per file in report order caps exactly what `FindingList` caps.
    @Test(arguments: [99, 100, 101, 250])
    func cappedAsFindingListCaps(perGroup: Int) {
        var findings: [Finding] = []
        for file in ["a.conf", "b.conf"] {
            for line in 0..<perGroup {
                for rule in ["r.one", "r.two"] where rule == "r.one" || line < 100 {
                    findings.append(Finding(ruleId: rule, message: "m", location: SourceLocation(file: file, line: line + 1)))
                }
            }
        }
        findings.append(Finding(ruleId: "r.one", message: "no place"))
        #expect(Finding.sortInReportOrder(&findings) == perGroup)
        #expect(AuditRunner.capped(findings) == FindingList.capped(findings))
        // Over the limit, the rest of a group is one finding that counts it.
        #expect((AuditRunner.capped(findings) != findings) == (perGroup > 100))
    }
    /// Redacting in slices side by side (a large report) gives what redacting each finding in
    /// turn gives, wherever the PEM armour is (message, remediation, a related place) and at
    /// the slices' edges.
    @Test(arguments: [10, 4_095, 4_096, 5_003])
    func redactAllAsOneByOne(count: Int) {
        let pem = "-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----"
        let findings = (0..<count).map { index in
            Finding(ruleId: "r", message: index % 7 == 0 ? "key \(pem) here \(index)" : "plain \(index)",
                    location: SourceLocation(file: "f.conf", line: index),
                    related: index % 11 == 0 ? [RelatedLocation(SourceLocation(file: "g.conf"), "pasted \(pem)")] : [],
                    remediation: index % 13 == 0 ? "remove \(pem)" : "fix")
        }
        let expected = findings.map { AuditRunner.redacted($0) ?? $0 }
        var sliced = findings
        #expect(AuditRunner.redactAll(&sliced))
        #expect(sliced == expected)
        #expect(!sliced.contains { $0.message.contains("BEGIN") || $0.remediation?.contains("BEGIN") == true || $0.related.contains { $0.message.contains("BEGIN") } })
        var clean = findings.filter { !$0.message.contains("BEGIN") && $0.remediation?.contains("BEGIN") != true && $0.related.isEmpty }
        let before = clean
        #expect(!AuditRunner.redactAll(&clean))
        #expect(clean == before)
    }

    /// The rules started longest first: each rule once, the named ones first in their order,
    /// the rest in the registry's order.
    @Test func longestFirstKeepsEveryRuleOnce() {
        let ordered = RuleRegistry.longestFirst(RuleRegistry.rules).map(\.id)
        #expect(ordered.sorted() == RuleRegistry.rules.map(\.id).sorted())
        let named = RuleRegistry.longest.filter { id in RuleRegistry.rules.contains { $0.id == id } }
        #expect(named.count == RuleRegistry.longest.count)
        #expect(Array(ordered.prefix(named.count)) == named)
        #expect(Array(ordered.dropFirst(named.count)) == RuleRegistry.rules.map(\.id).filter { !named.contains($0) })
    }
    /// The rule ids the scheduler names (started first; read shared results) are rules of this build.
    @Test func scheduledIdsAreRules() {
        let ids = Set(RuleRegistry.rules.map(\.id))
        for id in RuleRegistry.longest + SharedResults.readingUnrestored + SharedResults.readingSelection + SharedResults.readingVerdicts {
            #expect(ids.contains(id), "\(id)")
        }
    }
}
