import OriginAuditCore

/// GitHub Actions workflow commands: one `::error`/`::warning`/`::notice` annotation per finding.
public enum GitHubReporter {
    public static func render(_ report: AuditReport) -> String {
        var out = ""
        for finding in report.findings {
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
            out += "::\(command) \(properties.joined(separator: ","))::\(escapeData(message))\n"
        }
        for note in report.notes { out += "::notice title=originaudit::\(escapeData(note))\n" }
        return out
    }

    static func escapeData(_ text: String) -> String {
        text.replacingOccurrences(of: "%", with: "%25").replacingOccurrences(of: "\r", with: "%0D").replacingOccurrences(of: "\n", with: "%0A")
    }

    static func escapeProperty(_ text: String) -> String {
        escapeData(text).replacingOccurrences(of: ":", with: "%3A").replacingOccurrences(of: ",", with: "%2C")
    }
}
