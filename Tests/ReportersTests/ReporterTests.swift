import Foundation
import Testing
import OriginAuditCore
@testable import Reporters
import TestSupport

/// A fixed report: two files, every severity, a finding without a place, one with related
/// places, a note. Built by hand so the golden files change only when a reporter does.
enum SampleReport {
    static let catalog = RuleCatalog(rules: [
        RuleDescription(id: "firewall.cdn-dropped", title: "Some CDN addresses are dropped on a port the CDN uses", severity: .error,
                        predicts: "522", rationale: "A DROP sends no answer; the CDN waits 19 s and gives up.",
                        remediation: "Accept the CDN ranges before the DROP.", references: ["https://developers.cloudflare.com/support/troubleshooting/http-status-codes/cloudflare-5xx-errors/error-522/"]),
        RuleDescription(id: "tls.legacy-protocols", title: "TLS 1.0/1.1 enabled", severity: .warning, predicts: nil,
                        rationale: "Old protocols.", remediation: "ssl_protocols TLSv1.2 TLSv1.3;", references: ["https://www.rfc-editor.org/rfc/rfc8996"]),
        RuleDescription(id: "input.unknown-format", title: "Unrecognised file", severity: .info, predicts: nil,
                        rationale: "Named but not recognised.", remediation: "Name the format with a flag.", references: ["https://example.invalid/formats"]),
    ])

    static let report: AuditReport = {
        let findings = [
            Finding(ruleId: "input.unknown-format", message: "NOTES, a \"text\" file, is not a recognised format",
                    location: OriginAuditCore.SourceLocation(file: "NOTES"), severity: .info),
            Finding(ruleId: "firewall.cdn-dropped",
                    message: "203.0.113.0/24 is dropped on tcp/443 by the INPUT policy",
                    location: OriginAuditCore.SourceLocation(file: "etc/iptables/rules v4", line: 12, column: 1),
                    related: [RelatedLocation(OriginAuditCore.SourceLocation(file: "etc/iptables/rules v4", line: 3), "chain INPUT policy DROP")],
                    key: "v4 203.0.113.0/24 tcp/443"),
            Finding(ruleId: "tls.legacy-protocols", message: "TLSv1 and TLSv1.1 are enabled",
                    location: OriginAuditCore.SourceLocation(file: "etc/nginx/nginx.conf", line: 40, column: 5)),
            Finding(ruleId: "firewall.unknown-match", message: "an unmodelled match: 100%, a,b:c\nsecond line"),
        ].map(catalog.complete).sorted(by: Finding.reportOrder)
        return AuditReport(toolVersion: "0.0.0-test", cdn: "cloudflare", tlsMode: .strict,
                           at: Date(timeIntervalSince1970: 1_795_392_000), findings: findings,
                           files: ["etc/iptables/rules v4", "etc/nginx/nginx.conf"],
                           notes: ["the Apache parser is not implemented in this build"], suppressedCount: 1, catalog: catalog)
    }()
}

@Suite struct ReporterGoldenTests {
    static let goldenDirectory = TestTools.packageRoot.appendingPathComponent("Tests/ReportersTests/Golden")

    /// Compares with the golden file; `Scripts/test --record` re-records it (review the diff).
    func check(_ output: String, _ name: String) throws {
        let url = Self.goldenDirectory.appendingPathComponent(name)
        if Recording.requested {
            try output.write(to: url, atomically: true, encoding: .utf8)
            return
        }
        let golden = try String(contentsOf: url, encoding: .utf8)
        #expect(output == golden, "\(name) differs from its golden file; re-record with Scripts/test --record if the change is intended")
    }

    @Test func text() throws { try check(TextReporter.render(SampleReport.report), "report.txt") }
    @Test func json() throws { try check(JSONReporter.render(SampleReport.report), "report.json") }
    @Test func sarif() throws { try check(SARIFReporter.render(SampleReport.report), "report.sarif") }
    @Test func github() throws { try check(GitHubReporter.render(SampleReport.report), "report.github") }
    @Test func html() throws { try check(HTMLReporter.render(SampleReport.htmlPage), "report.html") }

    @Test func colourOnlyWhenAsked() {
        #expect(!TextReporter.render(SampleReport.report).contains("\u{1B}["))
        #expect(TextReporter.render(SampleReport.report, style: .init(enabled: true)).contains("\u{1B}[1;31m"))
    }

