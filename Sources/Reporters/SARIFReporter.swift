import Foundation
import OriginAuditCore

/// SARIF 2.1.0 for code scanning: every catalog rule with its help text, repository-relative
/// URIs, start lines ≥ 1, and `partialFingerprints` so alerts survive line moves.
public enum SARIFReporter {
    public static func render(_ report: AuditReport) -> String {
        ReportBytes.string { sink in write(report, piece: Int.max, to: sink) }
    }

    /// The bytes of `render(report)` (`document(report).rendered()`), handed to `sink` in pieces
    /// of about `piece` bytes: the results, nearly all of a large report, are written straight
    /// into bytes on all cores instead of built as a tree of dictionaries first.
    public static func write(_ report: AuditReport, piece: Int = ReportBytes.piece,
                             to sink: (UnsafeRawBufferPointer) throws -> Void) rethrows {
        let rules = report.catalog.sorted
        let ruleIndex = Dictionary(uniqueKeysWithValues: rules.enumerated().map { ($1.id, $0) })
        var out: [UInt8] = []
        out.reserveCapacity(min(piece, 4096 + report.findings.count * 1024) + 64 * 1024)
        JSONValue.member("$schema", first: true, indent: 0, into: &out) { JSONValue.quote(schema, into: &$0) }
        JSONValue.member("runs", first: false, indent: 0, into: &out) { out in
            JSONValue.append("[\n", to: &out)
            JSONValue.indentation(2, into: &out)
        }
        // The one run, its members in sorted order (as `document` would write them).
        let run = runMembers(report, rules: rules)
        JSONValue.member("columnKind", first: true, indent: 2, into: &out) { run["columnKind"]!.write(into: &$0, indent: 3) }
        JSONValue.member("invocations", first: false, indent: 2, into: &out) { run["invocations"]!.write(into: &$0, indent: 3) }
        JSONValue.member("properties", first: false, indent: 2, into: &out) { run["properties"]!.write(into: &$0, indent: 3) }
        JSONValue.member("results", first: false, indent: 2, into: &out) { _ in }
        let findings = report.findings
        if findings.isEmpty {
            JSONValue.append("[]", to: &out)
        } else {
            JSONValue.append("[\n", to: &out)
            try ReportBytes.write(count: findings.count, bytesPerItem: 1280, into: &out, piece: piece, sink: sink) { index, bytes in
                JSONValue.indentation(4, into: &bytes)
                write(findings[index], ruleIndex: ruleIndex, into: &bytes, indent: 4)
                JSONValue.append(index == findings.count - 1 ? "\n" : ",\n", to: &bytes)
            }
            JSONValue.indentation(3, into: &out)
            out.append(UInt8(ascii: "]"))
        }
        JSONValue.member("tool", first: false, indent: 2, into: &out) { run["tool"]!.write(into: &$0, indent: 3) }
        JSONValue.endObject(indent: 2, into: &out)
        JSONValue.append("\n", to: &out)
        JSONValue.indentation(1, into: &out)
        out.append(UInt8(ascii: "]"))
        JSONValue.member("version", first: false, indent: 0, into: &out) { JSONValue.quote(version, into: &$0) }
        JSONValue.endObject(indent: 0, into: &out)
        out.append(0x0A)
        try ReportBytes.flush(&out, sink)
    }

    static let schema = "https://json.schemastore.org/sarif-2.1.0.json"
    static let version = "2.1.0"

    /// The whole log as a tree: what `write` writes.
    static func document(_ report: AuditReport) -> JSONValue {
        let rules = report.catalog.sorted
        let ruleIndex = Dictionary(uniqueKeysWithValues: rules.enumerated().map { ($1.id, $0) })
        var run = runMembers(report, rules: rules)
        run["results"] = .array(report.findings.map { result($0, ruleIndex: ruleIndex) })
        return JSONValue.object([
            "$schema": .string(schema),
            "version": .string(version),
            "runs": .array([.object(run)]),
        ])
    }

    /// The run's members besides its results.
    static func runMembers(_ report: AuditReport, rules: [RuleDescription]) -> [String: JSONValue] {
        [
            "tool": .object(["driver": .object([
                "name": .string(ToolInfo.name),
                "version": .string(report.toolVersion),
                "semanticVersion": .string(report.toolVersion),
                "informationUri": .string(ToolInfo.informationURI),
                "rules": .array(rules.map(ruleDescriptor)),
            ])]),
            "columnKind": .string("unicodeCodePoints"),
            "properties": .object([
                "cdn": .string(report.cdn),
                "tlsMode": .string(report.tlsMode.rawValue),
                "at": .string(Profile.format(report.at)),
            ]),
            "invocations": .array([.object([
                "executionSuccessful": .bool(true),
                "toolExecutionNotifications": .array(report.notes.map { note in
                    .object(["level": .string("note"), "message": .object(["text": .string(note)])])
                }),
            ])]),
        ]
    }

