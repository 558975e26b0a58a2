import Foundation
import OriginAuditCore

/// SARIF 2.1.0 for code scanning: every catalog rule with its help text, repository-relative
/// URIs, start lines ≥ 1, and `partialFingerprints` so alerts survive line moves.
public enum SARIFReporter {
    public static func render(_ report: AuditReport) -> String {
        let rules = report.catalog.sorted
        let ruleIndex = Dictionary(uniqueKeysWithValues: rules.enumerated().map { ($1.id, $0) })
        var run: [String: JSONValue] = [
            "tool": .object(["driver": .object([
                "name": .string(ToolInfo.name),
                "version": .string(report.toolVersion),
                "semanticVersion": .string(report.toolVersion),
                "informationUri": .string(ToolInfo.informationURI),
                "rules": .array(rules.map(ruleDescriptor)),
            ])]),
            "results": .array(report.findings.map { result($0, ruleIndex: ruleIndex) }),
            "columnKind": .string("unicodeCodePoints"),
            "properties": .object([
                "cdn": .string(report.cdn),
                "tlsMode": .string(report.tlsMode.rawValue),
                "at": .string(Profile.format(report.at)),
            ]),
        ]
        run["invocations"] = .array([.object([
            "executionSuccessful": .bool(true),
            "toolExecutionNotifications": .array(report.notes.map { note in
                .object(["level": .string("note"), "message": .object(["text": .string(note)])])
            }),
        ])])
        return JSONValue.object([
            "$schema": .string("https://json.schemastore.org/sarif-2.1.0.json"),
            "version": .string("2.1.0"),
            "runs": .array([.object(run)]),
        ]).rendered()
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

    /// A relative path stays relative (resolved against the repository root by code scanning);
    /// an absolute one becomes a file URI. Both are percent-encoded.
    static func uri(_ path: String) -> String {
        var allowed = CharacterSet.urlPathAllowed
        allowed.remove(charactersIn: ":")
        let encoded = path.addingPercentEncoding(withAllowedCharacters: allowed) ?? path
        return path.hasPrefix("/") ? "file://" + encoded : encoded
    }
}
