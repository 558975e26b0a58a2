import Foundation
import Testing
import OriginAuditCore
import Firewall
import TestSupport
@testable import AuditRules

/// Loads firewall text into an OriginModel the way the input pipeline does.
func firewallOriginModel(_ files: [(name: String, text: String)]) -> OriginModel {
    let inputs = files.map { file in
        FirewallInput(kind: FirewallFixture.kind(of: file.name), familyHint: file.name.hasSuffix(".v6") ? .ipv6 : nil,
                      displayPath: file.name, bytes: Array(file.text.utf8))
    }
    return OriginModel(firewall: FirewallLoader.load(inputs).model, files: files.map(\.name))
}

/// A profile with a custom CDN made of these CIDRs (ports and timeouts are Cloudflare's).
func firewallTestProfile(_ cidrs: [String], tlsMode: TLSMode = .full) throws -> Profile {
    let cdn = try CDNProfile.custom(rangesFile: cidrs.joined(separator: "\n"), file: "cdn.txt", base: CDNProfile.embedded("cloudflare"))
    return Profile(cdn: cdn, tlsMode: tlsMode, at: Date(timeIntervalSince1970: 1_795_392_000))
}

/// Runs one rule (a shorthand for the tests below).
func checkFirewallRule(_ rule: any AuditRule, _ model: OriginModel, _ profile: Profile) -> [Finding] { rule.check(model, profile: profile) }

/// The firewall fixtures: `Fixtures/<rule-id>/<case>/` must trigger the rule, `<case>_fp/` must not.
/// The lead's harness scans them with the whole pipeline; this walks them with the firewall loader
/// alone, so the fixtures are proven here too.
enum FirewallFixture {
    static var root: URL { TestTools.packageRoot.appendingPathComponent("Tests/AuditRulesTests/Fixtures") }

    static func kind(of name: String) -> FirewallInputKind {
        if name.hasPrefix("ipset") { return .ipset }
        if name.hasSuffix(".json") { return .nftJSON }
        if name.hasSuffix(".nft") { return .nftText }
        if name.hasSuffix(".txt") || name.hasSuffix(".rules") { return .iptablesRules }
        return .iptablesSave
    }

    struct Case: Sendable, CustomStringConvertible {
        var ruleId: String
        var directory: String
        var mustTrigger: Bool
        var description: String { "\(ruleId)/\((directory as NSString).lastPathComponent)" }
    }

    static var cases: [Case] {
        let manager = FileManager.default
        guard let rules = try? manager.contentsOfDirectory(atPath: root.path) else { return [] }
        return rules.filter { $0.hasPrefix("firewall.") }.sorted().flatMap { ruleId -> [Case] in
            let folder = root.appendingPathComponent(ruleId)
            let names = (try? manager.contentsOfDirectory(atPath: folder.path)) ?? []
            return names.sorted().map { Case(ruleId: ruleId, directory: folder.appendingPathComponent($0).path, mustTrigger: !$0.hasSuffix("_fp")) }
        }
    }

    /// The model and profile a fixture folder describes.
    static func load(_ directory: String) throws -> (OriginModel, Profile) {
        let manager = FileManager.default
        var settings: [String: String] = [:]
        let yml = try String(contentsOfFile: directory + "/.originaudit.yml", encoding: .utf8)
        for line in yml.split(separator: "\n") {
            let parts = line.split(separator: ":", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            if parts.count == 2 { settings[parts[0]] = parts[1] }
        }
        var files: [(String, String)] = []
        for name in try manager.contentsOfDirectory(atPath: directory).sorted() where !name.hasPrefix(".") && name != settings["cdnRanges"] {
            files.append((name, try String(contentsOfFile: directory + "/" + name, encoding: .utf8)))
        }
        let cloudflare = try CDNProfile.embedded("cloudflare")
        let cdn: CDNProfile
        if let rangesFile = settings["cdnRanges"] {
            cdn = try CDNProfile.custom(rangesFile: String(contentsOfFile: directory + "/" + rangesFile, encoding: .utf8), file: rangesFile, base: cloudflare)
        } else {
            cdn = try CDNProfile.embedded(settings["cdn"] ?? "cloudflare")
        }
        let at = settings["at"].flatMap { Profile.parseInstant($0, now: Date()) } ?? Date()
        let profile = Profile(cdn: cdn, tlsMode: TLSMode(rawValue: settings["tlsMode"] ?? "full") ?? .full, at: at)
        return (firewallOriginModel(files), profile)
    }
}

@Suite struct FirewallFixtureTests {
    @Test func everyFirewallRuleHasATriggeringAndASilentFixture() {
        let cases = FirewallFixture.cases
        for rule in FirewallRules.all {
            #expect(cases.contains { $0.ruleId == rule.id && $0.mustTrigger }, "\(rule.id) has no triggering fixture")
            #expect(cases.contains { $0.ruleId == rule.id && !$0.mustTrigger }, "\(rule.id) has no _fp fixture")
        }
    }

