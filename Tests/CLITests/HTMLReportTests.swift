import Foundation
import Testing
import TestSupport

/// The real headless Chromium (Debian's `chromium`) as the judge of the HTML report: the DOM it
/// builds (`--dump-dom`), and screenshots at a desktop and a phone width.
enum Chromium {
    static var unavailable: String? { Oracle.missing(programs: ["chromium"]) }

    static func run(_ arguments: [String], profile: URL) throws -> ProcessResult {
        // As root Chromium refuses to start without --no-sandbox; a profile of its own keeps runs apart.
        var base = ["--headless=new", "--disable-gpu", "--no-first-run", "--no-default-browser-check",
                    "--user-data-dir=" + profile.path]
        if TestTools.isRoot { base.append("--no-sandbox") }
        // A clean environment (the test runner's, the Swift toolchain's library path among it, is
        // not the browser's business), and standard output into a file, not a pipe.
        try FileManager.default.createDirectory(at: profile, withIntermediateDirectories: true)
        let out = profile.appendingPathComponent("stdout"), err = profile.appendingPathComponent("stderr")
        let environment = ["HOME": profile.path, "LANG": "C.UTF-8", "PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin",
                           "OUT": out.path, "ERR": err.path]
        var result = try TestTools.run("/bin/sh", ["-c", "exec \"$0\" \"$@\" >\"$OUT\" 2>\"$ERR\" </dev/null", TestTools.locate("chromium") ?? "chromium"] + base + arguments,
                                       environment: environment, timeout: 120)
        result.stdout = (try? String(contentsOf: out, encoding: .utf8)) ?? ""
        result.stderr += (try? String(contentsOf: err, encoding: .utf8)) ?? ""
        return result
    }

    /// The DOM after loading the page. (With `--blink-settings=scriptEnabled=false`, Chromium 156's
    /// headless mode prints no DOM and takes no screenshot at all: it needs script for both. The
    /// page's own Content-Security-Policy, `default-src 'none'`, turns page script off instead.)
    static func dom(_ page: URL, profile: URL) throws -> String {
        let result = try run(["--dump-dom", page.absoluteString], profile: profile)
        guard result.status == 0, result.stdout.contains("<html") else {
            throw HTMLCheckFailure(description: "chromium --dump-dom failed (\(result.status)), \(result.stdout.utf8.count) bytes for \(page.absoluteString): " + Chromium.meaningful(result.stderr))
        }
        return result.stdout
    }

    /// Chromium's standard error without the complaints about a missing D-Bus (none runs here).
    static func meaningful(_ stderr: String) -> String {
        String(stderr.split(separator: "\n").filter { !$0.contains("dbus") && !$0.contains("D-Bus") }.joined(separator: "\n").suffix(3000))
    }

    /// A PNG screenshot `width` pixels wide; returns the PNG's own width and height.
    static func screenshot(_ page: URL, width: Int, to png: URL, profile: URL) throws -> (width: Int, height: Int) {
        let result = try run(["--hide-scrollbars", "--window-size=\(width),2000",
                              "--screenshot=" + png.path, page.absoluteString], profile: profile)
        guard result.status == 0, let data = try? Data(contentsOf: png), data.count > 24,
              data.prefix(8) == Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) else {
            throw HTMLCheckFailure(description: "chromium --screenshot failed (\(result.status)): " + meaningful(result.stderr))
        }
        func be32(_ offset: Int) -> Int { data[offset..<offset + 4].reduce(0) { $0 << 8 | Int($1) } }
        return (be32(16), be32(20))
    }
}

struct HTMLCheckFailure: Error, CustomStringConvertible {
    var description: String
}

/// What the tests read from a DOM, extracted by Python's html5lib (the HTML5 parsing algorithm).
struct ParsedPage: Decodable {
    struct Piece: Decodable { var outcome: String; var rule: String?; var finding: String? }
    struct Cell: Decodable { var family: String; var range: String; var ports: String; var declared: Int; var pieces: [Piece] }
    struct Verdict: Decodable { var hosts: [String]; var status: String; var badge: String; var links: [String] }
    struct FindingEntry: Decodable { var id: String; var severity: String; var rule: String }
    var ids: [String]
    var hrefs: [String]
    var external: [String]
    var forbidden: [String]
    var cells: [Cell]
    var verdicts: [Verdict]
    var findings: [FindingEntry]
    var text: String

