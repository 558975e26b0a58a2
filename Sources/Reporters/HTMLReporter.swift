import Firewall
import OriginAuditCore

/// One self-contained HTML page to send to colleagues: the verdict per hostname, the firewall's
/// reachability matrix as inline SVG, the findings grouped by severity, and the analysis notes.
/// No script, no external resource (a Content-Security-Policy forbids every fetch), a print
/// stylesheet, and every text that came from an input escaped for HTML (and for the terminal's
/// dangers too: control characters and bidi overrides are shown, never obeyed). The only links are
/// fragment links to the page's own anchors, built from our own indices and fingerprints.
public enum HTMLReporter {
    /// What the page shows. `verdicts` nil: the page is the firewall's alone (`firewall --format
    /// html`), without a verdict per hostname.
    public struct Page: Sendable {
        public var report: AuditReport
        public var matrix: ReachabilityMatrix?
        public var verdicts: [HostVerdict]?
        /// Why there is no matrix, when there is none.
        public var matrixAbsence: String

        public init(report: AuditReport, matrix: ReachabilityMatrix?, verdicts: [HostVerdict]?,
                    matrixAbsence: String = "No firewall ruleset was given: the CDN's reachability was not analysed.") {
            self.report = report
            self.matrix = matrix
            self.verdicts = verdicts
            self.matrixAbsence = matrixAbsence
        }
    }

    public static func render(_ page: Page) -> String {
        let anchors = FindingAnchors(page.report.findings)
        var out = """
        <!DOCTYPE html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
        <title>originaudit report</title>
        <style>\(stylesheet)</style>
        </head>
        <body>

        """
        let report = page.report
        out += "<header>\n<h1>originaudit report</h1>\n"
        out += "<p class=\"profile\">CDN <b>\(escape(report.cdn))</b> · TLS mode <b>\(escape(report.tlsMode.rawValue))</b> · judged at \(escape(Profile.format(report.at))) · originaudit \(escape(report.toolVersion))</p>\n"
        out += "<p class=\"summary\">\(escape(TextReporter.summary(report)))</p>\n"
        out += "<nav>" + (page.verdicts == nil ? "" : "<a href=\"#verdicts\">Verdict</a> ") + "<a href=\"#reachability\">Reachability</a> <a href=\"#findings\">Findings</a> <a href=\"#notes\">Notes</a></nav>\n</header>\n<main>\n"
        if let verdicts = page.verdicts { out += verdictSection(verdicts, report: report, anchors: anchors) }
        out += matrixSection(page, anchors: anchors)
        out += findingSection(report, anchors: anchors)
        out += notesSection(report)
        out += "</main>\n</body>\n</html>\n"
        return out
    }

    // MARK: Verdicts

