import Foundation
import OriginAuditCore
import Testing
import TestSupport
@testable import WebServer

/// Random configuration trees — Define/UnDefine, `${VAR}`, `<IfDefine>`, `<IfModule>` on modules
/// loaded before and after, nested conditionals, relative includes by file, directory and glob —
/// read by `apache2 -t -D DUMP_INCLUDES`, `-M` and `-S` and by the loader, which must agree.
@Suite("Apache generated trees against apache2",
       .oracle("apache2 with Debian's modules", unavailable: Oracle.missing(programs: ["apache2"], files: ["/usr/lib/apache2/modules/mod_mpm_event.so"])))
struct ApacheGeneratedTreeTests {
    static let modules = ["authz_core", "headers", "rewrite", "remoteip", "env", "expires", "setenvif", "mime"]

    /// Writes one random tree; file `k` only includes files after it, so there are no cycles.
    static func generate(seed: Int, into root: URL) throws {
        var random = ApacheRobustnessTests.SplitMix(state: UInt64(seed) &* 104_729 &+ 17)
        func pick<T>(_ items: [T]) -> T { items[Int(random.next() % UInt64(items.count))] }
        func chance(_ percent: UInt64) -> Bool { random.next() % 100 < percent }
        let paths = ["conf/a.conf", "conf/b.conf", "conf/sub/c.conf", "sites/d.conf", "sites/e.conf", "sites/.hidden.conf"]
        var vhost = 0
        func block(_ depth: Int, _ index: Int, _ lines: inout [String]) {
            for _ in 0..<(2 + Int(random.next() % 5)) {
                switch random.next() % 15 {
                case 0: lines.append("Define D\(random.next() % 4)")
                case 1: lines.append("Define V\(random.next() % 3) value\(random.next() % 9)")
                case 2: lines.append("UnDefine D\(random.next() % 4)")
                case 3:
                    let module = pick(modules)
                    lines.append("LoadModule \(module)_module /usr/lib/apache2/modules/mod_\(module).so")
                case 4 where depth < 2:
                    lines.append("<IfDefine \(chance(30) ? "!" : "")D\(random.next() % 4)>")
                    block(depth + 1, index, &lines)
                    lines.append(chance(20) ? "</ifdefine>" : "</IfDefine>")
                case 5 where depth < 2:
                    let module = pick(modules)
                    lines.append("<IfModule \(chance(30) ? "!" : "")\(chance(50) ? "\(module)_module" : "mod_\(module).c")>")
                    block(depth + 1, index, &lines)
                    lines.append("</IfModule>")
                case 6 where index + 1 < paths.count:
                    let later = paths[(index + 1)...]
                    lines.append(pick(["Include \(pick(Array(later)))", "IncludeOptional sites/*.conf", "IncludeOptional conf/sub",
                                       "Include conf/s*/*.conf", "IncludeOptional none/*.conf", "Include \(pick(Array(later)))",
                                       "LoadModule nothere_module /usr/lib/apache2/modules/mod_nothere.so"]))
                case 7, 8:
                    vhost += 1
                    lines.append(chance(20) ? "<VirtualHost \\\n    *:19080>" : "<VirtualHost *:19080>")
                    lines.append(pick(["    ServerName v\(vhost)-s\(seed).example", "    ServerName \"v\(vhost)-s\(seed).example\"",
                                       "    ServerName \\\n        v\(vhost)-s\(seed).example"]))
                    if chance(40) { lines.append("    ServerAlias ${V\(random.next() % 3)}.alias.example") }
                    lines.append("</VirtualHost>")
                case 12 where depth < 2:
                    lines.append(pick(["<IfVersion >= 2.4>", "<IfVersion < 2.4>", "<IfVersion !~ ^2\\.2>".replacingOccurrences(of: "!~ ^2\\.2", with: "= 2"),
                                       "<IfFile conf/a.conf>", "<IfFile !conf/nope.conf>", "<IfFile /nonexistent>"]))
                    let close = lines.last!.hasPrefix("<IfVersion") ? "</IfVersion>" : "</IfFile>"
                    block(depth + 1, index, &lines)
                    lines.append(close)
                case 13 where chance(25):
                    // A mistake httpd refuses: the loader must name the same line.
                    lines.append(pick(["</Location>", "<Directory /srv>\n</Files>", "<IfModule>\n</IfModule>",
                                       "Include conf/missing-\(seed).conf", "<VirtualHost *:19080>\n</VirtualHost # x",
                                       "<IfModule nope_module>\n<Files x>\n</Location>\n</IfModule>"]))
                case 14 where depth < 2:
                    lines.append("<If \"%{HTTPS} != 'on'\">")
                    lines.append("    Redirect / https://example.com/")
                    lines.append("</If>")
                case 10:
                    vhost += 1
                    lines.append("Use Site v\(vhost)-s\(seed).example")
                case 11:
                    lines.append("Define INC\(random.next() % 2) \(pick(["conf/sub", "sites/*.conf", "none/x*.conf"]))")
                    lines.append("IncludeOptional ${INC\(random.next() % 2)}")
                case 9: lines.append("ServerAdmin \(chance(50) ? "${V\(random.next() % 3)}" : "admin")@example.com")
                default: lines.append("# comment \\")
                    lines.append("ServerAdmin hidden-by-the-comment")
                }
            }
        }
        for (index, path) in paths.enumerated() {
            var lines: [String] = []
            // Only files the main file reaches must avoid includes that loop back.
            if path.hasPrefix("sites/") || path.hasPrefix("conf/sub") {
                // Reached by globs from any earlier file: they must not include anything.
                for _ in 0..<(1 + Int(random.next() % 3)) {
                    vhost += 1
                    lines += ["<VirtualHost *:19080>", "    ServerName v\(vhost)-s\(seed).example", "</VirtualHost>"]
                }
                if chance(50) { lines.append("<IfDefine D1>\nServerAdmin d1@example.com\n</IfDefine>") }
            } else {
                block(0, index, &lines)
            }
            let url = root.appendingPathComponent(path)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try (lines.joined(separator: "\n") + "\n").write(to: url, atomically: true, encoding: .utf8)
        }
        var main = [ApacheFixture.header(root), "Listen 127.0.0.1:19080",
                    "LoadModule macro_module /usr/lib/apache2/modules/mod_macro.so",
                    seed % 5 == 0 ? "# no mod_alias: a Redirect is an invalid command" : "LoadModule alias_module /usr/lib/apache2/modules/mod_alias.so",
                    "<Macro Site $name>", "<VirtualHost *:19080>", "    ServerName $name", "</VirtualHost>", "</Macro>",
                    "Define INC0 conf/sub", "Define INC1 sites"]
        block(0, -1, &main)
        main.append("Include conf/a.conf")
        main.append("IncludeOptional sites")
        try main.joined(separator: "\n").write(to: root.appendingPathComponent("main.conf"), atomically: true, encoding: .utf8)
    }

    static let trees = 60
    @Test func everyTreeIsCounted() { #expect(Self.trees == ReadmeFigures.value("apache-generated-trees")) }

    @Test(arguments: 0..<trees)
    func agreesWithHttpd(_ seed: Int) throws {
        let root = try ApacheFixture.write([:])
        defer { try? FileManager.default.removeItem(at: root) }
        try Self.generate(seed: seed, into: root)
        let main = root.appendingPathComponent("main.conf")
        let defines = seed % 2 == 0 ? ["D1"] : []
        let flags = defines.flatMap { ["-D", $0] } + ["-d", root.path, "-f", main.path]
        let check = try TestTools.run("apache2", ["-t"] + flags, timeout: 20)
        let (directives, reader) = ApacheLoader.read(hostPath: main.path, role: .main, tree: ApacheFixture.absoluteTree,
                                            defines: defines, environment: [:])
        let result = ApacheFixture.load(main, defines: defines)
        let problems = result.findings.filter { $0.ruleId == "input.parse-error" || $0.ruleId == "input.include-missing" }
        guard check.status == 0 else {
            // httpd refused the tree: the loader must say so too, at the same place.
            let oracle = try #require(try ApacheFixture.httpdSyntaxError(main, root: root, defines: defines))
            #expect(problems.first?.location?.line == oracle.line, "seed \(seed): httpd: \(oracle.message); ours: \(problems.map(\.message))")
            #expect(problems.first?.location?.file == oracle.file, "seed \(seed): httpd: \(oracle.file)")
            return
        }
        #expect(problems.isEmpty, "seed \(seed): \(problems.map(\.message))")
        let includes = HttpdOutput.includes(try TestTools.run("apache2", ["-t", "-D", "DUMP_INCLUDES"] + flags, timeout: 20).stdout)
        #expect(reader.includes == includes, "seed \(seed): include order")
        #expect(result.model.modules == HttpdOutput.modules(try TestTools.run("apache2", ["-M"] + flags, timeout: 20).stdout),
                "seed \(seed): modules")
        let dump = try TestTools.run("apache2", ["-S"] + flags, timeout: 20).stdout
        let httpdHosts = HttpdOutput.virtualHosts(dump)
        let ours = result.model.virtualHosts.filter { $0.location.file != main.path || $0.listeners.contains { $0.port == 19080 } }
            .filter { host in !host.names.contains { $0.value == .catchAll } }
            .flatMap { $0.httpdStyleEntries(mainServerName: "localhost", httpdLine: ApacheDirective.httpdLines(directives)) }.sorted()
        #expect(ours == httpdHosts, "seed \(seed): virtual hosts")
        let lines = ApacheDirective.httpdLines(directives)
        let defaults = result.model.virtualHosts.flatMap { host in
            host.listeners.filter { $0.defaultServer && $0.port == 19080 }.map { _ in
                "*:19080 \(host.names.first?.value.description ?? "") \(host.location.file):\(lines[host.location] ?? host.location.line)"
            }
        }
        #expect(defaults.sorted() == HttpdOutput.defaultServers(dump), "seed \(seed): default server")
        let unknown = Set((check.stderr + check.stdout).matches(of: /Config variable \$\{(.+?)\} is not defined/).map { String($0.output.1) })
        let oursUnknown = Set(result.findings.filter { $0.ruleId == "input.unresolved" }.compactMap {
            $0.message.firstMatch(of: /^\$\{(.+?)\} is not defined/).map { String($0.output.1) }
        })
        #expect(oursUnknown == unknown, "seed \(seed): unresolved variables")
    }
}