    static let script = #"""
    import json, sys, html5lib
    strict = sys.argv[2] == "strict"
    data = open(sys.argv[1], "rb").read()
    parser = html5lib.HTMLParser(tree=html5lib.getTreeBuilder("etree"), strict=strict, namespaceHTMLElements=False)
    try:
        root = parser.parse(data)
    except html5lib.html5parser.ParseError as error:
        print("PARSE ERROR: %s (errors so far: %r)" % (error, parser.errors), file=sys.stderr)
        sys.exit(3)
    def tag(element):
        name = element.tag if isinstance(element.tag, str) else ""
        return name.split("}")[-1]
    def classes(element):
        return (element.get("class") or "").split()
    def text(element):
        return "".join(element.itertext())
    out = {"ids": [], "hrefs": [], "external": [], "forbidden": [], "cells": [], "verdicts": [], "findings": []}
    for element in root.iter():
        name = tag(element)
        if name in ("script", "link", "img", "iframe", "object", "embed", "base", "form", "image", "use", "foreignObject", "audio", "video", "source"):
            out["forbidden"].append(name)
        for key, value in element.attrib.items():
            attribute = key.split("}")[-1]
            if attribute.lower().startswith("on"):
                out["forbidden"].append("%s@%s" % (name, attribute))
            if attribute == "id":
                out["ids"].append(value)
            if attribute in ("href", "src", "action", "srcset", "poster", "data"):
                if attribute == "href":
                    out["hrefs"].append(value)
                if not value.startswith("#"):
                    out["external"].append("%s@%s=%s" % (name, attribute, value))
            if attribute == "style":
                out["forbidden"].append("%s@style" % name)
    for svg in root.iter():
        if tag(svg) != "svg" or "matrix" not in classes(svg):
            continue
        for cell in svg.iter():
            if tag(cell) != "g" or "cell" not in classes(cell):
                continue
            pieces = []
            for piece in cell.iter():
                if tag(piece) != "g" or "piece" not in classes(piece):
                    continue
                entry = {"outcome": piece.get("data-outcome"), "rule": None, "finding": None}
                for link in piece.iter():
                    if tag(link) == "a" and "to-rule" in classes(link):
                        entry["rule"] = link.get("href")
                    if tag(link) == "a" and "to-finding" in classes(link):
                        entry["finding"] = link.get("href")
                pieces.append(entry)
            out["cells"].append({"family": svg.get("data-family"), "range": cell.get("data-range"),
                                 "ports": cell.get("data-ports"), "declared": int(cell.get("data-pieces")), "pieces": pieces})
    for article in root.iter():
        if tag(article) != "article":
            continue
        if "verdict" in classes(article):
            status = [c[2:] for c in classes(article) if c.startswith("v-")][0]
            hosts = [text(e) for e in article.iter() if "host" in classes(e)]
            badge = [text(e) for e in article.iter() if "badge" in classes(e)][0]
            links = [e.get("href") for e in article.iter() if tag(e) == "a"]
            out["verdicts"].append({"hosts": hosts, "status": status, "badge": badge, "links": links})
        if "finding" in classes(article):
            severity = [c[4:] for c in classes(article) if c.startswith("sev-")][0]
            rule = [text(e) for e in article.iter() if "rule" in classes(e)][0]
            out["findings"].append({"id": article.get("id"), "severity": severity, "rule": rule})
    body = [e for e in root.iter() if tag(e) == "body"][0]
    out["text"] = text(body)
    print(json.dumps(out))
    """#

    /// Parses HTML with html5lib; `strict`: the first parse error of the HTML5 algorithm fails.
    static func parse(_ html: String, strict: Bool) throws -> ParsedPage {
        let directory = try TestTools.temporaryDirectory("html-parse")
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("page.html")
        try html.write(to: file, atomically: true, encoding: .utf8)
        let result = try TestTools.run("python3", ["-c", script, file.path, strict ? "strict" : "lenient"], timeout: 120)
        guard result.status == 0 else { throw HTMLCheckFailure(description: "html5lib: \(result.stderr)") }
        return try JSONDecoder().decode(ParsedPage.self, from: Data(result.stdout.utf8))
    }

    static var html5libMissing: String? {
        if let missing = Oracle.missing(programs: ["python3"]) { return missing }
        let result = try? TestTools.run("python3", ["-c", "import html5lib"], timeout: 60)
        return result?.status == 0 ? nil : "python3's html5lib is not installed"
    }
}

@Suite(.serialized, .oracle("headless chromium and html5lib", unavailable: Chromium.unavailable ?? ParsedPage.html5libMissing))
struct HTMLReportTests {
    /// Renders a report with the binary, checks it with html5lib (strict) and Chromium's DOM, and
    /// takes the two screenshots. Returns Chromium's DOM as html5lib reads it.
    func render(_ arguments: [String], in directory: String = TestTools.packageRoot.path, name: String,
                expectedStatus: Int32 = 1) throws -> (page: ParsedPage, html: String) {
        let work = try TestTools.temporaryDirectory("html-\(name)")
        defer { try? FileManager.default.removeItem(at: work) }
        let output = work.appendingPathComponent("\(name).html")
        let result = try Binary.run(arguments + ["--format", "html", "--output", output.path], in: directory)
        #expect(result.status == expectedStatus, "\(name): \(result.stderr)")
        let html = try String(contentsOf: output, encoding: .utf8)
        #expect(html.utf8.count < 300_000, "\(name): a typical origin's page stays small (\(html.utf8.count) bytes)")
        // Well-formed by the HTML5 parsing algorithm: html5lib in strict mode stops at the first error.
        let strict = try ParsedPage.parse(html, strict: true)
        #expect(strict.forbidden.isEmpty, "\(name): no script, external element, event handler or style attribute: \(strict.forbidden)")
        #expect(strict.external.isEmpty, "\(name): every link is a fragment link: \(strict.external)")
        let profile = work.appendingPathComponent("chromium-profile")
        let dom = try Chromium.dom(output, profile: profile)
        let page = try ParsedPage.parse(dom, strict: false)
        // Every fragment link resolves to an element of the page.
        let ids = Set(page.ids)
        #expect(page.ids.count == ids.count, "\(name): ids are unique")
        for href in Set(page.hrefs) {
            #expect(href.hasPrefix("#") && ids.contains(String(href.dropFirst())), "\(name): \(href) points nowhere")
        }
        // Readable with JavaScript off: there is no script, and the page's policy forbids any.
        #expect(page.forbidden.isEmpty && page.external.isEmpty)
        #expect(html.contains("<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">"))
        for width in [1280, 390] {
            let png = work.appendingPathComponent("\(name)-\(width).png")
            let size = try Chromium.screenshot(output, width: width, to: png, profile: profile)
            #expect(size.width == width && size.height == 2000, "\(name): screenshot \(size)")
            #expect(try Data(contentsOf: png).count > 10_000, "\(name): a \(width) px screenshot with content")
        }
        if name == "example" {
            // Printable: Chromium prints it (with the print stylesheet) to a PDF of a few pages.
            let pdf = work.appendingPathComponent("\(name).pdf")
            let printed = try Chromium.run(["--no-pdf-header-footer", "--print-to-pdf=" + pdf.path, output.absoluteString], profile: profile)
            let bytes = try Data(contentsOf: pdf)
            let text = String(decoding: bytes, as: UTF8.self)
            // The page tree's root counts every page: the largest /Count.
            let pages = text.components(separatedBy: "/Count ").dropFirst().compactMap { Int($0.prefix { $0.isNumber }) }.max() ?? 0
            #expect(printed.status == 0 && bytes.starts(with: Data("%PDF".utf8)), "\(Chromium.meaningful(printed.stderr))")
            #expect(pages >= 2, "a printed PDF with pages (\(bytes.count) bytes)")
        }
        return (page, html)
    }

    /// The matrix the firewall command computes (JSON), as (family, range, ports) → piece outcomes.
    func matrixCells(_ arguments: [String], in directory: String = TestTools.packageRoot.path) throws -> [String: [String]] {
        let json = try Binary.run(["firewall", "--format", "json"] + arguments, in: directory)
        let root = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        var cells: [String: [String]] = [:]
        for cell in try #require(root["cells"] as? [[String: Any]]) {
            let family = cell["family"] as? String == "ipv6" ? "IPv6" : "IPv4"
            let pieces = (cell["pieces"] as? [[String: Any]] ?? []).map { piece in
                let outcome = piece["outcome"] as? String ?? ""
                let kind = String(outcome.prefix { $0 != " " })
                return kind == "rate-limited" ? "limited" : kind
            }
            cells["\(family) \(cell["range"] as? String ?? "") \(cell["ports"] as? String ?? "")"] = pieces
        }
        return cells
    }

    func domCells(_ page: ParsedPage) -> [String: [String]] {
        Dictionary(uniqueKeysWithValues: page.cells.map { ("\($0.family) \($0.range) \($0.ports)", $0.pieces.map(\.outcome)) })
    }

    @Test func theBundledExample() throws {
        let (page, html) = try render(["scan", Binary.example], name: "example")
        #expect(html.utf8.count < 100_000, "the README says the example's page is under 100 KB")
        // The grid: every CDN range × every port the firewall command reports, piece for piece.
        let expected = try matrixCells([Binary.example])
        #expect(!expected.isEmpty)
        #expect(domCells(page) == expected)
        #expect(page.cells.count == 15 * 2, "15 Cloudflare IPv4 ranges × tcp/80 and tcp/443 (the example has no IPv6 ruleset)")
        for cell in page.cells {
            #expect(cell.declared == cell.pieces.count)
            for piece in cell.pieces {
                #expect(piece.rule?.hasPrefix("#rule-") == true, "each piece links to its deciding rule")
                // A piece the CDN cannot pass links to the finding that reports it, of the right rule.
                if piece.outcome == "drop" {
                    let target = try #require(piece.finding.flatMap { href in page.findings.first { "#" + $0.id == href } })
                    #expect(target.rule == "firewall.cdn-dropped")
                }
                if piece.outcome == "accept" { #expect(piece.finding == nil) }
            }
        }
        #expect(page.cells.filter { $0.pieces.contains { $0.outcome == "drop" } }.count > 0)
        // The findings: the same ones as the JSON report, by severity.
        let json = try Binary.run(["scan", "--format", "json", Binary.example])
        let root = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        let findings = try #require(root["findings"] as? [[String: Any]])
        #expect(page.findings.map(\.rule) == Self.severityOrder(findings))
        // The verdict: both names fail with the 522 of the dropped ranges, linked to its finding.
        #expect(Set(page.verdicts.flatMap(\.hosts)) == ["example.test", "www.example.test"])
        for verdict in page.verdicts {
            #expect(verdict.status == "fails")
            #expect(verdict.badge.contains("522"))
            let dropped = page.findings.filter { $0.rule == "firewall.cdn-dropped" }.map { "#" + $0.id }
            #expect(verdict.links.contains { dropped.contains($0) })
        }
        #expect(page.text.contains("Visitors will see:") && page.text.contains("Fix:"))
    }

    /// Findings in the order the text report groups them: errors, warnings, info; report order within.
    static func severityOrder(_ findings: [[String: Any]]) -> [String] {
        ["error", "warning", "info"].flatMap { severity in
            findings.filter { $0["severity"] as? String == severity }.compactMap { $0["ruleId"] as? String }
        }
    }

    /// A firewall that drops, rejects, rate-limits and cannot be decided (a set not given): every
    /// letter of the legend, and both the scan page and the firewall command's page.
    @Test func aDroppingFirewall() throws {
        let directory = try TestTools.temporaryDirectory("html-firewall")
        defer { try? FileManager.default.removeItem(at: directory) }
        let rules = """
        *filter
        :INPUT DROP [0:0]
        :FORWARD DROP [0:0]
        :OUTPUT ACCEPT [0:0]
        -A INPUT -i lo -j ACCEPT
        -A INPUT -s 173.245.48.0/20 -p tcp -m tcp --dport 443 -j REJECT --reject-with tcp-reset
        -A INPUT -s 103.21.244.0/22 -p tcp -m tcp --dport 443 -m limit --limit 10/sec -j ACCEPT
        -A INPUT -s 103.22.200.0/22 -p tcp -m set --match-set edge-extra src -j ACCEPT
        -A INPUT -s 104.16.0.0/13 -p tcp -m multiport --dports 80,443 -j ACCEPT
        -A INPUT -s 172.64.0.0/13 -p tcp -m multiport --dports 80,443 -j ACCEPT
        COMMIT