    static func verdictSection(_ verdicts: [HostVerdict], report: AuditReport, anchors: FindingAnchors) -> String {
        var out = "<section id=\"verdicts\">\n<h2>What the CDN will see</h2>\n"
        out += "<p class=\"lead\">Per proxied hostname, with TLS mode <b>\(escape(report.tlsMode.rawValue))</b>: the failures the findings predict for it. "
            + "“Works” means no finding predicts one and the firewall and web server were both analysed.</p>\n<div class=\"verdicts\">\n"
        // Names with the same verdict for the same reasons share one card.
        var groups: [(verdict: HostVerdict, names: [String])] = []
        for verdict in verdicts {
            var key = verdict
            key.hostname = ""
            let name = verdict.hostname.isEmpty ? "every hostname (the configuration names none)" : verdict.hostname
            if let index = groups.firstIndex(where: { $0.verdict == key }) {
                groups[index].names.append(name)
            } else {
                groups.append((key, [name]))
            }
        }
        for (verdict, names) in groups {
            let status = verdict.status
            let outcomes = unique(verdict.causes.filter { status != .fails || $0.severity == .error }.map(\.predicts))
            var headline: String
            switch status {
            case .works: headline = "works"
            case .fails: headline = outcomes.joined(separator: " · ")
            case .atRisk: headline = "at risk: " + outcomes.joined(separator: " · ")
            case .unknown: headline = "not known"
            }
            out += "<article class=\"verdict v-\(statusClass(status))\">\n<h3>"
            out += names.map { "<span class=\"host\">\(escape($0))</span>" }.joined(separator: " ")
            out += " <span class=\"badge\"><span class=\"mark\">\(statusMark(status))</span> \(escape(headline))</span></h3>\n"
            out += "<p class=\"mode\">TLS mode \(escape(verdict.tlsMode.rawValue))"
            if !verdict.servedAt.isEmpty {
                out += " · virtual host\(verdict.servedAt.count == 1 ? "" : "s") at " + verdict.servedAt.map {
                    "<code title=\"\(escape($0.description))\">\(escape(shortPlace($0)))</code>"
                }.joined(separator: ", ")
            }
            out += "</p>\n"
            if !verdict.causes.isEmpty {
                out += "<ul class=\"causes\">\n"
                for cause in verdict.causes.sorted(by: { ($0.severity, $1.finding) > ($1.severity, $0.finding) }) {
                    let finding = report.findings[cause.finding]
                    let title = report.catalog[finding.ruleId]?.title ?? finding.ruleId
                    out += "<li class=\"sev-\(cause.severity.rawValue)\"><b>\(escape(cause.predicts))</b> \(escape(title))"
                    if cause.originWide { out += " <i>(whole origin)</i>" }
                    out += " " + findingLink(cause.finding, anchors: anchors, report: report) + "</li>\n"
                }
                out += "</ul>\n"
            }
            if !verdict.unknowns.isEmpty || !verdict.uncertainFindings.isEmpty {
                out += "<p class=\"open\">Not known:</p>\n<ul class=\"unknowns\">\n"
                for unknown in verdict.unknowns { out += "<li>\(escape(unknown))</li>\n" }
                for index in verdict.uncertainFindings {
                    let finding = report.findings[index]
                    out += "<li>\(escape(report.catalog[finding.ruleId]?.title ?? finding.ruleId)) " + findingLink(index, anchors: anchors, report: report) + "</li>\n"
                }
                out += "</ul>\n"
            }
            out += "</article>\n"
        }
        if verdicts.isEmpty { out += "<p>No hostname to judge.</p>\n" }
        out += "</div>\n</section>\n"
        return out
    }

    static func statusClass(_ status: HostVerdict.Status) -> String {
        switch status {
        case .works: "works"
        case .fails: "fails"
        case .atRisk: "risk"
        case .unknown: "unknown"
        }
    }

    /// A sign beside the colour, so the verdict reads in grey print and without colour vision.
    static func statusMark(_ status: HostVerdict.Status) -> String {
        switch status {
        case .works: "✓"
        case .fails: "✗"
        case .atRisk: "!"
        case .unknown: "?"
        }
    }

    /// A link to a finding, named by its rule and short place (the full path is in its title).
    static func findingLink(_ index: Int, anchors: FindingAnchors, report: AuditReport) -> String {
        let finding = report.findings[index]
        let place = finding.location.map { " · " + shortPlace($0) } ?? ""
        let full = finding.ruleId + (finding.location.map { " at " + $0.description } ?? "")
        return "<a class=\"to-finding\" href=\"#\(anchors.id(index))\" title=\"\(escape(full))\">\(escape(finding.ruleId + place))</a>"
    }

    // MARK: The reachability matrix

    /// Outcome kinds in the legend's order, each with a letter and a fill pattern so that the
    /// matrix reads without colour.
    static let kinds: [(kind: OutcomeKind, letter: String, label: String)] = [
        (.accept, "A", "accept: the CDN connects"),
        (.drop, "D", "drop: no answer, 522 after the connect timeout"),
        (.reject, "R", "reject: refused, 521"),
        (.rateLimited, "L", "rate-limited: intermittent 521/522"),
        (.unknown, "?", "unknown: depends on what the audit does not model"),
    ]

    static func letter(_ kind: OutcomeKind) -> String { kinds.first { $0.kind == kind }?.letter ?? "?" }

