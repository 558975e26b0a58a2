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
    public static func write(_ report: AuditReport, piece: Int = ReportBytes.piece,
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
                let layout = FindingLayout(indent: 2)
                try ReportBytes.write(count: findings.count, bytesPerItem: 1024, into: &out, piece: piece, sink: sink) { index, bytes in
                    layout.write(findings[index], into: &bytes, last: index == findings.count - 1)
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

    /// The constant bytes of a finding in the findings array: what lies between its values (a
    /// member's comma, new line, indentation and key, with the quotation marks of the string
    /// values on either side) made once per report, so a finding is written in about 20 appends
    /// instead of 60 (each append of a few bytes costs about as much as escaping 50).
    struct FindingLayout: Sendable {
        let indent: Int
        /// `{` and the fingerprint's key, up to its opening quotation mark.
        let fingerprint: [UInt8]
        /// `"` closing the fingerprint and the location's key.
        let location: [UInt8]
        /// The message's key, after the location's object (`}`) or `null`.
        let message: [UInt8]
        /// The predicted outcome's key after the message, then `"` or `null`.
        let predicts: [UInt8], predictsNull: [UInt8]
        /// The related places' key after a predicted outcome in quotation marks or after `null`.
        let related: [UInt8], relatedAfterNull: [UInt8]
        /// The remediation's key after the related places, then `"` or `null`.
        let remediation: [UInt8], remediationNull: [UInt8]
        /// The rule id's key after a remediation in quotation marks or after `null`.
        let ruleId: [UInt8], ruleIdAfterNull: [UInt8]
        /// The severity's member and the end of the finding, by `Severity.allCases` position,
        /// each followed by the array's separator (`,`) and without it (the last finding): one
        /// array and where each piece lies in it (an array of arrays hands out each piece as an
        /// array of its own, a retain of it shared by every writing thread).
        let severities: [UInt8]
        let severity: [Range<Int>], lastSeverity: [Range<Int>]
        /// The finding's place (one level further in) and its related places (two levels further).
        let place: PlaceLayout, relatedPlace: PlaceLayout
        /// The related places' array: its start and the first place's indentation, the
        /// separator and indentation between places, its end.
        let relatedOpen: [UInt8], relatedNext: [UInt8], relatedClose: [UInt8]

        init(indent: Int) {
            self.indent = indent
            let spaces = String(repeating: " ", count: 2 * (indent + 1))
            func key(_ name: String, afterString: Bool, string: Bool) -> [UInt8] {
                Array(((afterString ? "\"" : "") + ",\n" + spaces + "\"" + name + "\": " + (string ? "\"" : "")).utf8)
            }
            fingerprint = Array((String(repeating: " ", count: 2 * indent) + "{\n" + spaces + "\"fingerprint\": \"").utf8)
            location = key("location", afterString: true, string: false)
            message = key("message", afterString: false, string: true)
            predicts = key("predicts", afterString: true, string: true)
            predictsNull = key("predicts", afterString: true, string: false) + Array("null".utf8)
            related = key("related", afterString: true, string: false)
            relatedAfterNull = key("related", afterString: false, string: false)
            remediation = key("remediation", afterString: false, string: true)
            remediationNull = key("remediation", afterString: false, string: false) + Array("null".utf8)
            ruleId = key("ruleId", afterString: true, string: true)
            ruleIdAfterNull = key("ruleId", afterString: false, string: true)
            place = PlaceLayout(indent: indent + 1)
            relatedPlace = PlaceLayout(indent: indent + 2)
            let placeIndent = String(repeating: " ", count: 2 * (indent + 2))
            relatedOpen = Array(("[\n" + placeIndent).utf8)
            relatedNext = Array((",\n" + placeIndent).utf8)
            relatedClose = Array(("\n" + spaces + "]").utf8)
            let end = "\"\n" + String(repeating: " ", count: 2 * indent) + "}"
            var severities: [UInt8] = []
            func piece(_ bytes: [UInt8]) -> Range<Int> {
                severities += bytes
                return severities.count - bytes.count..<severities.count
            }
            lastSeverity = Severity.allCases.map { piece(key("severity", afterString: true, string: true) + Array(($0.rawValue + end + "\n").utf8)) }
            severity = Severity.allCases.map { piece(key("severity", afterString: true, string: true) + Array(($0.rawValue + end + ",\n").utf8)) }
            self.severities = severities
        }

        /// `finding(finding)` written at `indent` (its indentation first), the keys in sorted
        /// order, with the array's separator after it.
        func write(_ finding: Finding, into out: inout [UInt8], last: Bool) {
            out.append(constant: fingerprint)
            ReportBytes.hex(finding.fingerprintHash, into: &out)
            out.append(constant: location)
            if let location = finding.location {
                place.write(location, message: nil, into: &out)
            } else {
                JSONValue.append("null", to: &out)
            }
            out.append(constant: message)
            JSONValue.quoted(finding.message, into: &out)
            let predicted = Self.write(finding.predicts, key: predicts, nullKey: predictsNull, into: &out)
            out.append(constant: predicted ? related : relatedAfterNull)
            if finding.related.isEmpty {
                JSONValue.append("[]", to: &out)
            } else {
                out.append(constant: relatedOpen)
                for (index, related) in finding.related.enumerated() {
                    if index > 0 { out.append(constant: relatedNext) }
                    relatedPlace.write(related.location, message: related.message, into: &out)
                }
                out.append(constant: relatedClose)
            }
            let remedied = Self.write(finding.remediation, key: remediation, nullKey: remediationNull, into: &out)
            out.append(constant: remedied ? ruleId : ruleIdAfterNull)
            JSONValue.quoted(finding.ruleId, into: &out)
            let rank = Severity.allCases.firstIndex(of: finding.severity ?? .warning)!
            let piece = last ? lastSeverity[rank] : severity[rank]
            severities.withUnsafeBufferPointer { out.append(contentsOf: UnsafeBufferPointer(rebasing: $0[piece])) }
        }

        /// An optional text: `key` and the text quoted, or `nullKey` (its key and `null`).
        /// Returns whether there was a text: the next key's separator depends on it.
        private static func write(_ text: String?, key: [UInt8], nullKey: [UInt8], into out: inout [UInt8]) -> Bool {
            guard let text else {
                out.append(constant: nullKey)
                return false
            }
            out.append(constant: key)
            JSONValue.quoted(text, into: &out)
            return true
        }
    }

    /// The constant bytes of a location's object (`location(location)`, with a related place's
    /// `message` after its other keys) at one indentation, made once: each key with the
    /// separator and indentation before it.
    struct PlaceLayout: Sendable {
        /// The column's key (first); the file's after it, or first; the handle's and the line's
        /// after the file; the line's after the handle; a related place's message after a
        /// number or after the file (then `"`).
        let column: [UInt8], file: [UInt8], fileFirst: [UInt8], handle: [UInt8], line: [UInt8], lineAfterNumber: [UInt8]
        let message: [UInt8], messageAfterFile: [UInt8]
        /// The object's end after a number or after a string.
        let end: [UInt8], endAfterString: [UInt8]

        init(indent: Int) {
            let inner = String(repeating: " ", count: 2 * (indent + 1)), outer = String(repeating: " ", count: 2 * indent)
            column = Array(("{\n" + inner + "\"column\": ").utf8)
            file = Array((",\n" + inner + "\"file\": \"").utf8)
            fileFirst = Array(("{\n" + inner + "\"file\": \"").utf8)
            handle = Array(("\",\n" + inner + "\"handle\": ").utf8)
            line = Array(("\",\n" + inner + "\"line\": ").utf8)
            lineAfterNumber = Array((",\n" + inner + "\"line\": ").utf8)
            message = Array((",\n" + inner + "\"message\": \"").utf8)
            messageAfterFile = Array(("\",\n" + inner + "\"message\": \"").utf8)
            end = Array(("\n" + outer + "}").utf8)
            endAfterString = Array(("\"\n" + outer + "}").utf8)
        }

        /// The location's object, its keys in sorted order, and `message` last when given.
        func write(_ location: SourceLocation, message text: String?, into out: inout [UInt8]) {
            let line = location.line > 0
            if line && location.column > 0 {
                out.append(constant: column)
                ReportBytes.decimal(location.column, into: &out)
                out.append(constant: file)
            } else {
                out.append(constant: fileFirst)
            }
            JSONValue.quoted(location.file, into: &out)
            var afterNumber = false
            if let handle = location.handle {
                out.append(constant: self.handle)
                ReportBytes.decimal(handle, into: &out)
                afterNumber = true
            }
            if line {
                out.append(constant: afterNumber ? lineAfterNumber : self.line)
                ReportBytes.decimal(location.line, into: &out)
                afterNumber = true
            }
            if let text {
                out.append(constant: afterNumber ? message : messageAfterFile)
                JSONValue.quoted(text, into: &out)
                out.append(constant: endAfterString)
            } else {
                out.append(constant: afterNumber ? end : endAfterString)
            }
        }
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