        """
        try rules.write(to: directory.appendingPathComponent("rules.v4"), atomically: true, encoding: .utf8)
        let arguments = ["--iptables", directory.appendingPathComponent("rules.v4").path, "--tls-mode", "full"]
        let (page, _) = try render(["scan"] + arguments, name: "dropping")
        #expect(domCells(page) == (try matrixCells(arguments)))
        let outcomes = Set(page.cells.flatMap { $0.pieces.map(\.outcome) })
        #expect(outcomes == ["accept", "drop", "reject", "limited", "unknown"])
        let rejected = try #require(page.cells.first { $0.range == "173.245.48.0/20" && $0.ports == "443" })
        #expect(rejected.pieces.map(\.outcome) == ["reject"])
        let reject = try #require(rejected.pieces.first?.finding.flatMap { href in page.findings.first { "#" + $0.id == href } })
        #expect(reject.rule == "firewall.cdn-rejected")
        // No web server was given: the verdict says so instead of claiming the site works.
        let verdict = try #require(page.verdicts.first)
        #expect(page.verdicts.count == 1 && verdict.hosts.count == 1 && verdict.hosts[0].contains("every hostname"))
        #expect(verdict.status == "fails" && verdict.badge.contains("522") && verdict.badge.contains("521"))
        #expect(page.text.contains("no web-server configuration was given"))

        // `firewall --format html`: the same grid, linked to the firewall's findings, no verdict.
        let (firewallPage, _) = try render(["firewall"] + arguments, name: "firewall-command")
        #expect(domCells(firewallPage) == domCells(page))
        #expect(firewallPage.verdicts.isEmpty)
        #expect(firewallPage.findings.allSatisfy { $0.rule.hasPrefix("firewall.") } && !firewallPage.findings.isEmpty)
    }

    /// Strict mode with an expired certificate: 526 for both names, from the scenario's own files.
    @Test func aStrictModeCertificateFailure() throws {
        let scenario = TestTools.packageRoot.appendingPathComponent("Tests/AuditRulesTests/Scenarios/expired-cert-strict")
        let copy = try TestTools.temporaryDirectory("html-strict")
        defer { try? FileManager.default.removeItem(at: copy) }
        let target = copy.appendingPathComponent("expired-cert-strict")
        try FileManager.default.copyItem(at: scenario, to: target)
        var environment = ProcessInfo.processInfo.environment
        environment["ORIGINAUDIT_REPO"] = TestTools.packageRoot.path
        let setup = try TestTools.run("/bin/bash", ["setup.sh"], environment: environment, currentDirectory: target.path, timeout: 120)
        #expect(setup.status == 0, "\(setup.stderr)")
        let (page, _) = try render(["scan", ".", "--root", "."], in: target.path, name: "strict")
        #expect(Set(page.verdicts.flatMap(\.hosts)) == ["www.example.test", "example.test"])
        let expired = page.findings.filter { $0.rule == "tls.cert-expired" }.map { "#" + $0.id }
        #expect(expired.count == 1)
        for verdict in page.verdicts {
            #expect(verdict.status == "fails" && verdict.badge.contains("526"), "\(verdict)")
            #expect(verdict.links.contains { expired.contains($0) })
        }
        #expect(page.text.contains("TLS mode strict"))
    }

    /// Text from inputs is text: a server_name that is a script tag, an include path that is an
    /// image with an event handler, quotes and ampersands — none becomes markup.
    @Test func inputsAreEscaped() throws {
        let directory = try TestTools.temporaryDirectory("html-escape")
        defer { try? FileManager.default.removeItem(at: directory) }
        let nginx = directory.appendingPathComponent("etc/nginx")
        try FileManager.default.createDirectory(at: nginx, withIntermediateDirectories: true)
        let config = """
        events {}
        http {
            include "/etc/nginx/<img src=x onerror=alert(2)>.conf";
            server {
                listen 80;
                server_name <script>alert(1)</script> "a\\"b'c&amp;d.example.test";
                return 301 https://$host$request_uri;
            }
        }