    static func matrixSection(_ page: Page, anchors: FindingAnchors) -> String {
        var out = "<section id=\"reachability\">\n<h2>Firewall reachability</h2>\n"
        guard let matrix = page.matrix else {
            return out + "<p class=\"absent\">\(escape(page.matrixAbsence))</p>\n</section>\n"
        }
        // Every distinct deciding rule gets one anchor, in file and line order.
        var rules = Array(Set(matrix.cells.flatMap { $0.pieces.map(\.decidedBy) }))
        rules.sort { ($0.location, $0.chain, $0.text) < ($1.location, $1.chain, $1.text) }
        let ruleIndex = Dictionary(uniqueKeysWithValues: rules.enumerated().map { ($1, $0) })
        func ruleNumber(_ reference: RuleReference) -> Int { ruleIndex[reference] ?? 0 }
        var ruleOutcomes: [Int: Set<String>] = [:]
        var ruleFindings: [Int: Set<Int>] = [:]
        out += "<p class=\"lead\">Every range of \(escape(matrix.cdn)) × every TCP port it will use: what the origin's firewall does to the CDN's SYN. "
            + "Each cell (or part of a cell, when a range is split) links to the rule that decides it and to its finding.</p>\n"
        out += "<svg class=\"defs\" width=\"0\" height=\"0\" aria-hidden=\"true\">\(patterns)</svg>\n" + legend()
        for family in AddressFamily.allCases {
            let cells = matrix.cells.filter { $0.family == family }
            guard !cells.isEmpty else { continue }
            out += "<h3>\(family == .ipv4 ? "IPv4" : "IPv6")</h3>\n"
            out += svg(cells, family: family, anchors: anchors, findings: page.report.findings, ruleNumber: ruleNumber,
                       record: { rule, outcome, finding in
                           ruleOutcomes[rule, default: []].insert(outcome)
                           if let finding { ruleFindings[rule, default: []].insert(finding) }
                       })
        }
        out += "<h3>Totals</h3>\n<ul class=\"totals\">\n"
        for total in matrix.totals {
            let family = total.family == .ipv4 ? "IPv4" : "IPv6"
            let others = total.byOutcome.filter { $0.key != "accept" }.sorted { $0.key < $1.key }
                .map { "\(letter(OutcomeKind(rawValue: $0.key) ?? .unknown)) \($0.key) \(ReachabilityMatrix.readable($0.value))" }
            out += "<li>tcp/\(escape(total.ports)) \(family): <b>\(escape(ReachabilityMatrix.readable(total.accepted)))</b> of \(escape(ReachabilityMatrix.readable(total.addresses))) CDN addresses reach it"
                + (others.isEmpty ? "" : "; " + escape(others.joined(separator: ", "))) + "</li>\n"
        }
        for family in matrix.unfilteredFamilies {
            out += "<li>No \(family == .ipv4 ? "IPv4" : "IPv6") ruleset was given: that family was not analysed.</li>\n"
        }
        out += "</ul>\n"
        if !rules.isEmpty {
            out += "<h3>Deciding rules</h3>\n<table class=\"rules\">\n<thead><tr><th>Rule</th><th>Chain</th><th>As written</th><th>Decides</th><th>Finding</th></tr></thead>\n<tbody>\n"
            for (index, rule) in rules.enumerated() {
                let findingLinks = (ruleFindings[index] ?? []).sorted().map { findingLink($0, anchors: anchors, report: page.report) }
                out += "<tr id=\"rule-\(index + 1)\"><td><code>\(escape(rule.location.description))</code></td><td>\(escape(rule.chain))</td>"
                    + "<td><code>\(escape(rule.text))</code></td><td>\(escape((ruleOutcomes[index] ?? []).sorted().joined(separator: ", ")))</td>"
                    + "<td>\(findingLinks.isEmpty ? "—" : findingLinks.joined(separator: "<br>"))</td></tr>\n"
            }
            out += "</tbody>\n</table>\n"
        }
        out += "</section>\n"
        return out
    }

    static func legend() -> String {
        var out = "<div class=\"legend\" role=\"list\">\n"
        for entry in kinds {
            out += "<span role=\"listitem\"><svg width=\"26\" height=\"18\" aria-hidden=\"true\"><rect width=\"26\" height=\"18\" class=\"o-\(kindClass(entry.kind))\"/>"
                + "<rect width=\"26\" height=\"18\" fill=\"url(#p-\(kindClass(entry.kind)))\"/><text x=\"13\" y=\"13\" text-anchor=\"middle\" class=\"letter\">\(escape(entry.letter))</text></svg> "
                + "<b>\(escape(entry.letter))</b> \(escape(entry.label))</span>\n"
        }
        return out + "</div>\n"
    }

    static func kindClass(_ kind: OutcomeKind) -> String {
        switch kind {
        case .accept: "accept"
        case .drop: "drop"
        case .reject: "reject"
        case .rateLimited: "limited"
        case .unknown: "unknown"
        }
    }

