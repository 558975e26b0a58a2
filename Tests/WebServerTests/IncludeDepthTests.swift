import Foundation
import OriginAuditCore
import Testing
import TestSupport
@testable import WebServer

/// How deep includes may nest is the real servers' business: nginx has no limit of its own (a
/// long chain passes `nginx -t`), httpd stops past 128 levels below the main file. The loaders
/// agree with the real programs on both sides of those lines.
@Suite("include nesting limits")
struct IncludeDepthTests {
    /// `inc1.conf` including `inc2.conf`, … down to `incN.conf`, which holds `last`.
    static func chain(_ depth: Int, include: (String) -> String, last: String) -> [String: String] {
        var files: [String: String] = [:]
        for level in 1...depth {
            files["inc\(level).conf"] = level < depth ? include("{{DIR}}/inc\(level + 1).conf") : last
        }
        return files
    }

    @Test("a 100-deep nginx include chain passes nginx -t and the server at its end is audited",
          .oracle("nginx -t", unavailable: Oracle.missing(programs: ["nginx"])))
    func nginxHasNoNestingLimitOfItsOwn() throws {
        var files = Self.chain(100, include: { "include \($0);\n" },
                               last: "server { listen 8080; server_name deep.example; }\n")
        files["nginx.conf"] = "events {}\nhttp {\n    include {{DIR}}/inc1.conf;\n}\n"
        let fixture = NginxFixture(name: "deep-includes", files: files)
        let directory = try fixture.write()
        defer { try? FileManager.default.removeItem(at: directory) }
        let verdict = try NginxTestTools.nginxTest(directory.appendingPathComponent("nginx.conf").path, prefix: directory.path)
        #expect(verdict.accepted, "\(verdict.output)")
        let result = NginxTestTools.load(directory)
        #expect(result.findings.isEmpty, "\(result.findings.map(\.message))")
        #expect(result.model.virtualHosts.contains { $0.serves("deep.example") })
    }

    @Test("past 1,000 levels nginx's start depends on its open-file limit: unresolved, not an error")
    func nginxBeyondTheOpenFileLimitIsUnresolved() throws {
        var files = Self.chain(NginxModelBuilder.maxIncludeDepth + 2, include: { "include \($0);\n" },
                               last: "server { listen 8080; server_name deep.example; }\n")
        files["nginx.conf"] = "events {}\nhttp {\n    include {{DIR}}/inc1.conf;\n}\n"
        let directory = try NginxFixture(name: "deeper-includes", files: files).write()
        defer { try? FileManager.default.removeItem(at: directory) }
        let result = NginxTestTools.load(directory)
        #expect(!result.findings.contains { $0.ruleId == "input.parse-error" })
        #expect(result.findings.contains { $0.ruleId == "input.unresolved" && $0.message.contains("open-file limit") })
    }

    /// httpd: the main file and 128 nested includes start; one more level is
    /// "Exceeded maximum include depth of 128", at the Include line of the 128th file.
    @Test("Apache: 128 nested includes start, 129 do not, at the line apache2 -t names",
          .oracle("apache2 -t", unavailable: Oracle.missing(programs: ["apache2"])))
    func apacheStopsPast128Levels() throws {
        for depth in [128, 129] {
            // httpd's message names every level and is cut at 8 KB: short paths keep the innermost
            // file and line in it.
            let root = URL(fileURLWithPath: "/tmp/oa\(getpid())")
            try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: root) }
            for level in 1...depth {
                let text = level < depth ? "Include \(root.path)/\(level + 1)\n" : "ServerAdmin deep@example.test\n"
                try Data(text.utf8).write(to: root.appendingPathComponent("\(level)"))
            }
            let main = root.appendingPathComponent("main.conf")
            try Data((ApacheFixture.header(root) + "\nInclude \(root.path)/1\n").utf8).write(to: main)
            let httpd = try ApacheFixture.httpdSyntaxError(main, root: root)
            let errors = ApacheFixture.load(main).findings.filter { $0.ruleId == "input.parse-error" }
            if depth == 128 {
                #expect(httpd == nil, "apache2 -t refused \(depth) levels: \(String(describing: httpd))")
                #expect(errors.isEmpty, "\(errors.map(\.message))")
            } else {
                let refusal = try #require(httpd, "apache2 -t accepted \(depth) levels")
                #expect(refusal.message.contains("maximum include depth"))
                let error = try #require(errors.first)
                #expect(error.location?.file == refusal.file && error.location?.line == refusal.line,
                        "ours at \(String(describing: error.location)), httpd at \(refusal.file):\(refusal.line)")
            }
        }
    }
}
