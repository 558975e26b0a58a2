import Foundation
import OriginAuditCore
import Testing
import TestSupport
@testable import WebServer

/// Lexer corners where nginx's own rules decide (and crossplane differs), and broken files checked
/// against the line the real `nginx -t` reports.
@Suite("nginx syntax")
struct NginxSyntaxTests {
    static func parse(_ text: String) -> (directives: [NginxDirective], errors: [NginxSyntaxError]) {
        let (syntax, errors) = NginxFileParser.parse(Array(text.utf8), file: 0, resolveInclude: { _, _, _ in [] })
        return (syntax.directives, errors)
    }

    static func flatten(_ directives: [NginxDirective]) -> [NginxDirective] {
        directives.flatMap { [$0] + flatten($0.block ?? []) }
    }

    static func values(_ text: String, _ name: String) -> [String]? {
        flatten(parse(text).directives).first { $0.name == name }?.values
    }

    @Test("a } inside a bare word is part of it, as in nginx")
    func braceInsideWord() {
        #expect(Self.values("return 200 a}b;", "return") == ["200", "a}b"])
        #expect(Self.parse("return 200 a}b;").errors.isEmpty)
    }

    @Test("${var} keeps its brace; $ followed by { elsewhere opens a block")
    func variableBraces() {
        #expect(Self.values("set $x ${a}b;", "set") == ["$x", "${a}b"])
        let (directives, errors) = Self.parse("location /$ { }")
        #expect(errors.isEmpty)
        #expect(directives.first?.values == ["/$"] && directives.first?.block != nil)
    }

    @Test("escapes: \\\" \\' \\\\ lose the backslash, \\t \\r \\n become control characters, others stay")
    func escapes() {
        #expect(Self.values(#"x "a\"b" 'c\'d' "e\\f" "g\th" "i\nj" "k\zl" m\;n;"#, "x")
                == ["a\"b", "c'd", "e\\f", "g\th", "i\nj", "k\\zl", "m\\;n"])
        let raw = Self.parse(#"x "g\th";"#).directives[0].args[0]
        #expect(raw.raw == #"g\th"# && raw.quote == .double)
    }

