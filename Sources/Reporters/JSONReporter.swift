import OriginAuditCore

/// The JSON contract of DESIGN.md §6 (`schemaVersion` 1), plus `notes` on analysis limits.
public enum JSONReporter {
    /// The same bytes as `document(report).rendered()`, with the findings (nearly all of a large
    /// report) written straight into the buffer instead of built as dictionaries first.
    public static func render(_ report: AuditReport) -> String {
        ReportBytes.string { sink in write(report, piece: Int.max, to: sink) }
    }

    /// The bytes of `render(report)`, handed to `sink` in pieces of about `piece` bytes (a report
    /// of 50,000 findings is 46 MB: written as it is made, it is never held whole).
    public static func write(_ report: AuditReport, piece: Int = 1 << 18,
                             to sink: (UnsafeRawBufferPointer) throws -> Void) rethrows {
        var members = document(report, findings: []).objectMembers
        members["findings"] = nil
        var out: [UInt8] = []
        out.reserveCapacity(min(piece, 4096 + report.findings.count * 1024) + 64 * 1024)
        out.append(contentsOf: "{\n".utf8)
        let keys = (Array(members.keys) + ["findings"]).sorted()
        for (index, key) in keys.enumerated() {
            JSONValue.indentation(1, into: &out)
            JSONValue.quote(key, into: &out)
            JSONValue.append(": ", to: &out)
            if let value = members[key] {
                value.write(into: &out, indent: 1)
            } else if report.findings.isEmpty {
                JSONValue.append("[]", to: &out)
            } else {
                // The findings array as `.array(findings.map(finding))` writes it.
                JSONValue.append("[\n", to: &out)
                let findings = report.findings
                try ReportBytes.write(count: findings.count, bytesPerItem: 1024, into: &out, piece: piece, sink: sink) { index, bytes in
                    JSONValue.indentation(2, into: &bytes)
                    write(findings[index], into: &bytes, indent: 2)
                    JSONValue.append(index == findings.count - 1 ? "\n" : ",\n", to: &bytes)
                }
                JSONValue.indentation(1, into: &out)
                out.append(UInt8(ascii: "]"))
            }
            JSONValue.append(index == keys.count - 1 ? "\n" : ",\n", to: &out)
        }
        out.append(contentsOf: "}\n".utf8)
        try ReportBytes.flush(&out, sink)
    }

    public static func document(_ report: AuditReport) -> JSONValue {
        document(report, findings: report.findings)
    }

    /// `finding(finding)` written: the keys in sorted order.
    static func write(_ finding: Finding, into out: inout [UInt8], indent: Int) {
        JSONValue.member("fingerprint", first: true, indent: indent, into: &out) { JSONValue.string(finding.fingerprint, into: &$0) }
        JSONValue.member("location", first: false, indent: indent, into: &out) { out in
            if let location = finding.location { write(location, message: nil, into: &out, indent: indent + 1) } else { JSONValue.append("null", to: &out) }
        }
        JSONValue.member("message", first: false, indent: indent, into: &out) { JSONValue.string(finding.message, into: &$0) }
        JSONValue.member("predicts", first: false, indent: indent, into: &out) { JSONValue.string(finding.predicts, into: &$0) }
        JSONValue.member("related", first: false, indent: indent, into: &out) { out in
            if finding.related.isEmpty { JSONValue.append("[]", to: &out); return }
            JSONValue.append("[\n", to: &out)
            for (index, related) in finding.related.enumerated() {
                JSONValue.indentation(indent + 2, into: &out)
                write(related.location, message: related.message, into: &out, indent: indent + 2)
                JSONValue.append(index == finding.related.count - 1 ? "\n" : ",\n", to: &out)
            }
            JSONValue.indentation(indent + 1, into: &out)
            out.append(UInt8(ascii: "]"))
        }
        JSONValue.member("remediation", first: false, indent: indent, into: &out) { JSONValue.string(finding.remediation, into: &$0) }
        JSONValue.member("ruleId", first: false, indent: indent, into: &out) { JSONValue.string(finding.ruleId, into: &$0) }
        JSONValue.member("severity", first: false, indent: indent, into: &out) { JSONValue.string((finding.severity ?? .warning).rawValue, into: &$0) }
        JSONValue.endObject(indent: indent, into: &out)
    }

    /// `location(location)` written, with a related location's `message` after its other keys.
    static func write(_ location: SourceLocation, message: String?, into out: inout [UInt8], indent: Int) {
        var first = true
        if location.line > 0 && location.column > 0 {
            JSONValue.member("column", first: first, indent: indent, into: &out) { ReportBytes.decimal(location.column, into: &$0) }
            first = false
        }
        JSONValue.member("file", first: first, indent: indent, into: &out) { JSONValue.string(location.file, into: &$0) }
        if let handle = location.handle {
            JSONValue.member("handle", first: false, indent: indent, into: &out) { ReportBytes.decimal(handle, into: &$0) }
        }
        if location.line > 0 {
            JSONValue.member("line", first: false, indent: indent, into: &out) { ReportBytes.decimal(location.line, into: &$0) }
        }
        if let message { JSONValue.member("message", first: false, indent: indent, into: &out) { JSONValue.string(message, into: &$0) } }
        JSONValue.endObject(indent: indent, into: &out)
    }

    static func document(_ report: AuditReport, findings: [Finding]) -> JSONValue {
        let counts = report.counts
        return .object([
            "schemaVersion": .int(1),
            "tool": .object(["name": .string(ToolInfo.name), "version": .string(report.toolVersion)]),
            "profile": .object([
                "cdn": .string(report.cdn),
                "tlsMode": .string(report.tlsMode.rawValue),
                "at": .string(Profile.format(report.at)),
            ]),
            "findings": .array(findings.map(finding)),
            "summary": .object([
                "error": .int(counts.error),
                "warning": .int(counts.warning),
                "info": .int(counts.info),
                "filesAnalysed": .int(report.files.count),
                "suppressed": .int(report.suppressedCount),
            ]),
            "notes": .array(report.notes.map(JSONValue.string)),
        ])
    }

    static func finding(_ finding: Finding) -> JSONValue {
        .object([
            "ruleId": .string(finding.ruleId),
            "severity": .string((finding.severity ?? .warning).rawValue),
            "message": .string(finding.message),
            "predicts": .optional(finding.predicts),
            "location": finding.location.map(location) ?? .null,
            "related": .array(finding.related.map { related in
                var fields = location(related.location).objectMembers
                fields["message"] = .string(related.message)
                return .object(fields)
            }),
            "remediation": .optional(finding.remediation),
            "fingerprint": .string(finding.fingerprint),
        ])
    }

    static func location(_ location: SourceLocation) -> JSONValue {
        var fields: [String: JSONValue] = ["file": .string(location.file)]
        if location.line > 0 { fields["line"] = .int(location.line) }
        if location.line > 0 && location.column > 0 { fields["column"] = .int(location.column) }
        if let handle = location.handle { fields["handle"] = .int(handle) }
        return .object(fields)
    }
}

extension JSONValue {
    var objectMembers: [String: JSONValue] {
        if case .object(let members) = self { return members }
        return [:]
    }
}
