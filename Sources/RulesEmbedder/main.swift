// Turns every file under Rules/ into a Swift string literal, so that the binary carries its rule
// catalog, CDN data and trust anchors and works when copied alone to another directory; and
// decodes the YAML that every run needs (the rule descriptions and the CDN profiles) here, at
// build time, into Swift values, so that a run decodes no YAML. (The YAML library's resolver
// compiles regular expressions, and those load ICU: ~4 MB more resident memory and a few ms on
// every run, for data that is the same every time.)
import Foundation
import Yams

let arguments = CommandLine.arguments
guard arguments.count == 3 else {
    FileHandle.standardError.write(Data("usage: RulesEmbedder RULES_DIR OUTPUT.swift\n".utf8))
    exit(2)
}
let rulesDirectory = URL(fileURLWithPath: arguments[1], isDirectory: true).standardizedFileURL
let output = URL(fileURLWithPath: arguments[2])

/// Stops the build with a message naming the file.
func fail(_ path: String, _ message: String) -> Never {
    FileHandle.standardError.write(Data("Rules/\(path): error: \(message)\n".utf8))
    exit(1)
}

var relativePaths: [String] = []
if let walker = FileManager.default.enumerator(at: rulesDirectory, includingPropertiesForKeys: [.isRegularFileKey]) {
    for case let url as URL in walker {
        guard (try? url.resourceValues(forKeys: [.isRegularFileKey]).isRegularFile) == true else { continue }
        let name = url.lastPathComponent
        guard !name.hasPrefix("."), name.hasSuffix(".yml") || name.hasSuffix(".pem") else { continue }
        let full = url.standardizedFileURL.path
        relativePaths.append(String(full.dropFirst(rulesDirectory.path.count + 1)))
    }
}
relativePaths.sort()

/// Escapes text as the body of an ordinary Swift string literal.
func literal(_ text: String) -> String {
    var out = "\""
    out.reserveCapacity(text.utf8.count + 16)
    for scalar in text.unicodeScalars {
        switch scalar {
        case "\\": out += "\\\\"
        case "\"": out += "\\\""
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        default:
            if scalar.value < 0x20 || scalar.value > 0x7E {
                out += "\\u{\(String(scalar.value, radix: 16))}"
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
    }
    return out + "\""
}

/// A rule description's fields as `RuleCatalog` decodes them (`RuleDescription`, with the
/// severity as text: checked below).
struct RuleFields: Decodable {
    var id: String
    var title: String
    var severity: String
    var predicts: String?
    var rationale: String
    var remediation: String
    var references: [String]
}

/// A value loaded by `Yams.load` as Swift source of an `EmbeddedValue`: mappings (keys sorted, so
/// that the output is the same on every build) and sequences as they are, every other value as
/// the text `"\(value)"` gives, which is all the CDN decoder asks of one.
func embeddedValue(_ value: Any, indent: String) -> String {
    if let mapping = value as? [String: Any] {
        let entries = mapping.keys.sorted().map { "\(indent)    (\(literal($0)), \(embeddedValue(mapping[$0]!, indent: indent + "    ")))" }
        return entries.isEmpty ? ".map([])" : ".map([\n" + entries.joined(separator: ",\n") + ",\n\(indent)])"
    }
    if let sequence = value as? [Any] {
        let entries = sequence.map { "\(indent)    \(embeddedValue($0, indent: indent + "    "))" }
        return entries.isEmpty ? ".list([])" : ".list([\n" + entries.joined(separator: ",\n") + ",\n\(indent)])"
    }
    return ".text(\(literal("\(value)")))"
}

var files = ""
var rules = ""
var documents = ""
for path in relativePaths {
    let contents = try String(contentsOf: rulesDirectory.appendingPathComponent(path), encoding: .utf8)
    files += "        (\(literal(path)), \(literal(contents))),\n"
    guard path.hasSuffix(".yml") else { continue }
    let loaded: Any?
    do { loaded = try Yams.load(yaml: contents) } catch { fail(path, "not YAML: \(error)") }
    if path.hasPrefix("cdn/") {
        guard let loaded, loaded is [String: Any] else { fail(path, "a CDN profile must be a mapping") }
        documents += "        (\(literal(path)), \(embeddedValue(loaded, indent: "        "))),\n"
    } else if let mapping = loaded as? [String: Any], mapping["id"] != nil {
        let rule: RuleFields
        do { rule = try YAMLDecoder().decode(RuleFields.self, from: contents) } catch { fail(path, "not a rule description: \(error)") }
        guard ["error", "warning", "info"].contains(rule.severity) else { fail(path, "severity must be error, warning or info") }
        rules += """
                    (\(literal(path)), RuleDescription(
                        id: \(literal(rule.id)), title: \(literal(rule.title)), severity: .\(rule.severity),
                        predicts: \(rule.predicts.map(literal) ?? "nil"),
                        rationale: \(literal(rule.rationale)),
                        remediation: \(literal(rule.remediation)),
                        references: [\(rule.references.map(literal).joined(separator: ", "))])),

            """
    }
}

let source = """
// Generated by RulesEmbedder from Rules/ at build time. Do not edit.

/// The files of Rules/ (path relative to Rules/, contents), embedded into the binary.
package enum EmbeddedRules {
    package static let files: [(path: String, contents: String)] = [
\(files)    ]

    /// The rule descriptions among them (every YAML mapping with an `id`, outside cdn/), decoded at build time.
    package static let ruleDescriptions: [(path: String, rule: RuleDescription)] = [
\(rules)    ]

    /// The CDN profiles (cdn/*.yml) as the YAML library loads them, decoded at build time.
    package static let cdnDocuments: [(path: String, document: EmbeddedValue)] = [
\(documents)    ]
}

"""
try FileManager.default.createDirectory(at: output.deletingLastPathComponent(), withIntermediateDirectories: true)
if (try? String(contentsOf: output, encoding: .utf8)) != source {
    try source.write(to: output, atomically: true, encoding: .utf8)
}