    /// The JSON reporter writes findings straight into its buffer: the bytes must be those of the
    /// document it describes, for every shape a location takes (handle, column without line,
    /// related places with and without columns) and for an empty report.
    @Test func jsonWriterMatchesDocument() {
        typealias Place = OriginAuditCore.SourceLocation
        let shapes = [
            Finding(ruleId: "nft.rule", message: "handle \"quoted\"\t\u{1}", location: Place(file: "rules.nft", line: 4, column: 2, handle: 17),
                    related: [RelatedLocation(Place(file: "a", line: 0, column: 3), "column only"),
                              RelatedLocation(Place(file: "b", line: 2, column: 9, handle: 1), "everything")],
                    severity: .error, predicts: nil, remediation: "fix\nit"),
            Finding(ruleId: "x", message: "é ünïcode", location: Place(file: "ü/f", line: 1)),
        ]
        for report in [SampleReport.report,
                       AuditReport(toolVersion: "1", cdn: "c", tlsMode: .full, at: Date(timeIntervalSince1970: 0), findings: shapes,
                                   files: [], catalog: SampleReport.catalog),
                       Self.awkward,
                       AuditReport(toolVersion: "1", cdn: "c", tlsMode: .full, at: Date(timeIntervalSince1970: 0), findings: [],
                                   files: [], catalog: SampleReport.catalog)] {
            #expect(JSONReporter.render(report) == JSONReporter.document(report).rendered())
            // Written in small pieces (as the CLI streams it), the bytes are the same.
            var pieces: [UInt8] = []
            JSONReporter.write(report, piece: 100) { pieces += $0 }
            #expect(String(decoding: pieces, as: UTF8.self) == JSONReporter.render(report))
        }
    }

    /// The findings array's constant pieces (`FindingLayout`) give the document's bytes for every
    /// combination of the members it writes apart: a place with or without line, column and
    /// handle, or none; predicted outcome and remediation present or `null`; related places;
    /// each severity; the last finding and the others.
    @Test func jsonFindingLayoutMatchesDocument() {
        typealias Place = OriginAuditCore.SourceLocation
        var state: UInt64 = 0x5EED_0F1A_7000_0001
        func next(_ bound: Int) -> Int {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int((state >> 33) % UInt64(bound))
        }
        let texts = ["", "plain", "\"quoted\"\n", "é ü", "tab\there"]
        let findings = (0..<400).map { _ in
            Finding(ruleId: texts[next(texts.count)] + "rule", message: texts[next(texts.count)],
                    location: next(5) == 0 ? nil : Place(file: texts[next(texts.count)], line: next(3) - 1, column: next(3) - 1,
                                                         handle: next(2) == 0 ? nil : next(3)),
                    related: (0..<next(3)).map { RelatedLocation(Place(file: "r", line: $0), "related \($0)") },
                    severity: [nil, .info, .warning, .error][next(4)], predicts: next(2) == 0 ? nil : texts[next(texts.count)],
                    remediation: next(2) == 0 ? nil : texts[next(texts.count)], key: next(2) == 0 ? nil : "key")
        }
        let report = AuditReport(toolVersion: "1", cdn: "c", tlsMode: .full, at: Date(timeIntervalSince1970: 0), findings: findings,
                                 files: [], catalog: SampleReport.catalog)
        #expect(JSONReporter.render(report) == JSONReporter.document(report).rendered())
    }

    /// Findings of every shape the writers treat apart: text that needs escaping for JSON and
    /// for the terminal (controls, C1, bidi marks, U+061C, tabs, CR LF), remediations with
    /// surrounding (also non-ASCII) whitespace and empty lines, paths that need percent-encoding.
    static let awkward: AuditReport = {
        typealias Place = OriginAuditCore.SourceLocation
        let findings = [
            Finding(ruleId: "nft.rule", message: "handle \"quoted\"\t\u{1}\u{1B}[31m red \u{85} \u{202E}rlo \u{61C} é",
                    location: Place(file: "rules.nft", line: 4, column: 2, handle: 17),
                    related: [RelatedLocation(Place(file: "a b", line: 0, column: 3), "column only\r\n"),
                              RelatedLocation(Place(file: "b:ü/\u{2066}x%", line: 2, column: 9, handle: 1), "everything")],
                    severity: .error, predicts: "52\u{1B}2", remediation: "fix\r\nit\n\n  indented\n\u{7F}"),
            Finding(ruleId: "x", message: "", location: Place(file: "/abs/ü f;=@~", line: 1), severity: .info,
                    remediation: "\u{A0} spaced \n"),
            Finding(ruleId: "y", message: "two\nlines", location: Place(file: "-._~!$&'()*+,;=@/ok", line: 3, column: 0),
                    severity: .warning, remediation: " \n\t"),
            Finding(ruleId: "z", message: "no place", remediation: "one line"),
        ]
        return AuditReport(toolVersion: "1", cdn: "c\u{1B}", tlsMode: .full, at: Date(timeIntervalSince1970: 0), findings: findings,
                           files: ["a"], notes: ["note \u{1B}"], catalog: SampleReport.catalog)
    }()

