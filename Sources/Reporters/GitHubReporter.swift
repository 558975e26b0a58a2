import OriginAuditCore

/// GitHub Actions workflow commands: one `::error`/`::warning`/`::notice` annotation per finding.
public enum GitHubReporter {
    public static func render(_ report: AuditReport) -> String {
        ReportBytes.string { sink in write(report, piece: Int.max, to: sink) }
    }

    /// The bytes of `render(report)`, handed to `sink` in pieces of about `piece` bytes; the
    /// annotations are made on all cores, a few runs at a time.
    public static func write(_ report: AuditReport, piece: Int = ReportBytes.piece,
                             to sink: (UnsafeRawBufferPointer) throws -> Void) rethrows {
        var out: [UInt8] = []
        let findings = report.findings
        try ReportBytes.write(count: findings.count, bytesPerItem: 768, into: &out, piece: piece, sink: sink) { index, bytes in
            write(findings[index], into: &bytes)
        }
        for note in report.notes { ReportBytes.append("::notice title=originaudit::\(escapeData(note))\n", to: &out) }
        try ReportBytes.flush(&out, sink)
    }

    /// `annotation(finding)` written into `out`, each text escaped straight into the bytes
    /// (no strings made, joined or escaped into new ones: this is every byte of the report).
    /// The texts are joined by ASCII (` (predicts `, `)`, `%0AFix: `), so a replaced character at
    /// a text's edge stands next to ASCII there as it does in `annotation`'s joined strings; the
    /// one replaced joiner, the newline before `Fix:`, follows the message's last byte. Where
    /// `escaped` would leave a text to Foundation, the finding is written by `annotation`.
    static func write(_ finding: Finding, into out: inout [UInt8]) {
        let start = out.count
        switch finding.severity ?? .warning {
        case .error: ReportBytes.append("::error ", to: &out)
        case .warning: ReportBytes.append("::warning ", to: &out)
        case .info: ReportBytes.append("::notice ", to: &out)
        }
        var plain = true
        if let location = finding.location {
            ReportBytes.append("file=", to: &out)
            plain = escape(location.file, property: true, into: &out)
            if location.line > 0 {
                ReportBytes.append(",line=", to: &out)
                ReportBytes.decimal(location.line, into: &out)
                if location.column > 0 {
                    ReportBytes.append(",col=", to: &out)
                    ReportBytes.decimal(location.column, into: &out)
                }
            }
            out.append(UInt8(ascii: ","))
        }
        ReportBytes.append("title=", to: &out)
        plain = plain && escape(finding.ruleId, property: true, into: &out)
        if let predicts = finding.predicts {
            ReportBytes.append(" (predicts ", to: &out)
            plain = plain && escape(predicts, property: true, into: &out)
            out.append(UInt8(ascii: ")"))
        }
        ReportBytes.append("::", to: &out)
        plain = plain && escape(finding.message, property: false, into: &out)
        if let remediation = finding.remediation {
            plain = plain && (finding.message.utf8.last ?? 0) < 0x80
            ReportBytes.append("%0AFix: ", to: &out)
            plain = plain && escape(remediation, property: false, into: &out)
        }
        out.append(0x0A)
        if !plain {
            out.removeSubrange(start...)
            ReportBytes.append(annotation(finding), to: &out)
        }
    }

    /// `escaped(text, property:)` appended to `out`, or false (with some bytes appended) where
    /// `escaped` leaves the text to Foundation: a replaced character next to a non-ASCII byte.
    /// Eight bytes are looked at a time, one by one only where one of them may be replaced.
    static func escape(_ text: String, property: Bool, into out: inout [UInt8]) -> Bool {
        UTF8Bytes.of(text) { bytes in
            guard let base = bytes.baseAddress else { return true }
            let count = bytes.count
            var run = 0, index = 0
            while index < count {
                if index + 8 <= count, !mayNeedEscape(UnsafeRawPointer(base).loadUnaligned(fromByteOffset: index, as: UInt64.self), property: property) {
                    index += 8
                    continue
                }
                let end = min(index + 8, count)
                while index < end {
                    let byte = base[index]
                    let replaced: StaticString
                    switch byte {
                    case UInt8(ascii: "%"): replaced = "%25"
                    case 0x0D: replaced = "%0D"
                    case 0x0A: replaced = "%0A"
                    case UInt8(ascii: ":") where property: replaced = "%3A"
                    case UInt8(ascii: ",") where property: replaced = "%2C"
                    default:
                        index += 1
                        continue
                    }
                    guard index == 0 || base[index - 1] < 0x80, index == count - 1 || base[index + 1] < 0x80 else { return false }
                    out.append(contentsOf: UnsafeBufferPointer(start: base + run, count: index - run))
                    out.append(contentsOf: UnsafeBufferPointer(start: replaced.utf8Start, count: 3))
                    index += 1
                    run = index
                }
            }
            out.append(contentsOf: UnsafeBufferPointer(start: base + run, count: count - run))
            return true
        }
    }

    /// Whether any of eight bytes is `%`, CR or LF (or, for a property, `:` or `,`): a byte equal
    /// to c is a zero byte of `w ^ c·0x01…`, and a word has one exactly when
    /// `(x - 0x01…) & ~x & 0x80…` is not zero.
    @inline(__always)
    static func mayNeedEscape(_ word: UInt64, property: Bool) -> Bool {
        let ones: UInt64 = 0x0101_0101_0101_0101, high: UInt64 = 0x8080_8080_8080_8080
        @inline(__always) func zeroByte(_ x: UInt64) -> UInt64 { (x &- ones) & ~x }
        var found = zeroByte(word ^ (ones &* 0x25)) | zeroByte(word ^ (ones &* 0x0D)) | zeroByte(word ^ (ones &* 0x0A))
        if property { found |= zeroByte(word ^ (ones &* 0x3A)) | zeroByte(word ^ (ones &* 0x2C)) }
        return found & high != 0
    }

    /// One finding's workflow command, with its newline: what `write` writes, made of strings.
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
    /// pass over the bytes (`escape`) where every character replaced stands between ASCII bytes:
    /// there Foundation's replacement certainly matches it (it does not match a character that a
    /// following combining mark extends). Otherwise, Foundation's.
    static func escaped(_ text: String, property: Bool) -> String {
        var bytes: [UInt8] = []
        guard escape(text, property: property, into: &bytes) else { return property ? escapeProperty(text) : escapeData(text) }
        return String(decoding: bytes, as: UTF8.self)
    }

    static func escapeData(_ text: String) -> String {
        text.replacingOccurrences(of: "%", with: "%25").replacingOccurrences(of: "\r", with: "%0D").replacingOccurrences(of: "\n", with: "%0A")
    }

    static func escapeProperty(_ text: String) -> String {
        escapeData(text).replacingOccurrences(of: ":", with: "%3A").replacingOccurrences(of: ",", with: "%2C")
    }
}