    @Test(arguments: FirewallFixture.cases)
    func fixture(_ fixture: FirewallFixture.Case) throws {
        let (model, profile) = try FirewallFixture.load(fixture.directory)
        let rule = try #require(FirewallRules.all.first { $0.id == fixture.ruleId })
        let findings = rule.check(model, profile: profile)
        if fixture.mustTrigger {
            #expect(!findings.isEmpty, "\(fixture) must trigger \(fixture.ruleId)")
        } else {
            #expect(findings.isEmpty, "\(fixture) must stay silent, got: \(findings.map(\.message))")
        }
        for finding in findings {
            #expect(finding.ruleId == fixture.ruleId)
            #expect(finding.location != nil && finding.key != nil)
        }
    }
}

@Suite struct FirewallRuleTests {
    static let header = "*filter\n:INPUT DROP [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT ACCEPT [0:0]\n"

    @Test func droppedNamesTheExactSubRangesPortAndRule() throws {
        let model = firewallOriginModel([("rules.v4", Self.header + "-A INPUT -s 192.0.2.0/25 -p tcp -m multiport --dports 80,443 -j ACCEPT\n-A INPUT -s 192.0.2.128/26 -p tcp --dport 80 -j ACCEPT\nCOMMIT\n")])
        let findings = checkFirewallRule(CDNDropped(), model, try firewallTestProfile(["192.0.2.0/24"]))
        #expect(findings.count == 2)
        let on443 = try #require(findings.first { $0.message.contains("tcp/443") })
        #expect(on443.message.contains("192.0.2.128/25"))
        #expect(on443.message.contains("policy DROP"))
        #expect(on443.location?.line == 2)
        #expect(on443.key == "v4 192.0.2.128/25 tcp/443")
        let on80 = try #require(findings.first { $0.message.contains("tcp/80") })
        #expect(on80.message.contains("192.0.2.192/26"))
        #expect(on80.remediation?.contains("iptables -I INPUT -s 192.0.2.192/26 -p tcp --dport 80 -j ACCEPT") == true)
    }

    @Test func rejectedSaysTheReplyAndTheJumpPath() throws {
        let text = Self.header.replacingOccurrences(of: ":OUTPUT ACCEPT [0:0]\n", with: ":OUTPUT ACCEPT [0:0]\n:WEB - [0:0]\n")
            + "-A INPUT -p tcp -m tcp --dport 443 -j WEB\n-A WEB -s 198.51.100.0/24 -p tcp -j REJECT --reject-with tcp-reset\n-A WEB -j ACCEPT\nCOMMIT\n"
        let findings = checkFirewallRule(CDNRejected(), firewallOriginModel([("rules.v4", text)]), try firewallTestProfile(["198.51.100.0/24", "192.0.2.0/24"]))
        let finding = try #require(findings.first)
        #expect(findings.count == 1)
        #expect(finding.message.contains("198.51.100.0/24") && finding.message.contains("tcp-reset") && finding.message.contains("tcp/443"))
        #expect(finding.location?.line == 7)
        #expect(finding.related.first?.location.line == 6)
    }

    @Test func rateLimitedIsComputedBothWays() throws {
        let text = Self.header + "-A INPUT -p tcp -m multiport --dports 80,443 -m hashlimit --hashlimit-upto 10/sec --hashlimit-mode srcip --hashlimit-name w -j ACCEPT\nCOMMIT\n"
        let findings = checkFirewallRule(CDNRateLimited(), firewallOriginModel([("rules.v4", text)]), try firewallTestProfile(["192.0.2.0/24"]))
        #expect(findings.count == 1)
        #expect(findings.first?.message.contains("accept or drop") == true)
        #expect(findings.first?.message.contains("tcp/80,443") == true)
    }

    @Test func shadowedAllowPointsAtTheAllowAndTheBlocker() throws {
        let text = Self.header + "-A INPUT -s 192.0.2.0/26 -j DROP\n-A INPUT -s 192.0.2.0/24 -p tcp --dport 443 -j ACCEPT\nCOMMIT\n"
        let findings = checkFirewallRule(CDNAllowShadowed(), firewallOriginModel([("rules.v4", text)]), try firewallTestProfile(["192.0.2.0/24"]))
        let finding = try #require(findings.first)
        #expect(finding.location?.line == 6)
        #expect(finding.related.first?.location.line == 5)
        #expect(finding.message.contains("192.0.2.0/26"))
    }