    static let patterns = """
    <defs>
    <pattern id="p-drop" width="8" height="8" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><line x1="0" y1="0" x2="0" y2="8" stroke="#7a1010" stroke-width="2" stroke-opacity="0.35"/></pattern>
    <pattern id="p-reject" width="8" height="8" patternUnits="userSpaceOnUse"><path d="M0 0L8 8M8 0L0 8" stroke="#7a3a00" stroke-width="1.2" stroke-opacity="0.35"/></pattern>
    <pattern id="p-limited" width="6" height="6" patternUnits="userSpaceOnUse"><line x1="0" y1="3" x2="6" y2="3" stroke="#6b5800" stroke-width="1.5" stroke-opacity="0.35"/></pattern>
    <pattern id="p-unknown" width="6" height="6" patternUnits="userSpaceOnUse"><circle cx="3" cy="3" r="1.2" fill="#333" fill-opacity="0.35"/></pattern>
    <pattern id="p-accept" width="6" height="6" patternUnits="userSpaceOnUse"></pattern>
    </defs>
    """

    /// The matrix of one family: rows are the CDN's ranges, columns the port groups.
    static func svg(_ cells: [ReachabilityMatrix.Cell], family: AddressFamily, anchors: FindingAnchors, findings: [Finding],
                    ruleNumber: (RuleReference) -> Int, record: (Int, String, Int?) -> Void) -> String {
        var ranges: [String] = []
        var columns: [String] = []
        for cell in cells {
            if !ranges.contains(cell.range) { ranges.append(cell.range) }
            if !columns.contains(cell.ports) { columns.append(cell.ports) }
        }
        let labelWidth = max(120, (ranges.map(\.count).max() ?? 0) * 8 + 16)
        let cellWidth = 170, rowHeight = 24, headerHeight = 26
        let width = labelWidth + columns.count * cellWidth + 2
        let height = headerHeight + ranges.count * rowHeight + 2
        let label = family == .ipv4 ? "IPv4" : "IPv6"
        var out = "<div class=\"matrix-scroll\"><svg class=\"matrix\" data-family=\"\(label)\" role=\"img\" aria-label=\"\(label) reachability: \(ranges.count) CDN ranges by \(columns.count) port groups\" "
            + "viewBox=\"0 0 \(width) \(height)\" width=\"\(width)\" height=\"\(height)\" xmlns=\"http://www.w3.org/2000/svg\">\n"
        out += "<text x=\"4\" y=\"17\" class=\"head\">CDN range</text>\n"
        for (column, ports) in columns.enumerated() {
            out += "<text x=\"\(labelWidth + column * cellWidth + cellWidth / 2)\" y=\"17\" text-anchor=\"middle\" class=\"head\">tcp/\(escape(ports))</text>\n"
        }
        for (row, range) in ranges.enumerated() {
            let y = headerHeight + row * rowHeight
            out += "<text x=\"4\" y=\"\(y + 16)\" class=\"range\">\(escape(range))</text>\n"
            for (column, ports) in columns.enumerated() {
                guard let cell = cells.first(where: { $0.range == range && $0.ports == ports }) else { continue }
                let x = labelWidth + column * cellWidth
                out += "<g class=\"cell\" data-range=\"\(escape(range))\" data-ports=\"\(escape(ports))\" data-pieces=\"\(cell.pieces.count)\">\n"
                let count = max(1, cell.pieces.count)
                let pieceWidth = (cellWidth - 2) / count
                for (index, piece) in cell.pieces.enumerated() {
                    let px = x + index * pieceWidth
                    let kind = piece.kind
                    let rule = ruleNumber(piece.decidedBy)
                    let finding = findingIndex(for: piece, family: family, findings: findings)
                    record(rule, piece.outcome, finding)
                    let whole = piece.sources == [cell.range]
                    let scope = whole ? range : piece.sources.prefix(4).joined(separator: ", ") + (piece.sources.count > 4 ? " +\(piece.sources.count - 4)" : "")
                    let title = "\(scope) → tcp/\(ports): \(piece.outcome), decided by \(piece.decidedBy.location) [\(piece.decidedBy.chain)] \(piece.decidedBy.text)"
                    let findingWidth = finding == nil ? 0 : 22
                    out += "<g class=\"piece o-\(kindClass(kind))\" data-outcome=\"\(kindClass(kind))\">"
                    out += "<a class=\"to-rule\" href=\"#rule-\(rule + 1)\"><title>\(escape(title))</title>"
                    out += "<rect x=\"\(px + 1)\" y=\"\(y + 1)\" width=\"\(pieceWidth - 2)\" height=\"\(rowHeight - 2)\" class=\"o-\(kindClass(kind))\"/>"
                    out += "<rect x=\"\(px + 1)\" y=\"\(y + 1)\" width=\"\(pieceWidth - 2)\" height=\"\(rowHeight - 2)\" fill=\"url(#p-\(kindClass(kind)))\"/>"
                    out += "<text x=\"\(px + 7)\" y=\"\(y + 16)\" class=\"letter\">\(escape(letter(kind)))</text>"
                    let room = (pieceWidth - 24 - findingWidth) / 7
                    if room >= 6 {
                        let place = shortPlace(piece.decidedBy.location)
                        out += "<text x=\"\(px + 22)\" y=\"\(y + 16)\" class=\"place\">\(escape(place.count > room ? "…" + place.suffix(room - 1) : place))</text>"
                    }
                    out += "</a>"
                    if let finding {
                        out += "<a class=\"to-finding\" href=\"#\(anchors.id(finding))\"><title>\(escape("finding: " + findings[finding].ruleId))</title>"
                            + "<rect x=\"\(px + pieceWidth - findingWidth - 1)\" y=\"\(y + 4)\" width=\"\(findingWidth - 2)\" height=\"\(rowHeight - 8)\" rx=\"3\" class=\"flag\"/>"
                            + "<text x=\"\(px + pieceWidth - findingWidth / 2 - 2)\" y=\"\(y + 16)\" text-anchor=\"middle\" class=\"flagtext\">F</text></a>"
                    }
                    out += "</g>\n"
                }
                if cell.pieces.isEmpty {
                    out += "<rect x=\"\(x + 1)\" y=\"\(y + 1)\" width=\"\(cellWidth - 4)\" height=\"\(rowHeight - 2)\" class=\"o-unknown\"/>"
                        + "<text x=\"\(x + 7)\" y=\"\(y + 16)\" class=\"letter\">?</text>\n"
                }
                out += "</g>\n"
            }
        }
        out += "</svg></div>\n"
        return out
    }