    static let reports = [SampleReport.report, awkward,
                          AuditReport(toolVersion: "1", cdn: "c", tlsMode: .full, at: Date(timeIntervalSince1970: 0), findings: [],
                                      files: [], catalog: SampleReport.catalog)]

    /// The SARIF writer writes results straight into its buffer: the bytes must be those of the
    /// tree `document` describes, whole and in pieces.
    @Test(arguments: reports.indices) func sarifWriterMatchesDocument(_ index: Int) {
        let report = Self.reports[index]
        #expect(SARIFReporter.render(report) == SARIFReporter.document(report).rendered())
        var pieces: [UInt8] = []
        SARIFReporter.write(report, piece: 100) { pieces += $0 }
        #expect(String(decoding: pieces, as: UTF8.self) == SARIFReporter.render(report))
    }

    /// The text writer gives the bytes the report was defined by (strings escaped, trimmed and
    /// indented line by line, as `ReferenceText` spells it), with and without colour, in pieces.
    @Test(arguments: reports.indices) func textWriterMatchesReference(_ index: Int) {
        let report = Self.reports[index]
        for style in [TextReporter.Style(enabled: false), TextReporter.Style(enabled: true)] {
            #expect(TextReporter.render(report, style: style) == ReferenceText.render(report, style: style))
            var pieces: [UInt8] = []
            TextReporter.write(report, style: style, piece: 100) { pieces += $0 }
            #expect(String(decoding: pieces, as: UTF8.self) == TextReporter.render(report, style: style))
        }
    }

