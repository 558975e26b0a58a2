import Foundation
import OriginAuditCore
import Testing
import TestSupport
@testable import WebServer

/// The Apache directive table against the real httpd: configurations generated from it — every
/// directive in one of its contexts and out of them, with too few and too many arguments, a flag
/// with a value that is not On or Off, its module not loaded — must be refused by `apache2 -t`
/// exactly where the audit refuses them, at the same line.
@Suite("Apache directive table")
struct ApacheDirectiveTableTests {
    typealias Context = ApacheDirectiveCheck.Context

    /// Where a directive is placed: text before and after its line (the generator's contexts).
    static let contexts: [Context: (before: String, after: String)] = [
        .server: ("", ""),
        .virtualhost: ("<VirtualHost *:80>\n", "</VirtualHost>\n"),
        .directory: ("<Directory /srv>\n", "</Directory>\n"),
        .location: ("<Location /x>\n", "</Location>\n"),
        .files: ("<Files x>\n", "</Files>\n"),
        .limit: ("<Directory /srv>\n<Limit GET>\n", "</Limit>\n</Directory>\n"),
        .if: ("<If \"true\">\n", "</If>\n"),
    ]

    /// Whether httpd's message is about a directive's name, place or number of arguments, as
    /// opposed to its values: the count messages are httpd's own (`invoke_cmd`), which start with
    /// the directive's name ("ServerName takes one argument", not a handler's "value must be On or Off").
    static func structural(_ message: String, name: String) -> Bool {
        if ["Invalid command", "not allowed", "cannot occur within", "only used in <"].contains(where: { message.contains($0) }) { return true }
        let counts = /(takes (no|one|two|three|1-2|one or three|one, two or three|two or three) argument|requires at least (one|two) argument|must be On or Off|directive requires additional arguments)/
        return message.lowercased().hasPrefix(name.lowercased()) && message.contains(counts)
    }

    struct Case: Sendable {
        var label: String
        /// The directive judged (as httpd names it in its messages).
        var name: String
        /// Modules to load besides the MPM (with what they depend on).
        var modules: [String]
        var mpm: String
        var body: String
    }

    static func statement(_ shape: ApacheDirectiveCheck.Shape, _ count: Int, value: String) -> String {
        let arguments = String(repeating: " " + value, count: count)
        if shape.name.hasPrefix("<") { return "\(shape.name)\(arguments)>\n</\(shape.name.dropFirst())>" }
        return shape.name + arguments
    }

    static func placed(_ text: String, in context: Context) -> String {
        contexts[context]!.before + text + "\n" + contexts[context]!.after
    }

    /// The generated cases, in table order.
    static func cases() -> [Case] {
        var cases: [Case] = []
        for key in ApacheDirectiveCheck.table.directives.keys.sorted() {
            let shape = ApacheDirectiveCheck.table.directives[key]!
            let mpm = shape.modules.first { $0.hasPrefix("mpm_") }.map { String($0.dropLast(7)) } ?? "mpm_event"
            let modules = shape.modules.contains("core") || shape.modules[0].hasPrefix("mpm_") ? [] : [shape.modules[0]]
            let value = shape.counts == nil ? "On" : "x"
            let lowest = shape.counts?.map(\.lowerBound).min() ?? 1
            let highest = shape.counts?.map(\.upperBound).max() ?? Int.max
            let usual = shape.counts.map { counts in counts.contains { $0.contains(1) } ? 1 : lowest } ?? 1
            guard let home = Context.allCases.first(where: { shape.allowed.contains($0) }) else { continue }
            func add(_ label: String, _ text: String, in context: Context, modules: [String] = modules) {
                cases.append(Case(label: "\(shape.name) \(label)", name: shape.name, modules: modules, mpm: mpm, body: placed(text, in: context)))
            }
            add("in \(home)", statement(shape, usual, value: value), in: home)
            if let outside = Context.allCases.first(where: { !shape.allowed.contains($0) && !shape.neverWithin.contains($0) }) {
                add("in \(outside)", statement(shape, usual, value: value), in: outside)
            }
            if let never = Context.allCases.first(where: { shape.neverWithin.contains($0) }) {
                add("within \(never)", statement(shape, usual, value: value), in: never)
            }
            if lowest > 0 { add("with \(lowest - 1) arguments", statement(shape, lowest - 1, value: value), in: home) }
            if highest < 9 { add("with \(highest + 1) arguments", statement(shape, highest + 1, value: value), in: home) }
            if shape.counts == nil { add("with a value that is not On or Off", statement(shape, 1, value: "x"), in: home) }
            if !modules.isEmpty { add("without its module", statement(shape, usual, value: value), in: home, modules: []) }
        }
        let core = ["mpm_event"]
        cases.append(Case(label: "a misspelt directive", name: "ServerNmae", modules: [], mpm: core[0], body: "ServerNmae example.org\n"))
        cases.append(Case(label: "Listen in a <Directory> inside <VirtualHost>", name: "Listen", modules: [], mpm: core[0],
                          body: "<VirtualHost *:80>\n<Directory /srv>\nListen 81\n</Directory>\n</VirtualHost>\n"))
        cases.append(Case(label: "AllowOverride in a <Directory> inside <VirtualHost>", name: "AllowOverride", modules: [], mpm: core[0],
                          body: "<VirtualHost *:80>\n<Directory /srv>\nAllowOverride None\n</Directory>\n</VirtualHost>\n"))
        cases.append(Case(label: "Alias in a <Location> inside <VirtualHost>", name: "Alias", modules: ["alias_module"], mpm: core[0],
                          body: "<VirtualHost *:80>\n<Location /a>\nAlias /x\n</Location>\n</VirtualHost>\n"))
        cases.append(Case(label: "DocumentRoot in a <Limit> inside <Location>", name: "DocumentRoot", modules: [], mpm: core[0],
                          body: "<Location /a>\n<Limit GET>\nDocumentRoot /srv\n</Limit>\n</Location>\n"))
        return cases
    }