    /// `rules.v4:12` for a deciding rule: the file's last component keeps cells narrow; the full
    /// path is in the cell's title and in the deciding-rules table.
    static func shortPlace(_ location: SourceLocation) -> String {
        var short = location
        short.file = String(location.file.split(separator: "/").last ?? Substring(location.file))
        return short.description
    }

    /// The finding that reports a piece: the rule for its outcome, at the deciding rule, naming its family.
    static func findingIndex(for piece: ReachabilityMatrix.Piece, family: AddressFamily, findings: [Finding]) -> Int? {
        let ruleIds: [String]
        switch piece.kind {
        case .accept: return nil
        case .drop: ruleIds = ["firewall.cdn-dropped"]
        case .reject: ruleIds = ["firewall.cdn-rejected"]
        case .rateLimited: ruleIds = ["firewall.cdn-rate-limited"]
        case .unknown: ruleIds = ["firewall.unknown-match", "firewall.set-unresolved"]
        }
        let familyName = family == .ipv4 ? "IPv4" : "IPv6"
        let candidates = findings.indices.filter { ruleIds.contains(findings[$0].ruleId) && findings[$0].location == piece.decidedBy.location }
        return candidates.first { findings[$0].message.contains(familyName) } ?? candidates.first
    }

    // MARK: Findings and notes

    static func findingSection(_ report: AuditReport, anchors: FindingAnchors) -> String {
        var out = "<section id=\"findings\">\n<h2>Findings</h2>\n"
        if report.findings.isEmpty { out += "<p>No findings.</p>\n" }
        for severity in Severity.allCases.reversed() {
            let group = report.findings.indices.filter { report.findings[$0].severity == severity }
            guard !group.isEmpty else { continue }
            out += "<h3 class=\"sev-\(severity.rawValue)\">\(escape(TextReporter.heading(severity, group.count)))</h3>\n"
            for index in group { out += finding(index, report: report, anchors: anchors) }
        }
        return out + "</section>\n"
    }