    /// GitHub annotations written in pieces are the whole report's bytes.
    @Test(arguments: reports.indices) func githubWriterPieces(_ index: Int) {
        let report = Self.reports[index]
        var pieces: [UInt8] = []
        GitHubReporter.write(report, piece: 100) { pieces += $0 }
        #expect(String(decoding: pieces, as: UTF8.self) == GitHubReporter.render(report))
        #expect(GitHubReporter.render(report) == report.findings.map(GitHubReporter.annotation).joined()
            + report.notes.map { "::notice title=originaudit::\(GitHubReporter.escapeData($0))\n" }.joined())
    }

    /// A finding's annotation written straight into bytes is the one made of strings, also where
    /// a replaced character stands at the edge of a text, beside the texts' joiners, or next to
    /// non-ASCII text (where the strings are left to Foundation), with and without a place,
    /// predicted outcome and remediation.
    @Test func githubAnnotationBytesAsStrings() {
        var state: UInt64 = 0x0DDB_1A5E_5BAD_5EED
        func next(_ bound: Int) -> Int {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int((state >> 33) % UInt64(bound))
        }
        let pieces = ["a", "%", "\r", "\n", ":", ",", "é", "\u{301}", " ", "plain text ", "😀", "\r\n"]
        func text() -> String { (0..<next(6)).map { _ in pieces[next(pieces.count)] }.joined() }
        for _ in 0..<3_000 {
            let location = next(4) == 0 ? nil : OriginAuditCore.SourceLocation(file: text(), line: next(3), column: next(3))
            let finding = Finding(ruleId: text(), message: text(), location: location, severity: [nil, .info, .warning, .error][next(4)],
                                  predicts: next(2) == 0 ? nil : text(), remediation: next(2) == 0 ? nil : text())
            var bytes: [UInt8] = []
            GitHubReporter.write(finding, into: &bytes)
            #expect(String(decoding: bytes, as: UTF8.self) == GitHubReporter.annotation(finding), "\(finding)")
        }
    }

    /// The one-pass GitHub escaping gives Foundation's replacements, also next to CR LF,
    /// combining marks and other non-ASCII text (where it leaves the text to Foundation).
    @Test func githubEscapingAsFoundationReplaces() {
        var state: UInt64 = 0x1234_5678_9ABC_DEF1
        func next(_ bound: Int) -> Int {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int((state >> 33) % UInt64(bound))
        }
        let pieces = ["a", "%", "\r", "\n", "\r\n", ":", ",", "\u{301}", "é", "e\u{301}", " ", "\u{600}", "Fix", "%0A", "😀", "\u{200D}"]
        var texts = ["", "%", "\n", "a\r\nb", "x\n\u{301}y", "\u{301}\n", "plain"]
        for _ in 0..<3_000 { texts.append((0..<next(8)).map { _ in pieces[next(pieces.count)] }.joined()) }
        for text in texts {
            #expect(GitHubReporter.escaped(text, property: false) == GitHubReporter.escapeData(text), "\(text.debugDescription)")
            #expect(GitHubReporter.escaped(text, property: true) == GitHubReporter.escapeProperty(text), "\(text.debugDescription)")
        }
    }

    /// A path left as it is by the URI fast path is one Foundation's percent-encoding leaves alone.
    @Test func sarifURIsAsFoundationEncodesThem() {
        var allowed = CharacterSet.urlPathAllowed
        allowed.remove(charactersIn: ":")
        let paths = (0..<128).map { "a" + String(Unicode.Scalar(UInt8($0))) + "b" } + ["/etc/nginx/a b.conf", "ü", "/x:y", "a%20b"]
        for path in paths {
            let encoded = path.addingPercentEncoding(withAllowedCharacters: allowed) ?? path
            #expect(SARIFReporter.uri(path) == (path.hasPrefix("/") ? "file://" + encoded : encoded), "\(path.debugDescription)")
        }
    }

    /// The eight-bytes-at-a-time JSON string writer: every ASCII character and a few others at
    /// every place in and around an eight-byte word give what escaping byte by byte gives, and
    /// Foundation's JSON reader reads the original text back.
    @Test func jsonQuotingAsByteByByte() throws {
        func byteByByte(_ text: String) -> [UInt8] {
            var out: [UInt8] = []
            for byte in text.utf8 {
                switch byte {
                case UInt8(ascii: "\""): out += Array("\\\"".utf8)
                case UInt8(ascii: "\\"): out += Array("\\\\".utf8)
                case 0x0A: out += Array("\\n".utf8)
                case 0x0D: out += Array("\\r".utf8)
                case 0x09: out += Array("\\t".utf8)
                case 0..<0x20: out += Array(String(format: "\\u%04x", Int(byte)).utf8)
                default: out.append(byte)
                }
            }
            return out
        }
        let specials = (0..<128).map { String(Unicode.Scalar(UInt8($0))) } + ["é", "€", "😀", "\u{85}", "\u{7F}"]
        for special in specials {
            for length in [1, 7, 8, 9, 16, 17] {
                for position in 0..<length {
                    let text = String(repeating: "a", count: position) + special + String(repeating: "b", count: length - position - 1)
                    var out: [UInt8] = []
                    JSONValue.quoted(text, into: &out)
                    #expect(out == byteByByte(text), "\(text.debugDescription)")
                    let literal = Data([UInt8(ascii: "\"")] + out + [UInt8(ascii: "\"")])
                    #expect(try JSONSerialization.jsonObject(with: literal, options: .fragmentsAllowed) as? String == text)
                }
            }
        }
    }

    @Test func renderingIsDeterministic() {
        #expect(JSONReporter.render(SampleReport.report) == JSONReporter.render(SampleReport.report))
        #expect(SARIFReporter.render(SampleReport.report) == SARIFReporter.render(SampleReport.report))
    }
}

@Suite struct ReportContractTests {
    /// The JSON has exactly the shape of DESIGN.md §6.
    @Test func jsonFollowsTheContract() throws {
        let data = Data(JSONReporter.render(SampleReport.report).utf8)
        let root = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(root["schemaVersion"] as? Int == 1)
        #expect((root["tool"] as? [String: Any])?["name"] as? String == "originaudit")
        let profile = try #require(root["profile"] as? [String: Any])
        #expect(profile["cdn"] as? String == "cloudflare")
        #expect(profile["tlsMode"] as? String == "strict")
        #expect(profile["at"] as? String == "2026-11-23T00:00:00Z")
        let summary = try #require(root["summary"] as? [String: Any])
        #expect(summary["error"] as? Int == 1)
        #expect(summary["warning"] as? Int == 2)
        #expect(summary["info"] as? Int == 1)
        #expect(summary["filesAnalysed"] as? Int == 2)
        let findings = try #require(root["findings"] as? [[String: Any]])
        #expect(findings.count == 4)
        let dropped = try #require(findings.first { $0["ruleId"] as? String == "firewall.cdn-dropped" })
        for key in ["ruleId", "severity", "message", "predicts", "location", "related", "remediation", "fingerprint"] {
            #expect(dropped[key] != nil, "finding lacks \(key)")
        }
        #expect(dropped["predicts"] as? String == "522")
        let location = try #require(dropped["location"] as? [String: Any])
        #expect(location["line"] as? Int == 12 && location["column"] as? Int == 1)
        let related = try #require(dropped["related"] as? [[String: Any]])
        #expect(related.first?["message"] as? String == "chain INPUT policy DROP" && related.first?["line"] as? Int == 3)
        // Findings are in (file, line, column, rule id) order, place-less first.
        #expect(findings.map { $0["ruleId"] as? String } == ["firewall.unknown-match", "input.unknown-format", "firewall.cdn-dropped", "tls.legacy-protocols"])
    }