        """
        try config.write(to: nginx.appendingPathComponent("nginx.conf"), atomically: true, encoding: .utf8)
        let (page, html) = try render(["scan", directory.path, "--root", directory.path, "--tls-mode", "flexible"], name: "escape")
        #expect(!html.contains("<script>") && !html.contains("<img"))
        #expect(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"))
        // In the browser's DOM: the name is the text of a hostname, and no element came from it.
        #expect(page.verdicts.flatMap(\.hosts).contains("<script>alert(1)</script>"))
        #expect(page.verdicts.flatMap(\.hosts).contains("a\"b'c&amp;d.example.test"))
        #expect(page.text.contains("<img src=x onerror=alert(2)>.conf"))
        #expect(page.findings.contains { $0.rule == "input.include-missing" })
    }

    /// A certificate that covers one of a host's two names: the mismatch is the other name's
    /// failure only, decided from the certificate (a message naming a file after the covered name
    /// once made an expired certificate count for that name alone).
    @Test func aNameMismatchCountsOnlyForTheNamesLeftOut() throws {
        let directory = try TestTools.temporaryDirectory("html-names")
        defer { try? FileManager.default.removeItem(at: directory) }
        let ssl = directory.appendingPathComponent("etc/nginx/ssl")
        try FileManager.default.createDirectory(at: ssl, withIntermediateDirectories: true)
        let made = try TestTools.run("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "90",
                                                 "-keyout", ssl.appendingPathComponent("www.example.test.key").path,
                                                 "-out", ssl.appendingPathComponent("www.example.test.pem").path,
                                                 "-subj", "/CN=www.example.test", "-addext", "subjectAltName=DNS:www.example.test"])
        #expect(made.status == 0, "\(made.stderr)")
        try """
        events {}
        http {
            server {
                listen 443 ssl;
                server_name www.example.test api.example.test;
                ssl_certificate ssl/www.example.test.pem;
                ssl_certificate_key ssl/www.example.test.key;
            }
        }

