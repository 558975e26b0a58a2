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
        func severity(_ severity: Severity, _ text: String) -> String { paint(text, code(severity)) }
        func code(_ severity: Severity) -> String {
            switch severity {
            case .error: "1;31"
            case .warning: "1;33"
            case .info: "1;36"
            }
        }
        /// What `paint` writes before and after its text.
        func open(_ code: String, into out: inout [UInt8]) {
            if enabled { ReportBytes.append("\u{1B}[\(code)m", to: &out) }
        }
        func close(into out: inout [UInt8]) {
            if enabled { ReportBytes.append("\u{1B}[0m", to: &out) }
        }
        func dim(_ text: String) -> String { paint(text, "2") }
        func bold(_ text: String) -> String { paint(text, "1") }
    }

    public static func render(_ report: AuditReport, style: Style = Style(enabled: false)) -> String {
        ReportBytes.string { sink in write(report, style: style, piece: Int.max, to: sink) }
    }

    /// The bytes of `render(report, style:)`, handed to `sink` in pieces of about `piece` bytes:
    /// the findings are written straight into bytes on all cores, a few runs at a time.
    public static func write(_ report: AuditReport, style: Style = Style(enabled: false), piece: Int = ReportBytes.piece,
                             to sink: (UnsafeRawBufferPointer) throws -> Void) rethrows {
        var out: [UInt8] = []
        out.reserveCapacity(min(piece, 4096 + report.findings.count * 1024) + 64 * 1024)
        let profile = "CDN \(TerminalText.escape(report.cdn)), TLS mode \(report.tlsMode.rawValue), at \(Profile.format(report.at))"
        ReportBytes.append(style.dim("originaudit \(report.toolVersion) — \(profile)") + "\n", to: &out)
        let findings = report.findings
        // Each finding's severity read once (one pass, not one per severity).
        var errors: [Int] = [], warnings: [Int] = [], infos: [Int] = []
        for index in findings.indices {
            switch findings[index].severity {
            case .error: errors.append(index)
            case .warning: warnings.append(index)
            case .info: infos.append(index)
            case nil: break
            }
        }
        for (severity, group) in [(Severity.error, errors), (.warning, warnings), (.info, infos)] {
            if group.isEmpty { continue }
            ReportBytes.append("\n" + style.severity(severity, heading(severity, group.count)) + "\n", to: &out)
            try ReportBytes.write(count: group.count, bytesPerItem: 1024, into: &out, piece: piece, sink: sink) { index, bytes in
                bytes.append(0x0A)
                write(findings[group[index]], style: style, into: &bytes)
            }
        }
        if !report.notes.isEmpty {
            ReportBytes.append("\n" + style.bold("Analysis notes") + "\n", to: &out)
            for note in report.notes { ReportBytes.append("  - \(TerminalText.escape(note))\n", to: &out) }
        }
        ReportBytes.append("\n" + summary(report) + "\n", to: &out)
        try ReportBytes.flush(&out, sink)
    }

    static func heading(_ severity: Severity, _ count: Int) -> String {
        switch severity {
        case .error: count == 1 ? "1 error" : "\(count) errors"
        case .warning: count == 1 ? "1 warning" : "\(count) warnings"
        case .info: "\(count) info"
        }
    }

    /// One finding as the report shows it. Every text that can come from an input (paths,
    /// messages quoting directives) is escaped for the terminal: control sequences and bidi
    /// overrides are shown, never obeyed.
    static func render(_ finding: Finding, style: Style) -> String {
        var bytes: [UInt8] = []
        write(finding, style: style, into: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    /// `render(finding, style:)` written into `out`.
    static func write(_ finding: Finding, style: Style, into out: inout [UInt8]) {
        let severity = finding.severity ?? .warning
        ReportBytes.append("  ", to: &out)
        style.open(style.code(severity), into: &out)
        out.append(UInt8(ascii: "["))
        ReportBytes.append(finding.ruleId, to: &out)
        out.append(UInt8(ascii: "]"))
        style.close(into: &out)
        if let location = finding.location {
            out.append(0x20)
            style.open("1", into: &out)
            write(location, into: &out)
            style.close(into: &out)
        }
        out.append(0x0A)
        // Escaped without newlines, the message is one line: indented unless empty.
        if !finding.message.isEmpty { ReportBytes.append("    ", to: &out) }
        escaped(finding.message, keepNewlines: false, into: &out)
        out.append(0x0A)
        if let predicts = finding.predicts {
            ReportBytes.append("    ", to: &out)
            style.open("1", into: &out)
            ReportBytes.append("Visitors will see:", to: &out)
            style.close(into: &out)
            out.append(0x20)
            escaped(predicts, keepNewlines: false, into: &out)
            out.append(0x0A)
        }
        for related in finding.related {
            ReportBytes.append("    ", to: &out)
            style.open("2", into: &out)
            ReportBytes.append("see ", to: &out)
            write(related.location, into: &out)
            ReportBytes.append(": ", to: &out)
            escaped(related.message, keepNewlines: false, into: &out)
            style.close(into: &out)
            out.append(0x0A)
        }
        if let remediation = finding.remediation.map(trimmed), !remediation.isEmpty {
            ReportBytes.append("    ", to: &out)
            style.open("1", into: &out)
            ReportBytes.append("Fix:", to: &out)
            style.close(into: &out)
            out.append(0x0A)
            // Each line indented, empty lines left empty.
            var lines: [UInt8] = []
            escaped(remediation, keepNewlines: true, into: &lines)
            var atLineStart = true
            for byte in lines {
                if atLineStart && byte != 0x0A { ReportBytes.append("      ", to: &out) }
                out.append(byte)
                atLineStart = byte == 0x0A
            }
            out.append(0x0A)
        }
    }

    /// `TerminalText.escape(location.description)`: the path escaped, the numbers as they are.
    static func write(_ location: SourceLocation, into out: inout [UInt8]) {
        escaped(location.file, keepNewlines: false, into: &out)
        if location.line > 0 {
            out.append(UInt8(ascii: ":"))
            ReportBytes.decimal(location.line, into: &out)
            if location.column > 0 {
                out.append(UInt8(ascii: ":"))
                ReportBytes.decimal(location.column, into: &out)
            }
        }
        if let handle = location.handle {
            ReportBytes.append(" (handle ", to: &out)
            ReportBytes.decimal(handle, into: &out)
            out.append(UInt8(ascii: ")"))
        }
    }

    /// `TerminalText.escape(text, keepNewlines:)` appended to `out`. Every scalar it escapes is a
    /// byte below 0x20, 0x7F, or starts with 0xC2 (C1 controls), 0xD8 (U+061C) or 0xE2 (the bidi
    /// controls) in UTF-8: text without those bytes (nearly all) is copied as it is.
    static func escaped(_ text: String, keepNewlines: Bool, into out: inout [UInt8]) {
        func plain(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
            for byte in bytes where byte < 0x20 || byte == 0x7F || byte == 0xC2 || byte == 0xD8 || byte == 0xE2 {
                if byte == 0x09 || (byte == 0x0A && keepNewlines) { continue }
                return false
            }
            out.append(contentsOf: bytes)
            return true
        }
        if !UTF8Bytes.of(text, plain) { ReportBytes.append(TerminalText.escape(text, keepNewlines: keepNewlines), to: &out) }
    }

    /// `text.trimmingCharacters(in: .whitespacesAndNewlines)`, without Foundation when the text
    /// starts and ends with a visible ASCII character (every rule's remediation).
    static func trimmed(_ text: String) -> String {
        let utf8 = text.utf8
        if let first = utf8.first, let last = utf8.last, first > 0x20, first < 0x7F, last > 0x20, last < 0x7F { return text }
        return text.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// `2 errors, 1 warning, 0 info in 7 files (3 suppressed)` — or that nothing was found.
    public static func summary(_ report: AuditReport) -> String {
        let files = report.files.count == 1 ? "1 file" : "\(report.files.count) files"
        var line: String
        if report.findings.isEmpty {
            line = "No findings in \(files)."
        } else {
            let counts = report.counts
            line = "\(heading(.error, counts.error)), \(heading(.warning, counts.warning)), \(heading(.info, counts.info)) in \(files)."
        }
        if report.suppressedCount > 0 { line += " \(report.suppressedCount) suppressed." }
        return line
    }
}
