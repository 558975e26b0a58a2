import Foundation
import OriginAuditCore
import Testing
import TestSupport
@testable import WebServer

/// The directive table against the real nginx: configurations generated from it — every
/// directive in one of its contexts and out of them, with too few and too many arguments — must
/// be refused by `nginx -t` exactly where the audit refuses them, at the same line.
@Suite("nginx directive table")
struct NginxDirectiveTableTests {
    /// Where a directive is placed, as the table names contexts: text before and after its line.
    static let contexts: [String: (before: String, after: String)] = [
        "main": ("", "events {}\nhttp {}\n"),
        "events": ("events {\n", "}\nhttp {}\n"),
        "http": ("events {}\nhttp {\n", "}\n"),
        "server": ("events {}\nhttp {\nserver {\n", "}\n}\n"),
        "location": ("events {}\nhttp {\nserver {\nlocation / {\n", "}\n}\n}\n"),
        "location-if": ("events {}\nhttp {\nserver {\nlocation / {\nif ($uri) {\n", "}\n}\n}\n}\n"),
        "server-if": ("events {}\nhttp {\nserver {\nif ($uri) {\n", "}\n}\n}\n"),
        "limit_except": ("events {}\nhttp {\nserver {\nlocation / {\nlimit_except GET {\n", "}\n}\n}\n}\n"),
        "upstream": ("events {}\nhttp {\nupstream u {\nserver 127.0.0.1;\n", "}\n}\n"),
    ]

    /// nginx's messages about a directive's shape, as opposed to its values.
    static let structural = ["is not allowed here", "invalid number of arguments", "has no opening", "is not terminated by", "unknown directive"]

    struct Case: Sendable {
        var label: String
        var text: String
    }

    /// The generated cases, in table order.
    static func cases() -> [Case] {
        var cases: [Case] = []
        for name in NginxDirectiveCheck.table.keys.sorted() {
            guard let shape = NginxDirectiveCheck.table[name]?.first, let context = shape.contexts.sorted().first,
                  let lowest = shape.counts.map(\.lowerBound).min(), let highest = shape.counts.map(\.upperBound).max() else { continue }
            func statement(_ count: Int) -> String {
                name + String(repeating: " x", count: count) + (shape.block ? " {\n}" : ";")
            }
            func place(_ text: String, in context: String) -> String {
                let wrapper = contexts[context]!
                return wrapper.before + text + "\n" + wrapper.after
            }
            // `events` and `http` appear in every wrapper: placed again they are duplicates.
            let duplicates = name == "events" || name == "http"
            if !duplicates { cases.append(Case(label: "\(name) in \(context)", text: place(statement(lowest), in: context))) }
            if let outside = contexts.keys.sorted().first(where: { !shape.contexts.contains($0) }), !duplicates {
                cases.append(Case(label: "\(name) in \(outside)", text: place(statement(lowest), in: outside)))
            }
            if lowest > 0 { cases.append(Case(label: "\(name) with \(lowest - 1) arguments", text: place(statement(lowest - 1), in: context))) }
            if highest < 9 { cases.append(Case(label: "\(name) with \(highest + 1) arguments", text: place(statement(highest + 1), in: context))) }
        }
        cases.append(Case(label: "misspelt directive", text: place2("proxy_passs x;", "location")))
        return cases
    }

    static func place2(_ text: String, _ context: String) -> String {
        contexts[context]!.before + text + "\n" + contexts[context]!.after
    }

    @Test("variables are read from bytes exactly as from Characters, on random ASCII arguments")
    func variableNamesOnBytesAgreeWithCharacters() {
        var random = SplitMix(state: 0x5EED)
        let alphabet = Array("$${}_aZq9 -./\r\n(?<")
        for _ in 0..<5_000 {
            let text = String((0..<Int(random.next() % 24)).map { _ in alphabet[Int(random.next() % UInt64(alphabet.count))] })
            #expect(NginxDirectiveCheck.asciiVariables(in: Array(text.utf8)) == NginxDirectiveCheck.characterVariables(in: text), "\(text.debugDescription)")
        }
    }