    static func finding(_ index: Int, report: AuditReport, anchors: FindingAnchors) -> String {
        let finding = report.findings[index]
        let severity = finding.severity ?? .warning
        var out = "<article class=\"finding sev-\(severity.rawValue)\" id=\"\(anchors.id(index))\">\n"
        out += "<h4><span class=\"sevmark\">\(escape(severity.rawValue))</span> <code class=\"rule\">\(escape(finding.ruleId))</code>"
        if let title = report.catalog[finding.ruleId]?.title { out += " <span class=\"title\">\(escape(title))</span>" }
        out += "</h4>\n"
        if let location = finding.location { out += "<p class=\"where\"><code>\(escape(location.description))</code></p>\n" }
        out += "<p class=\"message\">\(escape(finding.message))</p>\n"
        if let predicts = finding.predicts { out += "<p class=\"predicts\"><b>Visitors will see:</b> \(escape(predicts))</p>\n" }
        if !finding.related.isEmpty {
            out += "<ul class=\"related\">\n"
            for related in finding.related {
                out += "<li>see <code>\(escape(related.location.description))</code>: \(escape(related.message))</li>\n"
            }
            out += "</ul>\n"
        }
        if let remediation = finding.remediation?.trimmingCharacters(in: .whitespacesAndNewlines), !remediation.isEmpty {
            out += "<div class=\"fix\"><b>Fix:</b>\n<pre>\(escape(remediation, keepNewlines: true))</pre></div>\n"
        }
        return out + "</article>\n"
    }

    static func notesSection(_ report: AuditReport) -> String {
        var out = "<section id=\"notes\">\n<h2>Analysis notes</h2>\n"
        if report.notes.isEmpty {
            out += "<p>None: every input was recognised and analysed.</p>\n"
        } else {
            out += "<ul>\n" + report.notes.map { "<li>\(escape($0))</li>\n" }.joined() + "</ul>\n"
        }
        out += "<p class=\"files\">\(report.files.count == 1 ? "1 file" : "\(report.files.count) files") analysed.</p>\n"
        return out + "</section>\n"
    }

    static func unique(_ values: [String]) -> [String] {
        var seen = Set<String>()
        return values.filter { seen.insert($0).inserted }
    }

    // MARK: Escaping

