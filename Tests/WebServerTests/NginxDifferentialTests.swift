import Foundation
import OriginAuditCore
import Testing
import TestSupport
@testable import WebServer

/// Our directive trees against crossplane's (names, arguments, lines, include structure) and
/// against the real nginx (`nginx -t` accepts ⇔ we parse clean; where it refuses, the same line).
@Suite("nginx differential")
struct NginxDifferentialTests {
    /// Writes a fixture; adds a throwaway certificate when the config names one.
    static func materialise(_ fixture: NginxFixture) throws -> URL {
        let directory = try fixture.write()
        if fixture.files.values.contains(where: { $0.contains("cert.pem") }) {
            let result = try TestTools.run("openssl", [
                "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                "-subj", "/CN=example.com", "-days", "2",
                "-keyout", directory.appendingPathComponent("key.pem").path,
                "-out", directory.appendingPathComponent("cert.pem").path,
            ], timeout: 30)
            guard result.status == 0 else { throw TestFailure("openssl: \(result.stderr)") }
        }
        return directory
    }

    /// Files in the order nginx first opens them: depth-first through includes, from the main file.
    static func readOrder(_ tree: NginxConfigTree) -> [String] {
        var order: [String] = [], seen = Set<Int>()
        func visit(_ file: Int) {
            guard seen.insert(file).inserted else { return }
            order.append(tree.files[file].path)
            func walk(_ directives: [NginxDirective]) {
                for directive in directives {
                    directive.includes?.forEach(visit)
                    walk(directive.block ?? [])
                }
            }
            walk(tree.files[file].directives)
        }
        visit(0)
        return order
    }

    static func compare(_ tree: NginxConfigTree, with crossplane: CrossplaneResult, lineShift: [String: Int] = [:]) -> [String] {
        var problems: [String] = []
        if crossplane.status != "ok" { problems.append("crossplane reported errors: \(crossplane.errors ?? [])") }
        let ours = NginxTestTools.crossplaneView(tree)
        if Set(ours.keys) != Set(crossplane.files.keys) {
            problems.append("files differ: ours \(ours.keys.sorted()) crossplane \(crossplane.files.keys.sorted())")
        }
        for (path, theirs) in crossplane.files {
            guard let mine = ours[path] else { continue }
            if let difference = NginxTestTools.difference(mine, theirs) { problems.append("\(path)\(difference)") }
        }
        return problems
    }