    @Test("the flat tree keeps blocks, words and escaped words apart: each directive its own arguments, raw text and children")
    func flatTree() {
        let text = #"""
        a "1\"x" 2;
        b {
            c 'y\'z' { d "p\tq" plain; }
            e;
            f "r\ns" {}
        }
        g last\;word;
        """#
        let (directives, errors) = Self.parse(text)
        #expect(errors.isEmpty)
        let all = Self.flatten(directives)
        #expect(all.map(\.name) == ["a", "b", "c", "d", "e", "f", "g"])
        #expect(all.map(\.line) == [1, 2, 3, 3, 4, 5, 7])
        #expect(all.map(\.values) == [["1\"x", "2"], [], ["y'z"], ["p\tq", "plain"], [], ["r\ns"], ["last\\;word"]])
        #expect(all.map { $0.args.map(\.rawText) } == [[#"1\"x"#, nil], [], [#"y\'z"#], [#"p\tq"#, nil], [], [#"r\ns"#], [#"last\;word"#]])
        #expect(all.map { $0.block?.count } == [nil, 3, 1, nil, nil, 0, nil])
        #expect(all[2].args.first?.quote == .single && all[1].argumentCount == 0 && all[3].value(1) == "plain" && all[3].value(2) == nil)
    }

    @Test("CR is whitespace and lines count LFs only; quoted text keeps CRLF")
    func carriageReturns() {
        let (directives, errors) = Self.parse("a 1;\r\nb \"x\r\ny\";\rc 3;\r\n")
        #expect(errors.isEmpty)
        #expect(directives.map(\.name) == ["a", "b", "c"])
        #expect(directives.map(\.line) == [1, 2, 3])
        #expect(directives[1].values == ["x\r\ny"])
    }

    @Test("columns count Unicode scalars; UTF-8 passes through")
    func utf8Columns() {
        let (directives, _) = Self.parse("é 1; ü \"日本\";")
        #expect(directives.map(\.column) == [1, 6])
        #expect(directives[1].values == ["日本"])
    }

    @Test("Lua blocks: braces in strings, long brackets and comments do not count")
    func luaBlocks() {
        let text = """
        content_by_lua_block {
            local s = [[ } ]] --[==[ } ]==] -- }
            local t = { "}", '{' }
        }
        next 1;
        """
        let (directives, errors) = Self.parse(text)
        #expect(errors.isEmpty)
        #expect(directives.map(\.name) == ["content_by_lua_block", "next"])
        #expect(directives[0].values.first?.contains("local t = { \"}\", '{' }") == true)
        #expect(directives[1].line == 5)
        let set = Self.parse("set_by_lua_block $v { return 1 }").directives[0]
        #expect(set.values == ["$v", " return 1 "])
    }

    @Test("the parse reads on after an error and reports each")
    func recovery() {
        let (directives, errors) = Self.parse("a 1 }\nb 2;\n}\nc \"x\"y;\n;\nd 4;\n")
        #expect(directives.map(\.name) == ["a", "b", "c", "d"])
        #expect(errors.map(\.line) == [1, 3, 4, 5])
        let quoted = Self.parse("server { return 200 \"a\"}\nb 1;\n")
        #expect(quoted.errors.map(\.message) == ["unexpected \"}\""])
        #expect(quoted.directives.map(\.name) == ["server", "b"])
    }

    @Test("deeply nested braces are bounded, not a stack overflow")
    func depthBound() {
        let text = String(repeating: "a {", count: 100_000) + String(repeating: "}", count: 100_000)
        let (_, errors) = Self.parse(text)
        #expect(errors.contains { $0.message.contains("nested") })
    }

    @Test("random text: the parser and the model always finish, with lines inside the file")
    func randomText() throws {
        let pieces = ["a", "server", "listen", " ", "\n", "\r\n", "\r", "\t", ";", "{", "}", "\"", "'", "\\", "$", "${", "#",
                      "(", ")", "é", "🚀", "content_by_lua_block", "--[[", "]]", "[==[", "include", "if", "location", "80",
                      "ssl", "return 301 https://x;", "\u{0}", "\u{FEFF}"]
        var generator = SystemRandomNumberGenerator()
        let directory = try TestTools.temporaryDirectory("nginx-fuzz")
        defer { try? FileManager.default.removeItem(at: directory) }
        for round in 0..<400 {
            let text = (0..<Int.random(in: 0...120, using: &generator)).map { _ in pieces.randomElement(using: &generator)! }.joined()
            let lines = text.utf8.filter { $0 == 0x0A }.count + 1
            let (directives, errors) = Self.parse(text)
            #expect(Self.flatten(directives).allSatisfy { $0.line >= 1 && $0.line <= lines }, "\(text.debugDescription)")
            #expect(errors.allSatisfy { $0.line >= 1 && $0.line <= lines }, "\(text.debugDescription)")
            if round % 4 == 0 {
                let file = directory.appendingPathComponent("nginx.conf")
                try Data(("http { server { " + text).utf8).write(to: file)
                _ = NginxLoader.load(hostPath: file.path, role: .main, tree: SourceTree(root: directory, base: directory))
            }
        }
    }

    /// Broken configurations: nginx must refuse each, and our first error must sit where nginx's is.
    static let broken: [NginxFixture] = [
        NginxFixture(name: "missing-semicolon", files: ["nginx.conf": "events {}\nhttp {\n    server { listen 127.0.0.1:18201 }\n}\n"]),
        NginxFixture(name: "unclosed-block", files: ["nginx.conf": "events {}\nhttp {\n    server {\n        listen 127.0.0.1:18202;\n"]),
        NginxFixture(name: "stray-brace", files: ["nginx.conf": "events {}\n}\nhttp {}\n"]),
        NginxFixture(name: "junk-after-quote", files: ["nginx.conf": "events {}\nhttp {\n  server {\n    return 200 \"a\"b;\n  }\n}\n"]),
        NginxFixture(name: "comment-after-quote", files: ["nginx.conf": "events {}\nhttp {\n  server {\n    return 200 \"a\"#b\n;\n  }\n}\n"]),
        NginxFixture(name: "unterminated-quote", files: ["nginx.conf": "events {}\nhttp {\n  server {\n    return 200 \"abc;\n  }\n}\n"]),
        NginxFixture(name: "lone-semicolon", files: ["nginx.conf": "events {}\n\n;\nhttp {}\n"]),
        NginxFixture(name: "lone-brace", files: ["nginx.conf": "events {}\n{\n}\nhttp {}\n"]),
        NginxFixture(name: "block-without-brace", files: ["nginx.conf": "events {}\nhttp;\n"]),
        NginxFixture(name: "simple-with-brace", files: ["nginx.conf": "events {}\nhttp {\n  server {\n    listen 127.0.0.1:18203\n    {\n    }\n  }\n}\n"]),
        NginxFixture(name: "error-in-include", files: [
            "nginx.conf": "events {}\nhttp {\n    include sites/*.conf;\n}\n",
            "sites/a.conf": "server {\n    listen 127.0.0.1:18204;\n}\n}\n",
        ]),
        NginxFixture(name: "missing-include", files: ["nginx.conf": "events {}\nhttp {\n\n    include missing.conf;\n}\n"]),
        NginxFixture(name: "include-arguments", files: ["nginx.conf": "events {}\nhttp {\n    include a.conf b.conf;\n}\n"]),
        NginxFixture(name: "lone-cr-lines", files: ["nginx.conf": "events {}\rhttp {\r  server {\r    listen 127.0.0.1:18205 }\r}\r"]),
        NginxFixture(name: "crlf-lines", files: ["nginx.conf": "events {}\r\nhttp {\r\n  server {\r\n    listen 127.0.0.1:18206 }\r\n}\r\n"]),
        NginxFixture(name: "long-comment", files: ["nginx.conf": "events {}\n\n#" + String(repeating: "x", count: 5000) + "\nhttp {}\n"]),
        NginxFixture(name: "long-word", files: ["nginx.conf": "events {}\nhttp {\n  server {\n    return 200 " + String(repeating: "y", count: 5000) + ";\n  }\n}\n"]),
        NginxFixture(name: "long-quoted", files: ["nginx.conf": "events {}\nhttp {\n  server {\n    return 200 \"" + String(repeating: "y\n", count: 2500) + "\";\n  }\n}\n"]),
        NginxFixture(name: "byte-order-mark", files: ["nginx.conf": "\u{FEFF}events {}\nhttp {}\n"]),
        NginxFixture(name: "brace-in-types", files: ["nginx.conf": "events {}\nhttp {\n  types {\n    text/html html;\n    a { }\n  }\n}\n"]),
        NginxFixture(name: "brace-after-quote", files: ["nginx.conf": "events {}\nhttp {\n  server {\n    return 200 \"a\"}\n}\n"]),
        NginxFixture(name: "eof-after-args", files: ["nginx.conf": "events {}\nhttp {}\nworker_processes 2"]),
    ]

    @Test("runs across nginx's 4096-byte buffer that it accepts: long whitespace, words just under the limit", .oracle("nginx -t", unavailable: Oracle.missing(programs: ["nginx"])))
    func longRunsAccepted() throws {
        // The lexer passes whitespace, comments and word bytes in runs up to each buffer refill;
        // words just under the limit, at shifting offsets, must straddle refills without a false
        // "too long parameter".
        var text = "events {}\n" + String(repeating: " ", count: 6000) + String(repeating: "\n", count: 3000) + "http {\n"
        for index in 0..<6 {
            let word = index % 2 == 0 ? String(repeating: "w", count: 4000 + index) : "\"" + String(repeating: "q\n", count: 1990) + "\""
            text += String(repeating: "\t", count: 700 * index) + "  map $host $v\(index) {\n    default " + word + ";\n  }\n"
            text += "  # " + String(repeating: "c", count: 4000) + "\n"
        }
        text += "}\n"
        let fixture = NginxFixture(name: "long-runs", files: ["nginx.conf": text])
        let directory = try fixture.write()
        defer { try? FileManager.default.removeItem(at: directory) }
        let main = directory.appendingPathComponent(fixture.main).path
        let verdict = try NginxTestTools.nginxTest(main, prefix: directory.path)
        #expect(verdict.accepted, "nginx refused it: \(verdict.output)")
        let tree = NginxTestTools.readTree(main)
        #expect(tree.findings.isEmpty, "\(tree.findings.map { "\($0.location!) \($0.message)" })")
        let maps = tree.files[0].directives.first { $0.name == "http" }?.block?.filter { $0.name == "map" } ?? []
        #expect(maps.map { $0.block?.first?.values.last?.utf8.count ?? 0 } == [4000, 3980, 4002, 3980, 4004, 3980])
    }

    @Test func everyBrokenFileIsCounted() { #expect(Self.broken.count == ReadmeFigures.value("nginx-broken")) }

    @Test("broken files: nginx -t refuses them, and our first error is on nginx's line", .oracle("nginx -t", unavailable: Oracle.missing(programs: ["nginx"])), arguments: broken)
    func brokenAgainstNginx(_ fixture: NginxFixture) throws {
        let directory = try fixture.write()
        defer { try? FileManager.default.removeItem(at: directory) }
        let main = directory.appendingPathComponent(fixture.main).path
        let verdict = try NginxTestTools.nginxTest(main, prefix: directory.path)
        #expect(!verdict.accepted, "nginx accepted \(fixture.name)")
        let nginxFile = try #require(verdict.file, "no location in: \(verdict.output)")
        let nginxLine = try #require(verdict.line)
        let tree = NginxTestTools.readTree(main)
        let ours = tree.findings.filter { $0.location?.file == nginxFile }.compactMap { $0.location?.line }
        #expect(!ours.isEmpty, "\(fixture.name): nginx says \(verdict.output); we found \(tree.findings.map { "\($0.location!) \($0.message)" })")
        #expect(ours.min() == nginxLine, "\(fixture.name): nginx says \(verdict.output); we found \(tree.findings.map { "\($0.location!) \($0.message)" })")
    }
}
