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

    /// Macros each using the one before twice expand 2^n times, and httpd expands them all
    /// (`apache2 -t`: n = 16 took 7 s and 0.2 GB, n = 20 took 173 s and 4.4 GB). Unbounded,
    /// n = 24 here took minutes and gigabytes; the audit stops one Use at 1 MiB of expansion,
    /// says so once at its line, and reads on.
    @Test func nestedMacroUsesStopAtTheExpansionBound() throws {
        var lines = ["LoadModule macro_module /usr/lib/apache2/modules/mod_macro.so", "<Macro M0 $v>", "Define A_$v 1", "</Macro>"]
        for i in 1...24 { lines += ["<Macro M\(i) $v>", "Use M\(i - 1) $v", "Use M\(i - 1) $v", "</Macro>"] }
        lines += ["Use M24 x", "ServerName after.example", "Use M3 y"]
        let root = try ApacheFixture.write(["main.conf": lines.joined(separator: "\n") + "\n"])
        defer { try? FileManager.default.removeItem(at: root) }
        let (directives, reader) = ApacheFixture.read(root.appendingPathComponent("main.conf"))
        let tooLong = reader.findings.filter { $0.message.contains("expands past") }
        #expect(tooLong.count == 1, "\(tooLong)")
        #expect(tooLong.first?.ruleId == "input.unresolved" && tooLong.first?.location?.line == 101, "\(tooLong)")
        // What follows is read: the directive after it, and a small use of the same macros (2^3 Defines).
        #expect(directives.contains { $0.name == "ServerName" && $0.args == ["after.example"] })
        #expect(directives.count < 200_000, "\(directives.count) directives")
    }
}

/// mod_macro substitutes each body line in httpd's MAX_STRING_LEN buffer (8192 bytes, newline
/// included) and refuses the configuration when one would not fit, also when a later, shorter
/// value would have made the line fit again: the audit says the same at the same line.
@Suite("Apache macro lines against apache2 -t", .oracle("apache2 -t", unavailable: Oracle.missing(programs: ["apache2"])))
struct ApacheMacroLineTests {
    /// (name, body line, arguments of the Use)
    static let cases: [(String, String, [String])] = [
        ("8,190 bytes fit", "Define Z $x", [String(repeating: "a", count: 8190 - 9)]),
        ("8,191 bytes do not", "Define Z $x", [String(repeating: "a", count: 8191 - 9)]),
        ("a line that would fit only after a later, shorter value", "Define Z $x$yyyyyyyyyy",
         [String(repeating: "a", count: 8195 - 9 - 11), "b"]),
        ("two values together past the buffer", "Define Z $x $w", [String(repeating: "a", count: 4100), String(repeating: "b", count: 4100)]),
    ]

    @Test(arguments: 0..<cases.count)
    func refusedExactlyWhereHttpdRefuses(_ index: Int) throws {
        let (name, body, arguments) = Self.cases[index]
        let parameters = ["$x", "$yyyyyyyyyy", "$w"].filter { body.contains($0) }
        let main = "LoadModule macro_module /usr/lib/apache2/modules/mod_macro.so\n<Macro L \(parameters.joined(separator: " "))>\n\(body)\n</Macro>\n\nUse L \(arguments.joined(separator: " "))\n"
        let (oracle, ours) = try ApacheFixture.judgeMain(main)
        #expect((oracle == nil) == ours.isEmpty, "\(name): httpd \(oracle?.message ?? "accepts"); ours \(ours.map(\.message))")
        if let oracle, let first = ours.first {
            #expect(first.location?.line == oracle.line && first.location?.line == 6, "\(name): httpd \(oracle); ours \(first)")
            #expect(oracle.message.contains("cannot substitute, buffer size too small") && first.message.contains("cannot substitute, buffer size too small"),
                    "\(name): httpd \(oracle.message); ours \(first.message)")
        }
    }
}

/// mod_remoteip parses every RemoteIPTrustedProxy / RemoteIPInternalProxy value when it reads the
/// configuration and refuses to start on one it cannot parse (a corpus tree wrote an IPv6 address
/// in brackets): the audit refuses the same values, on the same line, with httpd's words.
@Suite("RemoteIP proxies against apache2 -t", .oracle("apache2 -t", unavailable: Oracle.missing(programs: ["apache2"])))
struct RemoteIPProxyTests {
    static let values = ["192.0.2.7", "192.0.2.0/24", "10.1", "10.256", "1..2", "10.0.0.0/33", "10.0.0.0/0", "10.1/16",
                         "192.0.2.0/255.255.255.0", "192.0.2.0/255.0.255.0x", "2001:db8::/32", "2001:db8::/129", "[2001:db8::1]",
                         "0000:000:000:0000::2", "2001:db8::zz", "localhost", "localhost/24", "0000"]

    @Test(arguments: values)
    func refusedExactlyWhereHttpdRefuses(_ value: String) throws {
        let main = """
            LoadModule remoteip_module /usr/lib/apache2/modules/mod_remoteip.so
            RemoteIPHeader CF-Connecting-IP
            RemoteIPInternalProxy \(value)

            """
        let (oracle, ours) = try ApacheFixture.judgeMain(main)
        #expect((oracle == nil) == ours.isEmpty, "\(value): httpd \(oracle?.message ?? "accepts"); ours \(ours.map(\.message))")
        if let oracle, let first = ours.first {
            #expect(first.location?.line == oracle.line, "\(value): httpd \(oracle); ours \(first)")
            #expect(first.message.hasPrefix(oracle.message), "\(value): httpd \(oracle.message); ours \(first.message)")
        }
    }
}
