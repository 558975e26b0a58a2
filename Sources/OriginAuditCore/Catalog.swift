import Foundation
import Yams

/// The description of one rule, from `Rules/<domain>/<id>.yml`.
public struct RuleDescription: Sendable, Hashable, Codable {
    public var id: String
    public var title: String
    public var severity: Severity
    /// Visitor-facing outcome ("522", "redirect loop"), or nil where the rule predicts none.
    public var predicts: String?
    public var rationale: String
    public var remediation: String
    public var references: [String]

    public init(id: String, title: String, severity: Severity, predicts: String?, rationale: String, remediation: String, references: [String]) {
        self.id = id
        self.title = title
        self.severity = severity
        self.predicts = predicts
        self.rationale = rationale
        self.remediation = remediation
        self.references = references
    }

    /// The domain part of the id (`firewall` of `firewall.cdn-dropped`).
    public var domain: String { String(id.prefix { $0 != "." }) }
}

/// An error in a catalog or CDN data file, with the file it came from.
public struct CatalogError: Error, CustomStringConvertible, Sendable {
    public var file: String
    public var message: String
    public var description: String { "\(file): \(message)" }
}

/// Every rule description, keyed by id: the embedded `Rules/` plus any `--rules DIR` overrides.
public struct RuleCatalog: Sendable {
    public private(set) var rules: [String: RuleDescription]

    public init(rules: [RuleDescription]) {
        self.rules = Dictionary(rules.map { ($0.id, $0) }, uniquingKeysWith: { _, last in last })
    }

    /// The catalog compiled into the binary from Rules/, decoded when the binary was built
    /// (RulesEmbedder: a broken file there stops the build).
    public static let embedded = RuleCatalog(rules: EmbeddedRules.ruleDescriptions.filter { isRuleFile($0.path) }.map(\.rule))

    /// Adds or overrides descriptions with the `*.yml` files of a directory (`--rules DIR`).
    /// A file may set any subset of fields for an existing id; a new id needs them all.
    public mutating func merge(directory: URL) -> [CatalogError] {
        var errors: [CatalogError] = []
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory.path, isDirectory: &isDirectory) else {
            return [CatalogError(file: directory.path, message: "does not exist")]
        }
        guard isDirectory.boolValue else {
            return [CatalogError(file: directory.path, message: "is not a directory (give a directory of rule YAML files)")]
        }
        let files = (FileManager.default.enumerator(at: directory, includingPropertiesForKeys: nil)?
            .compactMap { $0 as? URL }.filter { $0.pathExtension == "yml" } ?? []).sorted { $0.path < $1.path }
        for url in files {
            // Read without blocking (a FIFO named *.yml) and bounded, like every input.
            guard case .success(let bytes) = SourceTree(root: nil).read(url.path), let text = String(validating: bytes, as: UTF8.self) else {
                errors.append(CatalogError(file: url.path, message: "cannot be read as UTF-8 text"))
                continue
            }
            if let line = YAMLNesting.firstTooDeep(text) {
                errors.append(CatalogError(file: "\(url.path):\(line)", message: "nests deeper than \(YAMLNesting.maxDepth) levels: not read"))
                continue
            }
            do {
                guard let fields = try Yams.load(yaml: text) as? [String: Any], let id = fields["id"] as? String else {
                    throw CatalogError(file: url.path, message: "needs a mapping with an `id`")
                }
                if var existing = rules[id] {
                    if let v = fields["title"] as? String { existing.title = v }
                    if let v = fields["severity"] as? String {
                        guard let s = Severity(rawValue: v) else { throw CatalogError(file: url.path, message: "severity must be error, warning or info") }
                        existing.severity = s
                    }
                    if let v = fields["predicts"] as? String { existing.predicts = v }
                    if let v = fields["rationale"] as? String { existing.rationale = v }
                    if let v = fields["remediation"] as? String { existing.remediation = v }
                    if let v = fields["references"] as? [String] { existing.references = v }
                    rules[id] = existing
                } else {
                    rules[id] = try RuleCatalog.decodeRule(text, file: url.path)
                }
            } catch let error as CatalogError {
                errors.append(error)
            } catch {
                let (line, column, reason) = YAMLNesting.describe(error)
                errors.append(CatalogError(file: "\(url.path):\(line):\(column)", message: reason))
            }
        }
        return errors
    }

    public subscript(id: String) -> RuleDescription? { rules[id] }

    /// All descriptions, ordered by id.
    public var sorted: [RuleDescription] { rules.values.sorted { $0.id < $1.id } }

    /// Fills severity, predicted outcome and remediation of a finding from its rule's entry,
    /// wherever the producer left them unset.
    public func complete(_ finding: Finding) -> Finding {
        var result = finding
        complete(&result)
        return result
    }

    /// `finding = complete(finding)`, in place: only what is unset is written.
    public func complete(_ finding: inout Finding) {
        Defaults(rules[finding.ruleId]).fill(&finding)
    }

    /// `complete` for each finding. A rule's thousands of findings share one id: its entry is
    /// looked up (and its fields read out) once per run of equal ids, not once per finding,
    /// which also spares retaining and releasing every string of the entry each time — strings
    /// the rules running on the other core touch too.
    public func complete(_ findings: inout [Finding]) {
        var last: (id: String, defaults: Defaults)?
        for index in findings.indices {
            let defaults: Defaults
            if let last, last.id == findings[index].ruleId {
                defaults = last.defaults
            } else {
                let id = findings[index].ruleId
                defaults = Defaults(rules[id])
                last = (id, defaults)
            }
            defaults.fill(&findings[index])
        }
    }

    /// What `complete` writes into a finding of one rule.
    private struct Defaults {
        var severity: Severity
        /// nil: no entry for the id (then only the severity is filled).
        var entry: (predicts: String?, remediation: String)?

        init(_ rule: RuleDescription?) {
            severity = rule?.severity ?? .warning
            entry = rule.map { ($0.predicts, $0.remediation) }
        }

        func fill(_ finding: inout Finding) {
            if finding.severity == nil { finding.severity = severity }
            guard let entry else { return }
            if finding.predicts == nil, let predicts = entry.predicts { finding.predicts = predicts }
            if finding.remediation == nil { finding.remediation = entry.remediation }
        }
    }

    static func isRuleFile(_ path: String) -> Bool {
        path.hasSuffix(".yml") && !path.hasPrefix("cdn/") && !path.hasPrefix("names/") && !path.hasPrefix("webserver/")
    }

    static func decodeRule(_ text: String, file: String) throws -> RuleDescription {
        do {
            let rule = try YAMLDecoder().decode(RuleDescription.self, from: text)
            return rule
        } catch {
            throw CatalogError(file: file, message: "not a rule description: \(error)")
        }
    }
}