    @Test("the written corpus parses as crossplane parses it", .oracle("crossplane", unavailable: NginxTestTools.crossplaneMissing))
    func corpusAgainstCrossplane() throws {
        #expect(NginxCorpus.fixtures.count == ReadmeFigures.value("nginx-corpus"))
        var directories: [String: URL] = [:]
        for fixture in NginxCorpus.fixtures { directories[fixture.name] = try Self.materialise(fixture) }
        defer { for url in directories.values { try? FileManager.default.removeItem(at: url) } }
        let mains = NginxCorpus.fixtures.map { directories[$0.name]!.appendingPathComponent($0.main).path }
        let crossplane = try NginxTestTools.crossplane(mains)
        for (fixture, main) in zip(NginxCorpus.fixtures, mains) {
            let tree = NginxTestTools.readTree(main)
            #expect(tree.findings.isEmpty, "\(fixture.name): \(tree.findings.map(\.message))")
            let problems = Self.compare(tree, with: try #require(crossplane[main]))
            #expect(problems.isEmpty, "\(fixture.name): \(problems.joined(separator: "\n"))")
        }
    }

    @Test("the corpus is what the real nginx accepts, and we parse it clean", .oracle("nginx", unavailable: Oracle.missing(programs: ["nginx"])))
    func corpusAgainstNginx() throws {
        var accepted = 0
        for fixture in NginxCorpus.fixtures where fixture.nginxAccepts {
            let directory = try Self.materialise(fixture)
            defer { try? FileManager.default.removeItem(at: directory) }
            let main = directory.appendingPathComponent(fixture.main).path
            let verdict = try NginxTestTools.nginxTest(main, prefix: directory.path)
            #expect(verdict.accepted, "\(fixture.name): nginx -t refused it: \(verdict.output)")
            let tree = NginxTestTools.readTree(main)
            #expect(tree.findings.isEmpty, "\(fixture.name): \(tree.findings.map(\.message))")
            if verdict.accepted { accepted += 1 }
        }
        #expect(accepted == ReadmeFigures.value("nginx-corpus-accepted"))
    }

    @Test("Debian's /etc/nginx parses as crossplane parses it", .oracle("crossplane and Debian's nginx", unavailable: NginxTestTools.crossplaneMissing
          ?? Oracle.missing(files: ["/etc/nginx/nginx.conf"])))
    func debianAgainstCrossplane() throws {
        let main = "/etc/nginx/nginx.conf"
        let crossplane = try NginxTestTools.crossplane([main])
        let tree = NginxTestTools.readTree(main)
        #expect(tree.findings.isEmpty, "\(tree.findings.map(\.message))")
        #expect(tree.files.count >= 3)
        let problems = Self.compare(tree, with: try #require(crossplane[main]))
        #expect(problems.isEmpty, "\(problems.joined(separator: "\n"))")
    }

    @Test("nginx -T output of Debian's config splits back into the files crossplane reads", .oracle(
          "crossplane and nginx -T", unavailable: NginxTestTools.crossplaneMissing
          ?? Oracle.missing(programs: ["nginx"], files: ["/etc/nginx/nginx.conf"])))
    func debianDumpAgainstCrossplane() throws {
        let directory = try TestTools.temporaryDirectory("nginx-dump")
        defer { try? FileManager.default.removeItem(at: directory) }
        let dump = try TestTools.run("nginx", ["-T", "-q", "-c", "/etc/nginx/nginx.conf"], timeout: 30)
        #expect(dump.status == 0, "\(dump.stderr)")
        let dumpFile = directory.appendingPathComponent("nginx-T.txt")
        try Data(dump.stdout.utf8).write(to: dumpFile)
        let tree = NginxTestTools.readTree(dumpFile.path, role: .nginxDump)
        #expect(tree.findings.isEmpty, "\(tree.findings.map(\.message))")
        let crossplane = try NginxTestTools.crossplane(["/etc/nginx/nginx.conf"])
        let problems = Self.compare(tree, with: try #require(crossplane["/etc/nginx/nginx.conf"]))
        #expect(problems.isEmpty, "\(problems.joined(separator: "\n"))")
        // Locations point into the dump, at the line where the directive sits in it.
        let dumpLines = dump.stdout.split(separator: "\n", omittingEmptySubsequences: false)
        for file in tree.files {
            for directive in file.directives.prefix(5) {
                let location = tree.location(of: directive)
                #expect(location.file == dumpFile.path || location.file.hasSuffix("nginx-T.txt"))
                let text = dumpLines[location.line - 1]
                #expect(text.contains(directive.name), "dump line \(location.line) is \(text), expected \(directive.name)")
            }
        }
    }

    @Test("nginx -T 2>&1: nginx's status lines mixed into the dump are not read as directives", .oracle(
          "nginx -T", unavailable: Oracle.missing(programs: ["nginx"], files: ["/etc/nginx/nginx.conf"])))
    func dumpWithStatusLines() throws {
        let directory = try TestTools.temporaryDirectory("nginx-dump-mixed")
        defer { try? FileManager.default.removeItem(at: directory) }
        let dump = try TestTools.run("nginx", ["-T", "-c", "/etc/nginx/nginx.conf"], timeout: 30)
        var lines = dump.stdout.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let status = dump.stderr.split(separator: "\n").map(String.init)
        try #require(status.count == 2 && lines.count > 10)
        lines.insert(status[1], at: 4) // inside nginx.conf's text, as interleaved output can put it
        lines.insert(status[0], at: 0)
        let clean = directory.appendingPathComponent("clean.txt"), mixed = directory.appendingPathComponent("mixed.txt")
        try Data(dump.stdout.utf8).write(to: clean)
        try Data(lines.joined(separator: "\n").utf8).write(to: mixed)
        let fromMixed = NginxTestTools.readTree(mixed.path, role: .nginxDump)
        #expect(fromMixed.findings.isEmpty, "\(fromMixed.findings.map(\.message))")
        let a = NginxTestTools.crossplaneView(fromMixed), b = NginxTestTools.crossplaneView(NginxTestTools.readTree(clean.path, role: .nginxDump))
        #expect(Set(a.keys) == Set(b.keys))
        for (path, directives) in b {
            // Lines move by the inserted status lines; names, arguments and includes must not change.
            let strip: ([ComparableDirective]) -> [String] = { $0.map { "\($0.d) \($0.a) \($0.i ?? [])" } }
            #expect(strip(a[path] ?? []) == strip(directives), "\(path)")
        }
    }

    @Test("the corpus as nginx -T prints it parses as the files themselves", .oracle("nginx", unavailable: Oracle.missing(programs: ["nginx"])))
    func corpusDumps() throws {
        for fixture in NginxCorpus.fixtures where fixture.nginxAccepts {
            let directory = try Self.materialise(fixture)
            defer { try? FileManager.default.removeItem(at: directory) }
            let main = directory.appendingPathComponent(fixture.main).path
            let dump = try TestTools.run("nginx", ["-T", "-q", "-c", main, "-p", directory.path + "/",
                                                   "-g", "pid \(directory.path)/nginx.pid;"], timeout: 30)
            #expect(dump.status == 0, "\(fixture.name): \(dump.stderr)")
            let dumpFile = directory.appendingPathComponent("dump.txt")
            try Data(dump.stdout.utf8).write(to: dumpFile)
            let dumpTree = NginxTestTools.readTree(dumpFile.path, role: .nginxDump)
            let fileTree = NginxTestTools.readTree(main)
            let fromDump = NginxTestTools.crossplaneView(dumpTree)
            let fromFiles = NginxTestTools.crossplaneView(fileTree)
            // nginx dumps files in the order it first reads them: our include order (glob sorting
            // included) must visit them in the same order.
            #expect(Self.readOrder(fileTree) == dumpTree.files.map(\.path), "\(fixture.name)")
            #expect(Set(fromDump.keys) == Set(fromFiles.keys), "\(fixture.name)")
            for (path, directives) in fromFiles {
                #expect(NginxTestTools.difference(fromDump[path] ?? [], directives) == nil, "\(fixture.name) \(path)")
            }
        }
    }
}
