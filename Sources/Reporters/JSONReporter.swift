import OriginAuditCore

/// The JSON contract of DESIGN.md §6 (`schemaVersion` 1), plus `notes` on analysis limits.
public enum JSONReporter {
    /// The same bytes as `document(report).rendered()`, with the findings (nearly all of a large
    /// report) written straight into the buffer instead of built as dictionaries first.
    public static func render(_ report: AuditReport) -> String {
        var text = ""
        write(report, piece: Int.max) { text = String(decoding: $0, as: UTF8.self) }
        return text
    }

    /// The bytes of `render(report)`, handed to `sink` in pieces of about `piece` bytes (a report
    /// of 50,000 findings is 46 MB: written as it is made, it is never held whole).
    public static func write(_ report: AuditReport, piece: Int = 1 << 20,
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
                // The findings array as `.array(findings.map(finding))` writes it: a few runs of
                // findings at a time are written on all cores, then handed on in order (so at most
                // those runs are held besides `out`).
                JSONValue.append("[\n", to: &out)
                let findings = report.findings
                var start = 0
                while start < findings.count {
                    let runs = stride(from: start, to: min(findings.count, start + findingRun * runsAtOnce), by: findingRun)
                        .map { $0..<min($0 + findingRun, findings.count) }
                    let written = ConcurrentSlots<[UInt8]>.fill(count: runs.count) { run in
                        var bytes: [UInt8] = []
                        bytes.reserveCapacity(runs[run].count * 1024)
                        for index in runs[run] {
                            JSONValue.indentation(2, into: &bytes)
                            write(findings[index], into: &bytes, indent: 2)
                            JSONValue.append(index == findings.count - 1 ? "\n" : ",\n", to: &bytes)
                        }
                        return bytes
                    }
                    for bytes in written {
                        out.append(contentsOf: bytes ?? [])
                        if out.count >= piece {
                            try out.withUnsafeBytes(sink)
                            out.removeAll(keepingCapacity: true)
                        }
                    }
                    start = runs.last!.upperBound
                }
                JSONValue.indentation(1, into: &out)
                out.append(UInt8(ascii: "]"))
            }
            JSONValue.append(index == keys.count - 1 ? "\n" : ",\n", to: &out)
        }
        out.append(contentsOf: "}\n".utf8)
        try out.withUnsafeBytes(sink)
    }

    /// Findings written by one worker at a time, and how many such runs are written at once.
    static let findingRun = 512
    static let runsAtOnce = 4

    public static func document(_ report: AuditReport) -> JSONValue {
        document(report, findings: report.findings)
    }

    /// One member of an object being written: its key, then the value `body` writes.
    private static func member(_ key: String, first: Bool, indent: Int, into out: inout [UInt8], _ body: (inout [UInt8]) -> Void) {
        JSONValue.append(first ? "{\n" : ",\n", to: &out)
        JSONValue.indentation(indent + 1, into: &out)
        JSONValue.quote(key, into: &out)
        JSONValue.append(": ", to: &out)
        body(&out)
    }

    private static func endObject(indent: Int, into out: inout [UInt8]) {
        out.append(0x0A)
        JSONValue.indentation(indent, into: &out)
        out.append(UInt8(ascii: "}"))
    }

    private static func string(_ text: String?, into out: inout [UInt8]) {
        if let text { JSONValue.quote(text, into: &out) } else { JSONValue.append("null", to: &out) }
    }

    /// `finding(finding)` written: the keys in sorted order.
    static func write(_ finding: Finding, into out: inout [UInt8], indent: Int) {
        member("fingerprint", first: true, indent: indent, into: &out) { string(finding.fingerprint, into: &$0) }
        member("location", first: false, indent: indent, into: &out) { out in
            if let location = finding.location { write(location, message: nil, into: &out, indent: indent + 1) } else { JSONValue.append("null", to: &out) }
        }
        member("message", first: false, indent: indent, into: &out) { string(finding.message, into: &$0) }
        member("predicts", first: false, indent: indent, into: &out) { string(finding.predicts, into: &$0) }
        member("related", first: false, indent: indent, into: &out) { out in
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
        member("remediation", first: false, indent: indent, into: &out) { string(finding.remediation, into: &$0) }
        member("ruleId", first: false, indent: indent, into: &out) { string(finding.ruleId, into: &$0) }
        member("severity", first: false, indent: indent, into: &out) { string((finding.severity ?? .warning).rawValue, into: &$0) }
        endObject(indent: indent, into: &out)
    }

    /// `location(location)` written, with a related location's `message` after its other keys.
    static func write(_ location: SourceLocation, message: String?, into out: inout [UInt8], indent: Int) {
        var first = true
        if location.line > 0 && location.column > 0 {
            member("column", first: first, indent: indent, into: &out) { JSONValue.append(String(location.column), to: &$0) }
            first = false
        }
        member("file", first: first, indent: indent, into: &out) { string(location.file, into: &$0) }
        if let handle = location.handle {
            member("handle", first: false, indent: indent, into: &out) { JSONValue.append(String(handle), to: &$0) }
        }
        if location.line > 0 {
            member("line", first: false, indent: indent, into: &out) { JSONValue.append(String(location.line), to: &$0) }
        }
        if let message { member("message", first: false, indent: indent, into: &out) { string(message, into: &$0) } }
        endObject(indent: indent, into: &out)
    }

    static func document(_ report: AuditReport, findings: [Finding]) -> JSONValue {
        .object([
            "schemaVersion": .int(1),
            "tool": .object(["name": .string(ToolInfo.name), "version": .string(report.toolVersion)]),
            "profile": .object([
                "cdn": .string(report.cdn),
                "tlsMode": .string(report.tlsMode.rawValue),
                "at": .string(Profile.format(report.at)),
            ]),
            "findings": .array(findings.map(finding)),
            "summary": .object([
                "error": .int(report.count(.error)),
                "warning": .int(report.count(.warning)),
                "info": .int(report.count(.info)),
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