    @Test func exposureIsOnlyReportedForDefiniteAccepts() throws {
        let open = Self.header + "-A INPUT -s 192.0.2.0/24 -j ACCEPT\n-A INPUT -p tcp --dport 443 -j ACCEPT\nCOMMIT\n"
        let profile = try firewallTestProfile(["192.0.2.0/24"])
        let findings = checkFirewallRule(OriginExposed(), firewallOriginModel([("rules.v4", open)]), profile)
        #expect(findings.count == 1)
        #expect(findings.first?.message.contains("every non-") == true)
        let unknown = Self.header + "-A INPUT -s 192.0.2.0/24 -j ACCEPT\n-A INPUT -p tcp --dport 443 -m geoip --src-cc DE -j ACCEPT\nCOMMIT\n"
        #expect(checkFirewallRule(OriginExposed(), firewallOriginModel([("rules.v4", unknown)]), profile).isEmpty)
    }

    @Test func staleRangesInAnAllowList() throws {
        let text = Self.header + "-A INPUT -s 173.245.48.0/20 -p tcp --dport 443 -j ACCEPT\n-A INPUT -s 104.16.0.0/12 -p tcp --dport 443 -j ACCEPT\nCOMMIT\n"
        let profile = Profile(cdn: try CDNProfile.embedded("cloudflare"), at: Date())
        let findings = checkFirewallRule(StaleCDNRanges(), firewallOriginModel([("rules.v4", text)]), profile)
        let finding = try #require(findings.first)
        #expect(findings.count == 1)
        #expect(finding.location?.line == 6)
        #expect(finding.message.contains("104.28.0.0/14"))
        #expect(finding.message.contains("no longer"))
    }

    @Test func unresolvedSetAndUnknownMatchAreSeparateFindings() throws {
        let text = Self.header + "-A INPUT -m set --match-set edge src -j ACCEPT\n-A INPUT -p tcp -m tcp --dport 80 -m geoip --src-cc DE -j ACCEPT\nCOMMIT\n"
        let model = firewallOriginModel([("rules.v4", text)])
        let profile = try firewallTestProfile(["192.0.2.0/24"])
        #expect(checkFirewallRule(SetUnresolved(), model, profile).map(\.location?.line) == [5])
        // tcp/443 is uncertain only because of the set (set-unresolved); tcp/80 because of geoip too.
        let unknown = checkFirewallRule(UnknownMatch(), model, profile)
        #expect(unknown.count == 1)
        #expect(unknown.first?.message.contains("tcp/80") == true)
    }

    @Test func ipv6UnfilteredWhenOnlyIPv4IsGiven() throws {
        let v4 = Self.header + "-A INPUT -s 192.0.2.0/24 -j ACCEPT\nCOMMIT\n"
        let profile = try firewallTestProfile(["192.0.2.0/24"])
        #expect(checkFirewallRule(IPv6Unfiltered(), firewallOriginModel([("rules.v4", v4)]), profile).count == 1)
        let v6 = Self.header + "-A INPUT -s 2001:db8::/32 -j ACCEPT\nCOMMIT\n"
        #expect(checkFirewallRule(IPv6Unfiltered(), firewallOriginModel([("rules.v4", v4), ("rules.v6", v6)]), profile).isEmpty)
    }

    @Test func emptyModelGivesNoFindings() throws {
        let profile = try firewallTestProfile(["192.0.2.0/24"])
        for rule in FirewallRules.all { #expect(rule.check(OriginModel(), profile: profile).isEmpty, "\(rule.id)") }
    }

    @Test func matrixRendersAndEncodes() throws {
        let model = firewallOriginModel([("rules.v4", Self.header + "-A INPUT -s 192.0.2.0/25 -p tcp --dport 443 -j ACCEPT\nCOMMIT\n")])
        let profile = try firewallTestProfile(["192.0.2.0/24", "198.51.100.0/24"])
        let matrix = ReachabilityMatrix.compute(model: model.firewall, cdn: profile.cdn, ports: PortSet(ranges: [80...80, 443...443]))
        let text = matrix.renderText()
        #expect(text.contains("192.0.2.0/24"))
        #expect(text.contains("tcp/443 IPv4: 128 of 512 CDN addresses reach it"))
        let json = String(decoding: try JSONEncoder().encode(matrix), as: UTF8.self)
        #expect(json.contains("\"accepted\":\"128\""))
    }
}