    static func level(_ severity: Severity?) -> String {
        switch severity ?? .warning {
        case .error: "error"
        case .warning: "warning"
        case .info: "note"
        }
    }

    static func ruleDescriptor(_ rule: RuleDescription) -> JSONValue {
        var help = rule.rationale.trimmingCharacters(in: .whitespacesAndNewlines) + "\n\nFix: " + rule.remediation.trimmingCharacters(in: .whitespacesAndNewlines)
        if !rule.references.isEmpty { help += "\n\nReferences:\n" + rule.references.map { "- " + $0 }.joined(separator: "\n") }
        var properties: [String: JSONValue] = ["tags": .array([.string(rule.domain), .string("cdn")])]
        if let predicts = rule.predicts { properties["predicts"] = .string(predicts) }
        var descriptor: [String: JSONValue] = [
            "id": .string(rule.id),
            "name": .string(rule.id.split(separator: ".").last.map { $0.split(separator: "-").map { $0.capitalized }.joined() } ?? rule.id),
            "shortDescription": .object(["text": .string(rule.title)]),
            "fullDescription": .object(["text": .string(rule.rationale.trimmingCharacters(in: .whitespacesAndNewlines))]),
            "help": .object(["text": .string(help), "markdown": .string(help)]),
            "defaultConfiguration": .object(["level": .string(level(rule.severity))]),
            "properties": .object(properties),
        ]
        if let first = rule.references.first { descriptor["helpUri"] = .string(first) }
        return .object(descriptor)
    }

    static func result(_ finding: Finding, ruleIndex: [String: Int]) -> JSONValue {
        var fields: [String: JSONValue] = [
            "ruleId": .string(finding.ruleId),
            "level": .string(level(finding.severity)),
            "message": .object(["text": .string(messageText(finding))]),
            "partialFingerprints": .object(["originaudit/v1": .string(finding.fingerprint)]),
        ]
        if let index = ruleIndex[finding.ruleId] { fields["ruleIndex"] = .int(index) }
        if let location = finding.location { fields["locations"] = .array([physical(location)]) }
        if !finding.related.isEmpty {
            fields["relatedLocations"] = .array(finding.related.enumerated().map { index, related in
                var members = physical(related.location).objectMembers
                members["id"] = .int(index + 1)
                members["message"] = .object(["text": .string(related.message)])
                return .object(members)
            })
        }
        if let predicts = finding.predicts { fields["properties"] = .object(["predicts": .string(predicts)]) }
        return .object(fields)
    }

    static func messageText(_ finding: Finding) -> String {
        var text = finding.message
        if let predicts = finding.predicts { text += " Predicts: \(predicts)." }
        return text
    }

    static func physical(_ location: SourceLocation) -> JSONValue {
        var physicalLocation: [String: JSONValue] = ["artifactLocation": .object(["uri": .string(uri(location.file))])]
        if location.line >= 1 {
            var region: [String: JSONValue] = ["startLine": .int(location.line)]
            if location.column >= 1 { region["startColumn"] = .int(location.column) }
            physicalLocation["region"] = .object(region)
        }
        return .object(["physicalLocation": .object(physicalLocation)])
    }

