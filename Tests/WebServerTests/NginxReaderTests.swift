import Foundation
import OriginAuditCore
import Testing
import TestSupport
@testable import WebServer

/// Reading files: what cannot be read, what lies outside --root, what a dump does not hold.
@Suite("nginx reader")
struct NginxReaderTests {
    @Test("a fragment without nginx.conf above it: relative includes that miss are unresolved, not missing")
    func fragmentWithoutMain() throws {
        let (result, directory) = try NginxModelTests.load([
            "site.conf": "server { listen 80; include snippets/tls.conf; }\n",
        ], role: .fragment, main: "site.conf")
        defer { try? FileManager.default.removeItem(at: directory) }
        #expect(result.findings.map(\.ruleId) == ["input.unresolved"])
        #expect(result.model.virtualHosts.count == 1)
    }

    @Test("a main file that cannot be read is a finding and an empty model, in every role")
    func missingMain() {
        let tree = SourceTree(root: nil, base: URL(fileURLWithPath: "/"))
        for role in [ConfigRole.main, .fragment, .nginxDump] {
            let result = NginxLoader.load(hostPath: "/nonexistent/originaudit/nginx.conf", role: role, tree: tree)
            #expect(result.findings.map(\.ruleId) == ["input.unreadable"], "\(role)")
            #expect(result.model.virtualHosts.isEmpty && result.files.isEmpty)
        }
    }

    @Test("an include naming a directory is unreadable at the include")
    func includeDirectory() throws {
        let (result, directory) = try NginxModelTests.load([
            "nginx.conf": "events {}\nhttp {\n    include conf.d;\n}\n",
            "conf.d/a.conf": "server { listen 80; }\n",
        ])
        defer { try? FileManager.default.removeItem(at: directory) }
        #expect(result.findings.map(\.ruleId) == ["input.unreadable"])
        #expect(result.findings.first?.location?.line == 3)
    }

    /// The link's absolute target is a path on the audited host: read under the root, where it
    /// is missing (the file outside the root is never read), and the message names the target.
    @Test("--root: a link out of the root is followed under the root, never out of it")
    func linkOutOfRoot() throws {
        let (_, directory) = try NginxModelTests.load(["etc/nginx/nginx.conf": "events {}\nhttp { include /etc/nginx/outside.conf; }\n"],
                                                      main: "etc/nginx/nginx.conf")
        defer { try? FileManager.default.removeItem(at: directory) }
        let outside = try TestTools.temporaryDirectory("nginx-outside")
        defer { try? FileManager.default.removeItem(at: outside) }
        try Data("server { listen 80; }\n".utf8).write(to: outside.appendingPathComponent("secret.conf"))
        try FileManager.default.createSymbolicLink(atPath: directory.appendingPathComponent("etc/nginx/outside.conf").path,
                                                   withDestinationPath: outside.appendingPathComponent("secret.conf").path)
        let result = NginxTestTools.load(directory, main: "etc/nginx/nginx.conf", root: directory)
        #expect(result.model.virtualHosts.isEmpty)
        #expect(result.findings.map(\.ruleId) == ["input.include-missing"], "\(result.findings)")
        #expect(result.findings.first?.message.contains("symbolic link to \(outside.path)/secret.conf") == true, "\(result.findings)")
    }

    @Test("a dump: an include of a file the dump does not hold is unresolved; locations point into the dump")
    func dumpMissingFile() throws {
        let dump = """
        nginx: the configuration file /etc/nginx/nginx.conf syntax is ok
        # configuration file /etc/nginx/nginx.conf:
        events {}
        http {
            include /etc/nginx/sites/*.conf;
            include /etc/nginx/gone.conf;
        }

        # configuration file /etc/nginx/sites/a.conf:
        server { listen 443 ssl; ssl_certificate certs/a.pem; }

        """
        let (result, directory) = try NginxModelTests.load(["dump.txt": dump], role: .nginxDump, main: "dump.txt")
        defer { try? FileManager.default.removeItem(at: directory) }
        #expect(result.findings.map(\.ruleId) == ["input.unresolved"])
        #expect(result.findings.first?.location == SourceLocation(file: "dump.txt", line: 6, column: 5))
        let host = try #require(result.model.virtualHosts.first)
        #expect(host.location == SourceLocation(file: "dump.txt", line: 10, column: 1))
        // Relative paths resolve against the main file's directory as nginx named it.
        #expect(host.tls?.certificateFiles.first?.hostPath == "/etc/nginx/certs/a.pem")
        #expect(result.files == ["dump.txt"])
    }
}