    /// Text for an HTML text or attribute context: `& < > " '` as character references, and
    /// what the terminal escapes (C0/C1 controls, bidi overrides) plus Unicode noncharacters shown
    /// as visible escapes, since HTML forbids them too.
    public static func escape(_ text: String, keepNewlines: Bool = false) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count + 16)
        for scalar in TerminalText.escape(text, keepNewlines: keepNewlines).unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default:
                if (0xFDD0...0xFDEF).contains(scalar.value) || scalar.value & 0xFFFE == 0xFFFE {
                    out += "\\u{" + String(scalar.value, radix: 16, uppercase: true) + "}"
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out
    }

    static let stylesheet = """

    :root{--fg:#1b1f24;--muted:#57606a;--line:#d0d7de;--bg:#fff;--err:#b42318;--warn:#9a6700;--info:#0b5cad;--ok:#1a7f37}
    *{box-sizing:border-box}
    body{margin:0;font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;color:var(--fg);background:var(--bg)}
    header,main{max-width:1100px;margin:0 auto;padding:0 16px}
    header{padding-top:16px;border-bottom:1px solid var(--line)}
    h1{font-size:1.5em;margin:0 0 4px}
    h2{font-size:1.25em;margin:28px 0 8px;padding-bottom:4px;border-bottom:1px solid var(--line)}
    h3{font-size:1.05em;margin:18px 0 6px}
    h4{font-size:1em;margin:0 0 4px}
    code,pre{font:13px/1.4 ui-monospace,"DejaVu Sans Mono",Menlo,Consolas,monospace;overflow-wrap:anywhere}
    pre{white-space:pre-wrap;margin:4px 0 0;padding:8px;background:#f6f8fa;border:1px solid var(--line);border-radius:4px}
    a{color:#0550ae}
    nav{margin:8px 0 12px}
    nav a{margin-right:14px}
    .profile,.summary,.lead,.mode,.files{color:var(--muted);margin:4px 0}
    .summary{color:var(--fg);font-weight:600}
    .verdicts{display:grid;grid-template-columns:repeat(auto-fit,minmax(320px,1fr));gap:12px}
    .verdict{border:1px solid var(--line);border-left:8px solid var(--muted);border-radius:6px;padding:10px 12px}
    .verdict h3{margin:0 0 4px;display:flex;flex-wrap:wrap;gap:6px 10px;align-items:baseline}
    .host{font-family:ui-monospace,"DejaVu Sans Mono",monospace;overflow-wrap:anywhere}
    .badge{padding:1px 8px;border-radius:10px;font-size:.95em;color:#fff;background:var(--muted)}
    .mark{font-weight:700}
    .v-works{border-left-color:var(--ok)} .v-works .badge{background:var(--ok)}
    .v-fails{border-left-color:var(--err)} .v-fails .badge{background:var(--err)}
    .v-risk{border-left-color:var(--warn);border-left-style:dashed} .v-risk .badge{background:var(--warn)}
    .v-unknown{border-left-style:dotted} .v-unknown .badge{background:#6e7781}
    .causes,.unknowns,.related,.totals{margin:4px 0;padding-left:20px}
    .open{margin:6px 0 0;font-weight:600}
    .legend{display:flex;flex-wrap:wrap;gap:6px 16px;margin:8px 0}
    .legend span{display:inline-flex;align-items:center;gap:4px}
    .matrix-scroll{overflow-x:auto;margin:4px 0}
    svg.matrix{display:block;max-width:100%;height:auto}
    svg.defs{position:absolute;width:0;height:0}
    svg text{font:12px ui-monospace,"DejaVu Sans Mono",monospace;fill:#1b1f24}
    svg .head{font-weight:700}
    svg .letter{font-weight:700;font-size:13px}
    svg .place{font-size:11px}
    svg .flag{fill:#fff;stroke:#1b1f24}
    svg .flagtext{font-weight:700;font-size:11px}
    svg a:hover rect,svg a:focus rect{stroke:#0550ae;stroke-width:2}
    .o-accept{fill:#cdebd3} .o-drop{fill:#f4b4ae} .o-reject{fill:#f8cf9c} .o-limited{fill:#f5e49a} .o-unknown{fill:#d5d9de}
    table.rules{border-collapse:collapse;width:100%;font-size:.92em}
    table.rules th,table.rules td{border:1px solid var(--line);padding:4px 6px;text-align:left;vertical-align:top}
    table.rules td:first-child{min-width:10em}
    table.rules tr:target,.finding:target{outline:3px solid #0550ae}
    .finding{border:1px solid var(--line);border-left:6px solid var(--muted);border-radius:6px;padding:10px 12px;margin:10px 0}
    .finding.sev-error{border-left-color:var(--err)} .finding.sev-warning{border-left-color:var(--warn);border-left-style:dashed} .finding.sev-info{border-left-color:var(--info);border-left-style:dotted}
    .sevmark{text-transform:uppercase;font-size:.75em;letter-spacing:.05em;padding:1px 6px;border-radius:4px;border:1px solid currentColor}
    .sev-error .sevmark,h3.sev-error,li.sev-error b{color:var(--err)} .sev-warning .sevmark,h3.sev-warning,li.sev-warning b{color:var(--warn)} .sev-info .sevmark,h3.sev-info{color:var(--info)}
    .title{color:var(--muted);font-weight:400}
    .where,.message,.predicts{margin:2px 0}
    .message{white-space:pre-wrap;overflow-wrap:anywhere}
    .fix{margin-top:6px}
    @media (max-width:600px){
      body{font-size:14px} .verdicts{grid-template-columns:1fr}
      table.rules,table.rules tbody,table.rules tr,table.rules td{display:block;width:auto;min-width:0}
      table.rules thead{display:none} table.rules tr{border:1px solid var(--line);border-radius:4px;margin:6px 0;padding:2px 0}
      table.rules td{border:none;padding:1px 6px}
    }
    @media print{
      body{font-size:10pt} nav{display:none} a{color:inherit;text-decoration:none}
      header,main{max-width:none;padding:0}
      .matrix-scroll{overflow:visible} svg.matrix{max-width:100%;height:auto}
      .finding,.verdict,tr{break-inside:avoid} h2,h3{break-after:avoid}
      *{-webkit-print-color-adjust:exact;print-color-adjust:exact}
      pre{background:none}
    }

    """
}

/// Each finding's anchor: `finding-` and its fingerprint, made unique when two findings share one.
struct FindingAnchors {
    private var ids: [String] = []

    init(_ findings: [Finding]) {
        var seen: [String: Int] = [:]
        for finding in findings {
            let base = "finding-" + finding.fingerprint
            let count = seen[base, default: 0]
            seen[base] = count + 1
            ids.append(count == 0 ? base : "\(base)-\(count + 1)")
        }
    }

    func id(_ index: Int) -> String { ids[index] }
}