        """.write(to: directory.appendingPathComponent("etc/nginx/nginx.conf"), atomically: true, encoding: .utf8)
        let output = directory.appendingPathComponent("report.html")
        let result = try Binary.run(["scan", directory.path, "--root", directory.path, "--tls-mode", "strict", "--format", "html", "--output", output.path])
        #expect(result.status == 1, "\(result.stderr)")
        let page = try ParsedPage.parse(try String(contentsOf: output, encoding: .utf8), strict: true)
        let mismatch = page.findings.filter { $0.rule == "tls.hostname-mismatch" }.map { "#" + $0.id }
        let selfSigned = page.findings.filter { $0.rule == "tls.self-signed" }.map { "#" + $0.id }
        #expect(mismatch.count == 1 && selfSigned.count == 1)
        let www = try #require(page.verdicts.first { $0.hosts.contains("www.example.test") })
        let api = try #require(page.verdicts.first { $0.hosts.contains("api.example.test") })
        #expect(www.hosts == ["www.example.test"] && api.hosts == ["api.example.test"])
        #expect(www.status == "fails" && api.status == "fails")
        #expect(!www.links.contains { mismatch.contains($0) } && www.links.contains { selfSigned.contains($0) })
        #expect(api.links.contains { mismatch.contains($0) } && api.links.contains { selfSigned.contains($0) })
    }
}