    /// `result(finding, ruleIndex:)` written: the keys in sorted order.
    static func write(_ finding: Finding, ruleIndex: [String: Int], into out: inout [UInt8], indent: Int) {
        JSONValue.member("level", first: true, indent: indent, into: &out) { JSONValue.quote(level(finding.severity), into: &$0) }
        if let location = finding.location {
            JSONValue.member("locations", first: false, indent: indent, into: &out) { out in
                JSONValue.append("[\n", to: &out)
                JSONValue.indentation(indent + 2, into: &out)
                write(location, related: nil, into: &out, indent: indent + 2)
                JSONValue.append("\n", to: &out)
                JSONValue.indentation(indent + 1, into: &out)
                out.append(UInt8(ascii: "]"))
            }
        }
        JSONValue.member("message", first: false, indent: indent, into: &out) { out in
            JSONValue.member("text", first: true, indent: indent + 1, into: &out) { out in
                if let predicts = finding.predicts {
                    // `messageText(finding)`, written without making it.
                    out.append(UInt8(ascii: "\""))
                    JSONValue.quoted(finding.message, into: &out)
                    JSONValue.append(" Predicts: ", to: &out)
                    JSONValue.quoted(predicts, into: &out)
                    JSONValue.append(".\"", to: &out)
                } else {
                    JSONValue.quote(finding.message, into: &out)
                }
            }
            JSONValue.endObject(indent: indent + 1, into: &out)
        }
        JSONValue.member("partialFingerprints", first: false, indent: indent, into: &out) { out in
            JSONValue.member("originaudit/v1", first: true, indent: indent + 1, into: &out) { out in
                // `finding.fingerprint` quoted (hex digits need no escape), without making it.
                out.append(UInt8(ascii: "\""))
                ReportBytes.hex(finding.fingerprintHash, into: &out)
                out.append(UInt8(ascii: "\""))
            }
            JSONValue.endObject(indent: indent + 1, into: &out)
        }
        if let predicts = finding.predicts {
            JSONValue.member("properties", first: false, indent: indent, into: &out) { out in
                JSONValue.member("predicts", first: true, indent: indent + 1, into: &out) { JSONValue.quote(predicts, into: &$0) }
                JSONValue.endObject(indent: indent + 1, into: &out)
            }
        }
        if !finding.related.isEmpty {
            JSONValue.member("relatedLocations", first: false, indent: indent, into: &out) { out in
                JSONValue.append("[\n", to: &out)
                for (index, related) in finding.related.enumerated() {
                    JSONValue.indentation(indent + 2, into: &out)
                    write(related.location, related: (index + 1, related.message), into: &out, indent: indent + 2)
                    JSONValue.append(index == finding.related.count - 1 ? "\n" : ",\n", to: &out)
                }
                JSONValue.indentation(indent + 1, into: &out)
                out.append(UInt8(ascii: "]"))
            }
        }
        JSONValue.member("ruleId", first: false, indent: indent, into: &out) { JSONValue.quote(finding.ruleId, into: &$0) }
        if let index = ruleIndex[finding.ruleId] {
            JSONValue.member("ruleIndex", first: false, indent: indent, into: &out) { ReportBytes.decimal(index, into: &$0) }
        }
        JSONValue.endObject(indent: indent, into: &out)
    }

    /// `physical(location)` written; a related location's id and message before its other key.
    static func write(_ location: SourceLocation, related: (id: Int, message: String)?, into out: inout [UInt8], indent: Int) {
        if let related {
            JSONValue.member("id", first: true, indent: indent, into: &out) { ReportBytes.decimal(related.id, into: &$0) }
            JSONValue.member("message", first: false, indent: indent, into: &out) { out in
                JSONValue.member("text", first: true, indent: indent + 1, into: &out) { JSONValue.quote(related.message, into: &$0) }
                JSONValue.endObject(indent: indent + 1, into: &out)
            }
        }
        JSONValue.member("physicalLocation", first: related == nil, indent: indent, into: &out) { out in
            JSONValue.member("artifactLocation", first: true, indent: indent + 1, into: &out) { out in
                JSONValue.member("uri", first: true, indent: indent + 2, into: &out) { JSONValue.quote(uri(location.file), into: &$0) }
                JSONValue.endObject(indent: indent + 2, into: &out)
            }
            if location.line >= 1 {
                JSONValue.member("region", first: false, indent: indent + 1, into: &out) { out in
                    if location.column >= 1 {
                        JSONValue.member("startColumn", first: true, indent: indent + 2, into: &out) { ReportBytes.decimal(location.column, into: &$0) }
                    }
                    JSONValue.member("startLine", first: location.column < 1, indent: indent + 2, into: &out) { ReportBytes.decimal(location.line, into: &$0) }
                    JSONValue.endObject(indent: indent + 2, into: &out)
                }
            }
            JSONValue.endObject(indent: indent + 1, into: &out)
        }
        JSONValue.endObject(indent: indent, into: &out)
    }

    /// A relative path stays relative (resolved against the repository root by code scanning);
    /// an absolute one becomes a file URI. Both are percent-encoded.
    static func uri(_ path: String) -> String {
        // Nearly every path is made of characters the encoding leaves alone: kept as it is.
        if path.utf8.allSatisfy({ uriPlain[Int($0)] }) { return path.hasPrefix("/") ? "file://" + path : path }
        var allowed = CharacterSet.urlPathAllowed
        allowed.remove(charactersIn: ":")
        let encoded = path.addingPercentEncoding(withAllowedCharacters: allowed) ?? path
        return path.hasPrefix("/") ? "file://" + encoded : encoded
    }

    /// ASCII bytes that `urlPathAllowed` without ":" leaves unencoded: letters, digits and
    /// `-._~!$&'()*+,=@/`.
    private static let uriPlain: [Bool] = (0..<256).map { byte in
        guard byte < 0x80 else { return false }
        let scalar = Unicode.Scalar(UInt8(byte))
        return ("a"..."z").contains(scalar) || ("A"..."Z").contains(scalar) || ("0"..."9").contains(scalar)
            || "-._~!$&'()*+,=@/".unicodeScalars.contains(scalar)
    }
}
