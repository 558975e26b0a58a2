import Foundation
import OriginAuditCore

/// The report for people: findings grouped by severity (errors first), each with its place,
/// predicted visitor-facing outcome and fix; then notes on analysis limits; then one summary line.
public enum TextReporter {
    /// ANSI styling, used only when writing to a terminal.
    public struct Style: Sendable {
        public var enabled: Bool
        public init(enabled: Bool) { self.enabled = enabled }
        func paint(_ text: String, _ code: String) -> String { enabled ? "\u{1B}[\(code)m\(text)\u{1B}[0m" : text }
        func severity(_ severity: Severity, _ text: String) -> String {
            switch severity {
            case .error: paint(text, "1;31")
            case .warning: paint(text, "1;33")
            case .info: paint(text, "1;36")
            }
        }
        func dim(_ text: String) -> String { paint(text, "2") }
        func bold(_ text: String) -> String { paint(text, "1") }
    }

    public static func render(_ report: AuditReport, style: Style = Style(enabled: false)) -> String {
        var out = ""
        let profile = "CDN \(TerminalText.escape(report.cdn)), TLS mode \(report.tlsMode.rawValue), at \(Profile.format(report.at))"
        out += style.dim("originaudit \(report.toolVersion) — \(profile)") + "\n"
        for severity in Severity.allCases.reversed() {
            let group = report.findings.filter { $0.severity == severity }
            if group.isEmpty { continue }
            out += "\n" + style.severity(severity, heading(severity, group.count)) + "\n"
            for finding in group {
                out += "\n" + render(finding, style: style, catalog: report.catalog)
            }
        }
        if !report.notes.isEmpty {
            out += "\n" + style.bold("Analysis notes") + "\n"
            for note in report.notes { out += "  - \(TerminalText.escape(note))\n" }
        }
        out += "\n" + summary(report) + "\n"
        return out
    }

    static func heading(_ severity: Severity, _ count: Int) -> String {
        switch severity {
        case .error: count == 1 ? "1 error" : "\(count) errors"
        case .warning: count == 1 ? "1 warning" : "\(count) warnings"
        case .info: "\(count) info"
        }
    }

    /// Every text that can come from an input (paths, messages quoting directives) is escaped
    /// for the terminal: control sequences and bidi overrides are shown, never obeyed.
    static func render(_ finding: Finding, style: Style, catalog: RuleCatalog) -> String {
        let severity = finding.severity ?? .warning
        var out = "  " + style.severity(severity, "[\(finding.ruleId)]")
        if let location = finding.location { out += " " + style.bold(TerminalText.escape(location.description)) }
        out += "\n"
        out += indent(TerminalText.escape(finding.message), "    ") + "\n"
        if let predicts = finding.predicts { out += "    " + style.bold("Visitors will see:") + " \(TerminalText.escape(predicts))\n" }
        for related in finding.related {
            out += "    " + style.dim(TerminalText.escape("see \(related.location): \(related.message)")) + "\n"
        }
        if let remediation = finding.remediation?.trimmingCharacters(in: .whitespacesAndNewlines), !remediation.isEmpty {
            out += "    " + style.bold("Fix:") + "\n" + indent(TerminalText.escape(remediation, keepNewlines: true), "      ") + "\n"
        }
        return out
    }

    static func indent(_ text: String, _ prefix: String) -> String {
        text.split(separator: "\n", omittingEmptySubsequences: false).map { $0.isEmpty ? "" : prefix + $0 }.joined(separator: "\n")
    }

    /// `2 errors, 1 warning, 0 info in 7 files (3 suppressed)` — or that nothing was found.
    public static func summary(_ report: AuditReport) -> String {
        let files = report.files.count == 1 ? "1 file" : "\(report.files.count) files"
        var line: String
        if report.findings.isEmpty {
            line = "No findings in \(files)."
        } else {
            line = "\(heading(.error, report.count(.error))), \(heading(.warning, report.count(.warning))), \(heading(.info, report.count(.info))) in \(files)."
        }
        if report.suppressedCount > 0 { line += " \(report.suppressedCount) suppressed." }
        return line
    }
}
