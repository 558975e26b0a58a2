import OriginAuditCore

/// GitHub Actions workflow commands: one `::error`/`::warning`/`::notice` annotation per finding.
public enum GitHubReporter {
    public static func render(_ report: AuditReport) -> String {
        ReportBytes.string { sink in write(report, piece: Int.max, to: sink) }
    }

    /// The bytes of `render(report)`, handed to `sink` in pieces of about `piece` bytes; the
    /// annotations are made on all cores, a few runs at a time.
    public static func write(_ report: AuditReport, piece: Int = 1 << 20,
                             to sink: (UnsafeRawBufferPointer) throws -> Void) rethrows {
        var out: [UInt8] = []
        let findings = report.findings
        try ReportBytes.write(count: findings.count, bytesPerItem: 768, into: &out, piece: piece, sink: sink) { index, bytes in
            ReportBytes.append(annotation(findings[index]), to: &bytes)
        }
        for note in report.notes { ReportBytes.append("::notice title=originaudit::\(escapeData(note))\n", to: &out) }
        try ReportBytes.flush(&out, sink)
    }

    /// One finding's workflow command, with its newline.
    static func annotation(_ finding: Finding) -> String {
        let command: String
        switch finding.severity ?? .warning {
        case .error: command = "error"
        case .warning: command = "warning"
        case .info: command = "notice"
        }
        var properties: [String] = []
        if let location = finding.location {
            properties.append("file=" + escapeProperty(location.file))
            if location.line > 0 { properties.append("line=\(location.line)") }
            if location.line > 0 && location.column > 0 { properties.append("col=\(location.column)") }
        }
        var title = finding.ruleId
        if let predicts = finding.predicts { title += " (predicts \(predicts))" }
        properties.append("title=" + escapeProperty(title))
        var message = finding.message
        if let remediation = finding.remediation { message += "\nFix: " + remediation }
        return "::\(command) \(properties.joined(separator: ","))::\(escapeData(message))\n"
    }

    static func escapeData(_ text: String) -> String {
        text.replacingOccurrences(of: "%", with: "%25").replacingOccurrences(of: "\r", with: "%0D").replacingOccurrences(of: "\n", with: "%0A")
    }

    static func escapeProperty(_ text: String) -> String {
        escapeData(text).replacingOccurrences(of: ":", with: "%3A").replacingOccurrences(of: ",", with: "%2C")
    }
}
