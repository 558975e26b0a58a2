import Foundation
import OriginAuditCore
import TestSupport
import Testing

/// The rule catalog and CDN data compiled into the binary (Rules/), checked against the design's
/// public contract: DESIGN.md §5 names every rule id and its predicted outcome, and reports, SARIF
/// and fingerprints depend on those ids never drifting from the catalog.
@Suite("Rule catalog and CDN profiles")
struct CatalogTests {
    /// DESIGN.md §5, copied into the repository (Scripts/sync-rule-contract): the tests read nothing
    /// outside the clone.
    static let contractURL = TestTools.packageRoot.appendingPathComponent("Tests/Data/rule-contract.md")

    /// One row of the §5 table: the rule id and its "predicts" column (nil for "—").
    struct DesignedRule: Equatable {
        var id: String
        var predicts: String?
    }

    /// The rows of the table under the "## 5." heading, in document order.
    static func designedRules(in text: String) -> [DesignedRule] {
        var rows: [DesignedRule] = []
        var inSection = false
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("## ") {
                inSection = line.hasPrefix("## 5.")
                continue
            }
            guard inSection, line.hasPrefix("|") else { continue }
            let cells = line.split(separator: "|", omittingEmptySubsequences: false)
                .dropFirst().dropLast()
                .map { $0.trimmingCharacters(in: .whitespaces) }
            guard cells.count >= 3, let id = cells.first, let predicts = cells.last else { continue }
            // The header row and the `| --- |` separator are not rules.
            if id == "id" || id.allSatisfy({ $0 == "-" }) { continue }
            rows.append(DesignedRule(id: id, predicts: predicts == "—" ? nil : predicts))
        }
        return rows
    }

    @Test("the embedded catalog has exactly the ids of DESIGN.md §5, with the same predicted outcome")
    func catalogMatchesDesign() throws {
        let designed = Self.designedRules(in: try String(contentsOf: Self.contractURL, encoding: .utf8))
        try #require(designed.count > 40, "the §5 table was not found or not parsed in \(Self.contractURL.path)")
        #expect(Set(designed.map(\.id)).count == designed.count, "DESIGN.md §5 lists an id twice")

        let catalog = RuleCatalog.embedded
        let designedIds = Set(designed.map(\.id))
        let catalogIds = Set(catalog.rules.keys)
        #expect(designedIds.subtracting(catalogIds).isEmpty,
                "ids in DESIGN.md §5 without a Rules/ entry: \(designedIds.subtracting(catalogIds).sorted())")
        #expect(catalogIds.subtracting(designedIds).isEmpty,
                "Rules/ entries that DESIGN.md §5 does not define: \(catalogIds.subtracting(designedIds).sorted())")
        for row in designed {
            guard let rule = catalog[row.id] else { continue }
            #expect(rule.predicts == row.predicts, "\(row.id): predicts \(String(describing: rule.predicts)), DESIGN.md says \(String(describing: row.predicts))")
        }
    }

    @Test("every rule file is Rules/<domain>/<id>.yml and no id is defined twice")
    func ruleFilesAreNamedByTheirIds() {
        // cdn/ holds CDN profiles, names/ service and protocol names, webserver/ the directive tables: data, not rules.
        let ruleFiles = EmbeddedRules.files.map(\.path).filter { $0.hasSuffix(".yml") && !$0.hasPrefix("cdn/") && !$0.hasPrefix("names/") && !$0.hasPrefix("webserver/") }
        let catalog = RuleCatalog.embedded
        // The catalog keeps the last of two files with one id; equal counts rule that out.
        #expect(ruleFiles.count == catalog.rules.count, "rule files: \(ruleFiles.count), distinct ids: \(catalog.rules.count)")
        let expectedPaths = Set(catalog.rules.values.map { "\($0.domain)/\($0.id).yml" })
        #expect(Set(ruleFiles) == expectedPaths, "misnamed rule files: \(Set(ruleFiles).symmetricDifference(expectedPaths).sorted())")
    }

    @Test("every catalog entry explains itself and cites https sources", arguments: RuleCatalog.embedded.sorted.map(\.id))
    func entryIsComplete(_ id: String) throws {
        let rule = try #require(RuleCatalog.embedded[id])
        #expect(["input", "firewall", "origin", "tls"].contains(rule.domain), "\(rule.id): unknown domain")
        #expect(rule.id.allSatisfy { $0.isLowercase || $0.isNumber || $0 == "." || $0 == "-" }, "\(rule.id): ids are lowercase")
        #expect(!rule.title.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty, "\(rule.id): empty title")
        #expect(!rule.rationale.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty, "\(rule.id): empty rationale")
        #expect(!rule.remediation.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty, "\(rule.id): empty remediation")
        #expect(!rule.references.isEmpty, "\(rule.id): no references")
        for reference in rule.references {
            let url = URL(string: reference)
            #expect(url?.scheme == "https" && url?.host?.isEmpty == false, "\(rule.id): reference \(reference) is not an https URL")
        }
        if let predicts = rule.predicts {
            #expect(!predicts.isEmpty && predicts != "—", "\(rule.id): write null, not an empty or dash prediction")
        }
    }

    @Test("every embedded CDN profile decodes into usable data", arguments: CDNProfile.embeddedNames)
    func profileIsUsable(_ name: String) throws {
        let profile = try CDNProfile.embedded(name)
        #expect(profile.name == name)
        #expect(URL(string: profile.source)?.scheme == "https", "\(name): source must be an https URL")
        let day = ISO8601DateFormatter()
        day.formatOptions = [.withFullDate]
        #expect(day.date(from: profile.asOf) != nil, "\(name): asOf '\(profile.asOf)' is not a date")
        // Every embedded CDN reaches origins over both families; a CDN that does not would be
        // listed here with the reason, so that a missing family is never an accident.
        let singleFamilyCDNs: [String: String] = [:]
        if singleFamilyCDNs[name] == nil {
            #expect(!profile.ranges.ipv4.isEmpty, "\(name): no IPv4 ranges")
            #expect(!profile.ranges.ipv6.isEmpty, "\(name): no IPv6 ranges")
        }
        #expect(!profile.httpPorts.isEmpty && !profile.httpsPorts.isEmpty, "\(name): proxied ports missing")
        #expect(profile.httpPorts.isDisjoint(with: profile.httpsPorts), "\(name): a port cannot be both HTTP and HTTPS")
        #expect(profile.clientIPHeader?.isEmpty == false, "\(name): no client IP header")
        #expect((profile.connectTimeout ?? 0) > 0 && (profile.readTimeout ?? 0) > 0, "\(name): connect and read timeouts are needed")
        if !profile.tls13Suites.isEmpty {
            #expect(profile.tlsVersions.contains(.tls1_3), "\(name): TLS 1.3 suites without TLSv1.3")
        }
    }

    @Test("CDN ranges are written as prefixes, without host bits", arguments: CDNProfile.embeddedNames)
    func rangesHaveNoHostBits(_ name: String) throws {
        let file = try #require(EmbeddedRules.files.first { $0.path == "cdn/\(name).yml" })
        for line in file.contents.split(separator: "\n") {
            let item = line.trimmingCharacters(in: .whitespaces)
            guard item.hasPrefix("- "), item.contains("/") else { continue }
            let text = item.dropFirst(2).prefix { !$0.isWhitespace }
            guard CIDR(text) != nil else { continue }
            #expect(!CIDR.hasHostBits(text), "\(name): \(text) has host bits set")
        }
    }

    @Test("stale ranges reach beyond the CDN's current ones", arguments: CDNProfile.embeddedNames)
    func staleRangesAreNotCurrent(_ name: String) throws {
        let profile = try CDNProfile.embedded(name)
        // Cloudflare's stale 104.16.0.0/12 contains the current 104.16.0.0/13 and 104.24.0.0/14 by
        // design: what is stale is the part outside them. So every stale block must keep something
        // once the current ranges are taken away, rather than be disjoint from them.
        for cidr in profile.staleRanges.cidrs {
            let block = AddressSet(family: cidr.family, cidrs: [cidr])
            #expect(!block.subtracting(profile.ranges[cidr.family]).isEmpty,
                    "\(name): stale \(cidr) lies entirely inside the current ranges")
        }
    }

    @Test("Cloudflare's stale 104.16.0.0/12 differs from its current ranges exactly by 104.28.0.0/14")
    func cloudflareStaleRemainder() throws {
        let profile = try CDNProfile.embedded("cloudflare")
        let stale = AddressSet(family: .ipv4, cidrs: [try #require(CIDR("104.16.0.0/12"))])
        #expect(profile.staleRanges.ipv4.contains(stale))
        #expect(stale.subtracting(profile.ranges.ipv4).cidrs.map(\.description) == ["104.28.0.0/14"])
    }

    @Test("the embedded CDNs are Cloudflare, CloudFront and Fastly")
    func knownCDNs() {
        #expect(Set(CDNProfile.embeddedNames).isSuperset(of: ["cloudflare", "cloudfront", "fastly"]))
    }
}
