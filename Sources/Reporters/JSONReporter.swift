import OriginAuditCore

/// The JSON contract of DESIGN.md §6 (`schemaVersion` 1), plus `notes` on analysis limits.
public enum JSONReporter {
    public static func render(_ report: AuditReport) -> String {
        document(report).rendered()
    }

    public static func document(_ report: AuditReport) -> JSONValue {
        .object([
            "schemaVersion": .int(1),
            "tool": .object(["name": .string(ToolInfo.name), "version": .string(report.toolVersion)]),
            "profile": .object([
                "cdn": .string(report.cdn),
                "tlsMode": .string(report.tlsMode.rawValue),
                "at": .string(Profile.format(report.at)),
            ]),
            "findings": .array(report.findings.map(finding)),
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