    @Test func fingerprintsIgnoreLineNumbers() {
        var moved = SampleReport.report.findings[2]
        let original = moved.fingerprint
        moved.location?.line += 10
        #expect(moved.fingerprint == original)
        moved.key = "v4 198.51.100.0/24 tcp/443"
        #expect(moved.fingerprint != original)
    }

    /// SARIF validates against the OASIS 2.1.0 schema (Tests/Data), judged by Python's jsonschema.
    @Test func sarifValidatesAgainstTheSchema() throws {
        try SARIFValidation.validate(SARIFReporter.render(SampleReport.report))
    }

    /// The judge can say no: a result with a start line of 0 is rejected.
    @Test func schemaValidationRejectsInvalidSARIF() {
        let broken = SARIFReporter.render(SampleReport.report).replacingOccurrences(of: "\"startLine\": 12", with: "\"startLine\": 0")
        #expect(throws: SARIFValidation.Invalid.self) { try SARIFValidation.validate(broken) }
    }

    /// The JSON report validates against its published schema (Schemas/report.schema.json).
    @Test func jsonValidatesAgainstThePublishedSchema() throws {
        try SchemaValidation.validate(JSONReporter.render(SampleReport.report), against: .report)
    }

    /// The published schema can say no: each change that would break a consumer is rejected.
    @Test("the report schema rejects documents that break the contract", arguments: [
        ("\"schemaVersion\": 1", "\"schemaVersion\": 2"),
        ("\"severity\": \"error\"", "\"severity\": \"fatal\""),
        ("\"line\": 12", "\"line\": 0"),
        ("\"fingerprint\": \"877c659574d72506\"", "\"fingerprint\": 877"),
        ("\"filesAnalysed\"", "\"files\""),
        ("\"ruleId\": \"tls.legacy-protocols\"", "\"ruleId\": \"tls.legacy-protocols\", \"extra\": true"),
    ])
    func schemaValidationRejectsBrokenReports(_ change: (String, String)) throws {
        let rendered = JSONReporter.render(SampleReport.report)
        try #require(rendered.contains(change.0), "the sample report no longer contains \(change.0)")
        let broken = rendered.replacingOccurrences(of: change.0, with: change.1)
        #expect(throws: SchemaValidation.Invalid.self) { try SchemaValidation.validate(broken, against: .report) }
    }

    @Test func githubAnnotationsEscapeProperties() {
        let output = GitHubReporter.render(SampleReport.report)
        #expect(output.contains("::error file=etc/iptables/rules v4,line=12,col=1,title=firewall.cdn-dropped (predicts 522)::"))
        #expect(output.contains("100%25, a,b:c%0Asecond line"))
        #expect(output.contains("::notice file=NOTES,title=input.unknown-format::"))
    }
}

extension SampleReport {
    /// The sample report as a page: one failing hostname, one not known, no firewall matrix.
    static let htmlPage: HTMLReporter.Page = {
        let dropped = report.findings.firstIndex { $0.ruleId == "firewall.cdn-dropped" }!
        let unknown = report.findings.firstIndex { $0.ruleId == "firewall.unknown-match" }!
        let verdicts = [
            HostVerdict(hostname: "www.example.test", tlsMode: .strict, status: .fails,
                        causes: [.init(predicts: "522", severity: .error, finding: dropped, originWide: true)],
                        unknowns: [], servedAt: [OriginAuditCore.SourceLocation(file: "etc/nginx/nginx.conf", line: 30, column: 5)]),
            HostVerdict(hostname: "<b>api</b>.example.test", tlsMode: .strict, status: .unknown, causes: [],
                        unknowns: ["no virtual host serves <b>api</b>.example.test"], servedAt: []),
        ]
        var withUncertain = verdicts
        withUncertain[1].uncertainFindings = [unknown]
        return HTMLReporter.Page(report: report, matrix: nil, verdicts: withUncertain)
    }()
}