    @Test("variables known by their bytes: the String decision for the lowercased name, asked once per name")
    func variableMemoAgreesWithStrings() {
        var random = SplitMix(state: 0xC0FFEE)
        let alphabet = Array("aAbBzZ_09".utf8)
        var memo = NginxDirectiveCheck.VariableMemo()
        var asked: [String: Int] = [:]
        func verdict(_ name: String) -> Bool { name.utf8.reduce(0) { $0 &+ Int($1) } % 3 != 0 }
        func decide(_ name: String) -> Bool {
            asked[name, default: 0] += 1
            return verdict(name)
        }
        for _ in 0..<3_000 {
            let bytes = (0..<(1 + Int(random.next() % 6))).map { _ in alphabet[Int(random.next() % UInt64(alphabet.count))] }
            let name = String(decoding: bytes, as: UTF8.self)
            let known = bytes.withUnsafeBufferPointer { memo.isKnown($0, deciding: decide) }
            #expect(known == verdict(name.lowercased()), "\(name)")
        }
        #expect(asked.count > 300) // the table grew several times
        #expect(asked.values.allSatisfy { $0 == 1 })
        #expect(asked.keys.allSatisfy { $0 == $0.lowercased() })
    }

    @Test("listen parameters: read on the bytes as on the Strings, unknown and non-ASCII ones refused")
    func listenParametersOnBytes() throws {
        let directory = try NginxFixture(name: "listen-parameters", files: ["nginx.conf": """
            events {}
            http {
                server { listen 80 default_server reuseport backlog=511 ipv6only=on; }
                server { listen 81 ssl bogus http2; }
                server { listen 82 backlog; }
                server { listen 83 rcvbuf=8k sndbuf; }
                server { listen 84 sslé; }
                server { listen 85 ssl=; }
                server { listen 86 default_serveR; }
            }
            """]).write()
        let result = NginxTestTools.load(directory)
        let refusals = result.findings.map(\.message).filter { $0.contains("invalid parameter") }.sorted()
        #expect(refusals == ["nginx: invalid parameter \"backlog\": nginx refuses to start",
                             "nginx: invalid parameter \"bogus\": nginx refuses to start",
                             "nginx: invalid parameter \"default_serveR\": nginx refuses to start",
                             "nginx: invalid parameter \"sndbuf\": nginx refuses to start",
                             "nginx: invalid parameter \"ssl=\": nginx refuses to start",
                             "nginx: invalid parameter \"sslé\": nginx refuses to start"])
    }

    @Test("the table describes Debian's nginx") func tableIsLoaded() {
        #expect(NginxDirectiveCheck.table.count > 300)
        #expect(NginxDirectiveCheck.table["proxy_pass"]?.first?.contexts.contains("location") == true)
        #expect(NginxDirectiveCheck.table["server"]?.count == 2)
    }

    @Test("generated configurations: refused by nginx -t exactly where the audit refuses them",
          .oracle("nginx -t", unavailable: Oracle.missing(programs: ["nginx"])))
    func generatedConfigurationsAgreeWithNginx() throws {
        let cases = Self.cases()
        #expect(cases.count == ReadmeFigures.value("nginx-directive-configs"))
        let scratch = try TestTools.temporaryDirectory("nginx-table")
        defer { try? FileManager.default.removeItem(at: scratch) }
        let (judged, found) = GeneratedCases.judge(cases, scratch: scratch) { testCase, directory in
            let main = directory.appendingPathComponent("nginx.conf")
            guard (try? Data(testCase.text.utf8).write(to: main)) != nil,
                  let verdict = try? NginxTestTools.nginxTest(main.path, prefix: directory.path) else { return nil }
            let firstLine = verdict.output.split(separator: "\n").first { $0.contains("[emerg]") }.map(String.init) ?? ""
            let shapeError = !verdict.accepted && Self.structural.contains { firstLine.contains($0) }
            // Only the shape is compared: a zone or log format the generated text names but
            // never defines is another refusal, which nginx reports after the values it checks.
            let ours = NginxTestTools.load(directory).findings.filter { finding in
                finding.ruleId == "input.parse-error" && Self.structural.contains { finding.message.contains($0) }
            }
            if shapeError {
                return ours.first?.location?.line == verdict.line ? ""
                    : "\(testCase.label): nginx: \(firstLine); ours: \(ours.map { "\($0.location?.line ?? 0) \($0.message)" })"
            }
            return ours.isEmpty ? "" : "\(testCase.label): nginx \(verdict.accepted ? "accepts" : "refuses a value only: \(firstLine)"); ours: \(ours.map(\.message))"
        }
        #expect(judged == cases.count)
        #expect(found.isEmpty, "\(found.count) of \(cases.count) disagree:\n\(found.prefix(40).joined(separator: "\n"))")
    }
}
