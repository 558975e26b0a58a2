import OriginAuditCore

/// GitHub Actions workflow commands: one `::error`/`::warning`/`::notice` annotation per finding.
public enum GitHubReporter {
    public static func render(_ report: AuditReport) -> String {
        ReportBytes.string { sink in write(report, piece: Int.max, to: sink) }
    }

    /// The bytes of `render(report)`, handed to `sink` in pieces of about `piece` bytes; the
    /// annotations are made on all cores, a few runs at a time.
    public static func write(_ report: AuditReport, piece: Int = 1 << 18,
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
            properties.append("file=" + escaped(location.file, property: true))
            if location.line > 0 { properties.append("line=\(location.line)") }
            if location.line > 0 && location.column > 0 { properties.append("col=\(location.column)") }
        }
        var title = finding.ruleId
        if let predicts = finding.predicts { title += " (predicts \(predicts))" }
        properties.append("title=" + escaped(title, property: true))
        var message = finding.message
        if let remediation = finding.remediation { message += "\nFix: " + remediation }
        return "::\(command) \(properties.joined(separator: ","))::\(escaped(message, property: false))\n"
    }

    /// `escapeProperty(text)` (`property`) or `escapeData(text)`, each character replaced in one
    /// pass over the bytes where every character replaced stands between ASCII bytes: there
    /// Foundation's replacement certainly matches it (it does not match a character that a
    /// following combining mark extends). Otherwise, Foundation's.
    static func escaped(_ text: String, property: Bool) -> String {
        var text = text
        let bytes: [UInt8]? = text.withUTF8 { bytes in
            func special(_ byte: UInt8) -> Bool {
                byte == UInt8(ascii: "%") || byte == 0x0D || byte == 0x0A || (property && (byte == UInt8(ascii: ":") || byte == UInt8(ascii: ",")))
            }
            guard bytes.contains(where: special) else { return nil }
            var out: [UInt8] = []
            out.reserveCapacity(bytes.count + 32)
            for (index, byte) in bytes.enumerated() {
                guard special(byte) else { out.append(byte); continue }
                guard index == 0 || bytes[index - 1] < 0x80, index == bytes.count - 1 || bytes[index + 1] < 0x80 else { return [] }
                out.append(UInt8(ascii: "%"))
                switch byte {
                case UInt8(ascii: "%"): out += Array("25".utf8)
                case 0x0D: out += Array("0D".utf8)
                case 0x0A: out += Array("0A".utf8)
                case UInt8(ascii: ":"): out += Array("3A".utf8)
                default: out += Array("2C".utf8)
                }
            }
            return out
        }
        guard let bytes else { return text }
        if bytes.isEmpty { return property ? escapeProperty(text) : escapeData(text) }
        return String(decoding: bytes, as: UTF8.self)
    }

    static func escapeData(_ text: String) -> String {
        text.replacingOccurrences(of: "%", with: "%25").replacingOccurrences(of: "\r", with: "%0D").replacingOccurrences(of: "\n", with: "%0A")
    }

    static func escapeProperty(_ text: String) -> String {
        escapeData(text).replacingOccurrences(of: ":", with: "%3A").replacingOccurrences(of: ",", with: "%2C")
    }
}