@Suite struct HTMLEscapingTests {
    @Test func markupQuotesAndControlsBecomeText() {
        #expect(HTMLReporter.escape("<script>alert(1)</script>") == "&lt;script&gt;alert(1)&lt;/script&gt;")
        #expect(HTMLReporter.escape("a\"b'c&d") == "a&quot;b&#39;c&amp;d")
        // What HTML forbids and what the terminal escapes are shown, never passed through.
        #expect(HTMLReporter.escape("bell\u{07} esc\u{1B}[31m rlo\u{202E} nonchar\u{FFFE}") == "bell\\x07 esc\\e[31m rlo\\u{202E} nonchar\\u{FFFE}")
        #expect(HTMLReporter.escape("two\nlines", keepNewlines: true) == "two\nlines")
        #expect(HTMLReporter.escape("two\nlines") == "two\\nlines")
    }

    @Test func everyInputStringOfThePageIsEscaped() {
        let html = HTMLReporter.render(SampleReport.htmlPage)
        #expect(html.contains("&lt;b&gt;api&lt;/b&gt;.example.test") && !html.contains("<b>api</b>"))
        #expect(html.contains("NOTES, a &quot;text&quot; file"))
        // The only links are the page's own fragments.
        var rest = html[...]
        while let range = rest.range(of: "href=\"") {
            #expect(rest[range.upperBound...].hasPrefix("#"))
            rest = rest[range.upperBound...]
        }
    }

    @Test func visitorFailuresAreHTTPStatusesLoopsAndUnreachableSites() {
        for failure in ["522", "526 (strict)", "intermittent 521/522", "403/429/503 storms", "redirect loop", "unreachable", "521 on restart", "526 with a strict verifier"] {
            #expect(HostVerdict.isVisitorFailure(failure), "\(failure)")
        }
        for other in ["wrong client IP", "logs/limits see CDN IPs", "spoofable client IP", "key exposure", "browser error", "—", "5221", "port 4430"] {
            #expect(!HostVerdict.isVisitorFailure(other), "\(other)")
        }
    }
}

/// The text report as it was first written, string by string: what `TextReporter.write` must
/// give byte for byte.
enum ReferenceText {
    static func render(_ report: AuditReport, style: TextReporter.Style) -> String {
        var out = ""
        let profile = "CDN \(TerminalText.escape(report.cdn)), TLS mode \(report.tlsMode.rawValue), at \(Profile.format(report.at))"
        out += style.dim("originaudit \(report.toolVersion) — \(profile)") + "\n"
        for severity in Severity.allCases.reversed() {
            let group = report.findings.filter { $0.severity == severity }
            if group.isEmpty { continue }
            out += "\n" + style.severity(severity, TextReporter.heading(severity, group.count)) + "\n"
            for finding in group { out += "\n" + render(finding, style: style) }
        }
        if !report.notes.isEmpty {
            out += "\n" + style.bold("Analysis notes") + "\n"
            for note in report.notes { out += "  - \(TerminalText.escape(note))\n" }
        }
        return out + "\n" + TextReporter.summary(report) + "\n"
    }

    static func render(_ finding: Finding, style: TextReporter.Style) -> String {
        let severity = finding.severity ?? .warning
        var out = "  " + style.severity(severity, "[\(finding.ruleId)]")
        if let location = finding.location { out += " " + style.bold(TerminalText.escape(location.description)) }
        out += "\n"
        out += indent(TerminalText.escape(finding.message), "    ") + "\n"
        if let predicts = finding.predicts { out += "    " + style.bold("Visitors will see:") + " \(TerminalText.escape(predicts))\n" }
        for related in finding.related {
            out += "    " + style.dim(TerminalText.escape("see \(related.location): \(related.message)")) + "\n"
        }
        if let remediation = finding.remediation?.trimmingCharacters(in: .whitespacesAndNewlines), !remediation.isEmpty {
            out += "    " + style.bold("Fix:") + "\n" + indent(TerminalText.escape(remediation, keepNewlines: true), "      ") + "\n"
        }
        return out
    }

    static func indent(_ text: String, _ prefix: String) -> String {
        text.split(separator: "\n", omittingEmptySubsequences: false).map { $0.isEmpty ? "" : prefix + $0 }.joined(separator: "\n")
    }
}
