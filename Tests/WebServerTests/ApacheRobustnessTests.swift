import Foundation
import OriginAuditCore
import Testing
import TestSupport
@testable import WebServer

/// The loader never crashes, hangs or stops on hostile input: random token soup, deep nesting,
/// self-including files and recursive macros all end in findings.
@Suite("Apache robustness")
struct ApacheRobustnessTests {
    /// A small deterministic generator, so a failure can be replayed from its seed (the fuzzer's).
    typealias SplitMix = TestSupport.SplitMix

    static let tokens = ["<VirtualHost *:80>", "</VirtualHost>", "<IfModule x>", "</IfModule>", "<If \"true\">", "</If>",
                         "<Macro M $a>", "</Macro>", "Use M 1", "Use M", "Include x.conf", "IncludeOptional *.conf",
                         "Define A", "UnDefine A", "${A}", "${", "}", "\"", "'", "\\", "\\\n", "\n", "\r\n", " ", "\t",
                         "#", "Listen 80", "Listen", "ServerName", "Require ip", "Require not ip 1.2.3.4", "Order",
                         "Allow from", "RewriteRule ^ https://x/ [R]", "RewriteCond %{HTTPS} off", "ProxyPass / http://[",
                         "SSLEngine on", "<", ">", "</", "<Directory", "\u{0}", "é", "<IfDefine !A>", "</IfDefine>"]

    @Test(arguments: 0..<40)
    func randomTokenSoupLoads(_ seed: Int) throws {
        var random = SplitMix(state: UInt64(seed) &* 7919)
        var text = ""
        for _ in 0..<(50 + Int(random.next() % 400)) {
            text += Self.tokens[Int(random.next() % UInt64(Self.tokens.count))]
            if random.next() % 3 == 0 { text += "\n" }
        }
        let root = try ApacheFixture.write(["main.conf": text, "x.conf": text])
        defer { try? FileManager.default.removeItem(at: root) }
        let result = ApacheFixture.load(root.appendingPathComponent("main.conf"))
        for finding in result.findings {
            #expect(finding.location.map { $0.line >= 0 } ?? true)
        }
    }

    @Test func deepNestingSelfIncludesAndRecursiveMacrosEndInFindings() throws {
        let deep = String(repeating: "<Directory /x>\n", count: 5_000) + String(repeating: "</Directory>\n", count: 5_000)
        let root = try ApacheFixture.write([
            "main.conf": "LoadModule macro_module m.so\nInclude deep.conf\nInclude self.conf\n<Macro R $a>\nUse R $a\n</Macro>\nUse R 1\n",
            "deep.conf": deep,
            "self.conf": "Include self.conf\n",
        ])
        defer { try? FileManager.default.removeItem(at: root) }
        let result = ApacheFixture.load(root.appendingPathComponent("main.conf"))
        let messages = result.findings.map(\.message)
        #expect(messages.contains { $0.contains("nested more than") })
        #expect(messages.contains { $0.contains("include cycle") })
        #expect(messages.contains { $0.contains("recursive use of macro") })
    }

    @Test func aDirectorySymlinkedIntoItselfEnds() throws {
        let root = try ApacheFixture.write(["main.conf": "Include conf.d\n", "conf.d/a.conf": "ServerAdmin a\n"])
        defer { try? FileManager.default.removeItem(at: root) }
        try FileManager.default.createSymbolicLink(atPath: root.appendingPathComponent("conf.d/loop").path,
                                                   withDestinationPath: root.appendingPathComponent("conf.d").path)
        let result = ApacheFixture.load(root.appendingPathComponent("main.conf"))
        // The kernel's symlink limit (ELOOP) or httpd's directory nesting limit ends it.
        #expect(result.findings.contains { $0.ruleId == "input.unreadable" || $0.message.contains("maximum include directory nesting level") })
        #expect(result.files.count < 200)
    }

    /// `Define V1 ${V0}${V0}` doubled 30 times took 9 s and 836 MB at 26, and aborted with
    /// "failed to allocate" at 30. httpd expands in full (measured with apache2 -t: 24 doublings,
    /// 1 GB and 6 s); the audit stops at 1 MiB per line, says so, and skips what depends on it.
    @Test func doublingDefinesStopAtTheExpansionBound() throws {
        var lines = ["ServerName ok.example", "Define V0 abcdefgh"]
        for i in 1...30 { lines.append("Define V\(i) ${V\(i - 1)}${V\(i - 1)}") }
        lines.append("<VirtualHost *:80>\n    ServerName ${V30}\n</VirtualHost>")
        let root = try ApacheFixture.write(["main.conf": lines.joined(separator: "\n") + "\n"])
        defer { try? FileManager.default.removeItem(at: root) }
        let result = ApacheFixture.load(root.appendingPathComponent("main.conf"))
        let tooLong = result.findings.filter { $0.message.contains("expand past") }
        // V17 is the first past 1 MiB (8 bytes × 2^17); every Define after it and the ServerName use it.
        #expect(tooLong.first?.location?.line == 19)
        #expect(tooLong.count == 15)
        #expect(!result.findings.contains { $0.message.contains("is not defined") })
    }
}
