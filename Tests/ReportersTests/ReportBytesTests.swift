import Foundation
import Testing
import OriginAuditCore
@testable import Reporters

/// The runs of a large report are written on several threads and handed on by the caller: the
/// bytes must be the items' bytes in item order, in pieces of any size, and a sink that fails
/// stops the writing (the error reaches the caller, nothing hangs).
@Suite struct ReportBytesTests {
    /// Items of very different lengths (a run may be far smaller or larger than a piece).
    static func item(_ index: Int, _ out: inout [UInt8]) {
        out.append(contentsOf: "\(index):".utf8)
        out.append(contentsOf: repeatElement(UInt8(ascii: "a") + UInt8(index % 26), count: index % 97 == 0 ? 3000 : index % 13))
        out.append(0x0A)
    }

    static func oneAfterAnother(_ count: Int) -> [UInt8] {
        var bytes: [UInt8] = []
        for index in 0..<count { item(index, &bytes) }
        return bytes
    }

    @Test(arguments: [0, 1, ReportBytes.run - 1, ReportBytes.run + 1, ReportBytes.run * ReportBytes.runsAtOnce * 3 + 7])
    func runsAreHandedOnInOrder(_ count: Int) {
        for piece in [1, 100, 4096, 1 << 20] {
            var pieces: [UInt8] = []
            var out: [UInt8] = Array("head ".utf8)
            ReportBytes.write(count: count, bytesPerItem: 16, into: &out, piece: piece, sink: { pieces += $0 }) { index, bytes in
                ReportBytesTests.item(index, &bytes)
            }
            pieces += out
            #expect(pieces == Array("head ".utf8) + Self.oneAfterAnother(count), "\(count) items, pieces of \(piece)")
        }
    }

    struct Full: Error {}

    @Test func aFailingSinkStopsTheWriting() {
        let count = ReportBytes.run * 40
        var out: [UInt8] = []
        var handed = 0
        #expect(throws: Full.self) {
            try ReportBytes.write(count: count, bytesPerItem: 16, into: &out, piece: 1000, sink: { _ in
                handed += 1
                if handed == 3 { throw Full() }
            }) { index, bytes in ReportBytesTests.item(index, &bytes) }
        }
        #expect(handed == 3)
    }

    /// A JSON report of several thousand findings (many runs) is the document it describes.
    @Test func aLargeJSONReportIsItsDocument() {
        let findings = (0..<(ReportBytes.run * 5 + 3)).map { index in
            Finding(ruleId: "tls.cert-missing", message: "certificate \(index) \"missing\"",
                    location: OriginAuditCore.SourceLocation(file: "sites/\(index % 50).conf", line: index + 1, column: 5),
                    severity: index % 3 == 0 ? .error : .warning, predicts: index % 2 == 0 ? "526" : nil)
        }
        let report = AuditReport(toolVersion: "1", cdn: "c", tlsMode: .full, at: Date(timeIntervalSince1970: 0), findings: findings,
                                 files: [], catalog: RuleCatalog(rules: []))
        var pieces: [UInt8] = []
        JSONReporter.write(report, piece: 64 * 1024) { pieces += $0 }
        #expect(String(decoding: pieces, as: UTF8.self) == JSONReporter.document(report).rendered())
    }

    /// Findings whose message and key are made when read (`Finding.Deferred`) are written as the
    /// findings of their texts, in every format (over several runs, so on several threads).
    @Test func deferredFindingsAreWrittenAsTheirTexts() {
        func findings(deferred: Bool) -> [Finding] {
            (0..<(ReportBytes.run * 3 + 5)).map { index in
                let message = "certificate \(index) \"served alone\" — é\(index % 7 == 0 ? "\n-----BEGIN NOTHING-----" : "")"
                let key = "sites/\(index % 50).pem \(index)"
                let location = OriginAuditCore.SourceLocation(file: "sites/\(index % 50).pem")
                return deferred
                    ? Finding(ruleId: "tls.chain-incomplete", message: Finding.Deferred { message }, location: location, severity: .info,
                              predicts: "526 only in strict mode", key: Finding.Deferred { key })
                    : Finding(ruleId: "tls.chain-incomplete", message: message, location: location, severity: .info,
                              predicts: "526 only in strict mode", key: key)
            }
        }
        func report(deferred: Bool) -> AuditReport {
            AuditReport(toolVersion: "1", cdn: "c", tlsMode: .full, at: Date(timeIntervalSince1970: 0), findings: findings(deferred: deferred),
                        files: [], catalog: RuleCatalog(rules: []))
        }
        let (given, deferred) = (report(deferred: false), report(deferred: true))
        #expect(JSONReporter.render(deferred) == JSONReporter.render(given))
        #expect(TextReporter.render(deferred) == TextReporter.render(given))
        #expect(SARIFReporter.render(deferred) == SARIFReporter.render(given))
        #expect(GitHubReporter.render(deferred) == GitHubReporter.render(given))
    }
}
