import Foundation
import Testing
import OriginAuditCore
@testable import Audit
@testable import AuditRules
import TestSupport

/// The interface the CDN's traffic arrives on: given, read from the project file, or (live) the
/// default routes'; unknown, the verdict is given per interface and never assumed.
@Suite struct PublicInterfaceTests {
    static let router = (FirewallRuleTests.header + """
    -A INPUT -i lo -j ACCEPT
    -A INPUT -i enp2s0 -j ACCEPT
    -A INPUT -i enp1s0 -j zone_wan
    -A zone_wan -p tcp -j REJECT --reject-with tcp-reset
    COMMIT

    """).replacingOccurrences(of: ":OUTPUT ACCEPT [0:0]\n", with: ":OUTPUT ACCEPT [0:0]\n:zone_wan - [0:0]\n")

    @Test func unknownInterfaceGivesEachOutcomeNeverAGuess() throws {
        let model = firewallOriginModel([("rules.v4", Self.router)])
        var profile = try firewallTestProfile(["192.0.2.0/24"])
        // Before: enp2s0 (the LAN) was taken for the public interface: a certain accept.
        #expect(checkFirewallRule(CDNDropped(), model, profile).isEmpty)
        #expect(checkFirewallRule(CDNRejected(), model, profile).isEmpty)
        let unknown = checkFirewallRule(UnknownMatch(), model, profile)
        let finding = try #require(unknown.first)
        #expect(unknown.count == 1)
        #expect(finding.message.contains("arriving on enp1s0: reject (tcp-reset)"), "\(finding.message)")
        #expect(finding.message.contains("enp2s0: accept"))
        #expect(finding.message.contains("any other interface: drop"))
        #expect(finding.message.contains("--public-interface"))

        profile.publicInterfaces = ["enp1s0"]
        #expect(checkFirewallRule(UnknownMatch(), model, profile).isEmpty)
        #expect(checkFirewallRule(CDNRejected(), model, profile).first?.location?.line == 9)
        profile.publicInterfaces = ["enp2s0"]
        #expect(checkFirewallRule(CDNRejected(), model, profile).isEmpty)
        #expect(checkFirewallRule(CDNDropped(), model, profile).isEmpty)
        // A wildcard covering both: both outcomes, said per interface.
        profile.publicInterfaces = ["enp+"]
        let both = try #require(checkFirewallRule(UnknownMatch(), model, profile).first)
        #expect(both.message.contains("enp1s0: reject") && both.message.contains("enp2s0: accept") && !both.message.contains("any other"))
    }

    @Test func projectFileAndOptionNameThePublicInterfaces() throws {
        let (config, findings) = ProjectConfig.parse("publicInterfaces:\n  - eth0\n  - \"wan*\"\n", file: ".originaudit.yml", directory: "/tmp")
        #expect(findings.isEmpty)
        #expect(config.publicInterfaces == ["eth0", "wan*"])
        let (_, bad) = ProjectConfig.parse("publicInterfaces: [\"eth0/1\"]\n", file: ".originaudit.yml", directory: "/tmp")
        #expect(bad.count == 1)
        let profile = try ProfileBuilder.build(ProfileOptions(), config: config, now: Date())
        #expect(profile.publicInterfaces == ["eth0", "wan*"])
        var options = ProfileOptions()
        options.publicInterfaces = ["ppp0"]
        #expect(try ProfileBuilder.build(options, config: config, now: Date()).publicInterfaces == ["ppp0"])
        options.publicInterfaces = ["a-name-far-too-long"]
        #expect(throws: UsageError.self) { try ProfileBuilder.build(options, config: config, now: Date()) }
    }

    @Test func rateLimitedAcceptIsExposure() throws {
        // ufw limit: recent --update over the limit rejects, everything else is accepted.
        let text = FirewallRuleTests.header.replacingOccurrences(of: ":OUTPUT ACCEPT [0:0]\n", with: ":OUTPUT ACCEPT [0:0]\n:user-limit - [0:0]\n") + """
        -A INPUT -p tcp --dport 443 -m conntrack --ctstate NEW -m recent --set
        -A INPUT -p tcp --dport 443 -m conntrack --ctstate NEW -m recent --update --seconds 30 --hitcount 6 -j user-limit
        -A INPUT -p tcp --dport 443 -j ACCEPT
        -A user-limit -j REJECT --reject-with icmp-port-unreachable
        COMMIT

        """
        let findings = checkFirewallRule(OriginExposed(), firewallOriginModel([("rules.v4", text)]), try firewallTestProfile(["192.0.2.0/24"]))
        let finding = try #require(findings.first)
        #expect(finding.message.contains("every non-"))
        #expect(finding.message.contains("under the rate limit"))
        #expect(finding.message.contains("rules.v4:7:1"), "names the limit: \(finding.message)")
        #expect(finding.related.contains { $0.location.line == 8 }, "points at the accepting rule")
    }

    /// The default routes of a namespace, read from its /proc/net, against `ip route show default`.
    @Test(.oracle("the kernel's routing table", unavailable: Oracle.missing(programs: ["ip"], namespaces: true)))
    func defaultRouteInterfacesMatchTheKernelsRoutes() throws {
        let namespace = "oa-route-\(getpid() % 100_000)"
        defer { _ = try? TestTools.run("ip", ["netns", "del", namespace], timeout: 10) }
        try makeNamespace(namespace, links: [("wan0", ["192.0.2.1/24"]), ("lan0", ["198.18.0.1/24"]), ("wan6", ["2001:db8::1/64"])])
        try mustRun(["ip", "-n", namespace, "route", "add", "default", "via", "192.0.2.254", "dev", "wan0"])
        try mustRun(["ip", "-n", namespace, "-6", "route", "add", "default", "via", "2001:db8::fe", "dev", "wan6"])
        let v4 = try TestTools.run("ip", ["netns", "exec", namespace, "cat", "/proc/net/route"], timeout: 10).stdout
        let v6 = try TestTools.run("ip", ["netns", "exec", namespace, "cat", "/proc/net/ipv6_route"], timeout: 10).stdout
        let kernel4 = try TestTools.run("ip", ["-n", namespace, "-4", "route", "show", "default"], timeout: 10).stdout
        let kernel6 = try TestTools.run("ip", ["-n", namespace, "-6", "route", "show", "default"], timeout: 10).stdout
        #expect(kernel4.contains("dev wan0") && kernel6.contains("dev wan6"))
        #expect(LiveCollector.defaultRouteInterfaces(ipv4: v4, ipv6: v6) == ["wan0", "wan6"])
        // No default route: nothing is assumed (the kernel's own unreachable ::/0 on lo is not one).
        try mustRun(["ip", "-n", namespace, "route", "del", "default"])
        try mustRun(["ip", "-n", namespace, "-6", "route", "del", "default"])
        let bare4 = try TestTools.run("ip", ["netns", "exec", namespace, "cat", "/proc/net/route"], timeout: 10).stdout
        let bare6 = try TestTools.run("ip", ["netns", "exec", namespace, "cat", "/proc/net/ipv6_route"], timeout: 10).stdout
        #expect(LiveCollector.defaultRouteInterfaces(ipv4: bare4, ipv6: bare6) == [])
    }
}
