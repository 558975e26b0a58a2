@testable import OriginAuditCore
import Testing

/// The rule descriptions and CDN profiles the build decodes from Rules/ (RulesEmbedder) are what
/// decoding the same embedded YAML at run time gives, field for field: the binary no longer
/// decodes it, and must not see other data than before.
@Suite("Rules/ decoded at build time")
struct EmbeddedRulesTests {
    @Test("every rule description equals its YAML decoded at run time")
    func ruleDescriptionsEqualTheYAML() throws {
        let files = EmbeddedRules.files.filter { RuleCatalog.isRuleFile($0.path) }
        #expect(files.count > 40)
        #expect(RuleCatalog.embedded.rules.count == files.count)
        for file in files {
            let decoded = try RuleCatalog.decodeRule(file.contents, file: file.path)
            #expect(RuleCatalog.embedded[decoded.id] == decoded, "\(file.path)")
            #expect(EmbeddedRules.ruleDescriptions.first { $0.path == file.path }?.rule == decoded, "\(file.path)")
        }
    }

    @Test("every CDN profile equals its YAML decoded at run time")
    func cdnProfilesEqualTheYAML() throws {
        let files = EmbeddedRules.files.filter { $0.path.hasPrefix("cdn/") && $0.path.hasSuffix(".yml") }
        #expect(CDNProfile.embeddedNames == files.map { String($0.path.dropFirst(4).dropLast(4)) }.sorted())
        #expect(CDNProfile.embeddedNames.contains("cloudflare"))
        for file in files {
            let name = String(file.path.dropFirst(4).dropLast(4))
            let decoded = try CDNProfile.decode(yaml: file.contents, file: "Rules/" + file.path)
            #expect(try CDNProfile.embedded(name) == decoded, "\(file.path)")
            #expect(decoded.connectTimeout != nil && !decoded.ranges.ipv4.isEmpty, "\(file.path): the comparison compares something")
        }
    }

    @Test("a loaded document's values keep their text, lists and mappings")
    func loadedDocumentShape() throws {
        let document = EmbeddedValue.map([("a", .text("15")), ("b", .list([.text("x"), .map([])]))])
        let root = try #require(document.loaded as? [String: Any])
        #expect(root["a"] as? String == "15")
        let list = try #require(root["b"] as? [Any])
        #expect(list.first as? String == "x" && (list.last as? [String: Any])?.isEmpty == true)
    }
}