    /// Debian's LoadModule lines and dependencies, from /etc/apache2/mods-available.
    static func loadLines(_ module: String, available: [String: (load: String, depends: [String])], seen: inout Set<String>) -> [String] {
        let short = module.hasSuffix("_module") ? String(module.dropLast(7)) : module
        guard let entry = available[short] ?? available.first(where: { $0.value.load.contains(" \(module) ") })?.value,
              seen.insert(short).inserted else { return [] }
        return entry.depends.flatMap { loadLines($0, available: available, seen: &seen) } + [entry.load]
    }

    static func debianModules() -> [String: (load: String, depends: [String])] {
        var result: [String: (load: String, depends: [String])] = [:]
        let directory = "/etc/apache2/mods-available"
        for file in (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [] where file.hasSuffix(".load") {
            guard let text = try? String(contentsOfFile: directory + "/" + file, encoding: .utf8) else { continue }
            var depends: [String] = []
            var load = ""
            for line in text.split(separator: "\n") {
                if let match = line.firstMatch(of: /#\s*Depends:\s*(.*)/) { depends += match.output.1.split(separator: " ").map(String.init) }
                let trimmed = line.trimmingCharacters(in: .whitespaces)
                if trimmed.hasPrefix("LoadModule") { load += (load.isEmpty ? "" : "\n") + trimmed }
            }
            result[String(file.dropLast(5))] = (load, depends)
        }
        return result
    }

    @Test("the table describes Debian's apache2") func tableIsLoaded() {
        let table = ApacheDirectiveCheck.table
        #expect(table.directives.count > 500)
        #expect(table.directives["servername"]?.allowed == [.server, .virtualhost])
        #expect(table.directives["listen"]?.neverWithin.contains(.virtualhost) == true)
        #expect(table.directives["keepalive"]?.counts == nil)
        #expect(table.directives["sslengine"]?.modules == ["ssl_module"])
    }

    @Test("a directive of a module outside the table is a note; a table module's directive without it is httpd's refusal")
    func unknownModules() throws {
        let root = try ApacheFixture.write([:])
        defer { try? FileManager.default.removeItem(at: root) }
        let main = root.appendingPathComponent("httpd.conf")
        try (ApacheFixture.header(root) + "\nLoadModule antiloris_module /nonexistent/mod_antiloris.so\nIPReadLimit 10\nSSLEngine on\n")
            .write(to: main, atomically: true, encoding: .utf8)
        let result = ApacheFixture.load(main)
        #expect(!result.findings.contains { $0.message.contains("IPReadLimit") })
        #expect(result.notes.contains { $0.contains("IPReadLimit") && $0.contains("antiloris_module") })
        #expect(result.findings.contains { $0.message.contains("Invalid command 'SSLEngine'") && $0.location?.line == 8 })
    }

    @Test("generated configurations: refused by apache2 -t exactly where the audit refuses them",
          .oracle("apache2 -t", unavailable: Oracle.missing(programs: ["apache2"], files: ["/etc/apache2/mods-available/ssl.load"])))
    func generatedConfigurationsAgreeWithHttpd() throws {
        let cases = Self.cases()
        #expect(cases.count == ReadmeFigures.value("apache-directive-configs"))
        let available = Self.debianModules()
        let scratch = try TestTools.temporaryDirectory("apache-table")
        defer { try? FileManager.default.removeItem(at: scratch) }
        let (judged, found) = GeneratedCases.judge(cases, scratch: scratch) { testCase, directory in
            var seen = Set<String>()
            let loads = ([testCase.mpm] + testCase.modules).flatMap { Self.loadLines($0, available: available, seen: &seen) }
            let text = """
                ServerRoot \(directory.path)
                DefaultRuntimeDir \(directory.path)
                PidFile \(directory.path)/httpd.pid
                ErrorLog \(directory.path)/error.log
                ServerName localhost
                \(loads.joined(separator: "\n"))
                \(testCase.body)
                """
            let main = directory.appendingPathComponent("httpd.conf")
            let verdict: (file: String, line: Int, message: String)?
            do {
                try text.write(to: main, atomically: true, encoding: .utf8)
                verdict = try ApacheFixture.httpdSyntaxError(main, root: directory)
            } catch { return nil }
            let httpdShape = verdict.map { Self.structural($0.message, name: testCase.name) } ?? false
            let ours = ApacheFixture.load(main).findings.filter { finding in
                finding.ruleId == "input.parse-error" && ApacheDirectiveCheck.findingMarkers.contains { finding.message.contains($0) }
            }.sorted { ($0.location?.line ?? 0) < ($1.location?.line ?? 0) }
            if httpdShape, let verdict {
                return ours.first?.location?.line == verdict.line ? ""
                    : "\(testCase.label): httpd line \(verdict.line): \(verdict.message); ours: \(ours.map { "\($0.location?.line ?? 0) \($0.message)" })"
            }
            return ours.isEmpty ? "" : "\(testCase.label): httpd \(verdict.map { "refuses a value only: \($0.message)" } ?? "accepts"); ours: \(ours.map(\.message))"
        }
        #expect(judged == cases.count)
        #expect(found.isEmpty, "\(found.count) of \(cases.count) disagree:\n\(found.prefix(60).joined(separator: "\n"))")
    }
}
