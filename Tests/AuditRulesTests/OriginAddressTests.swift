import Foundation
import Testing
import OriginAuditCore
@testable import Audit
@testable import AuditRules
import TestSupport

/// The origin's own addresses the CDN connects to: given, read from the project file, or (live)
/// the host's; unknown, a verdict that depends on them is given per address class, never assumed.
@Suite struct OriginAddressTests {
    /// A host whose rules name its public address and another host's (a testbed's shape).
    static let host = FirewallRuleTests.header + """
    -A INPUT -d 203.0.113.5/32 -p tcp -j ACCEPT
    -A INPUT -d 198.51.100.99/32 -p tcp -j REJECT --reject-with tcp-reset
    COMMIT

    """

    @Test func unknownOriginAddressGivesEachOutcomeNeverAGuess() throws {
        let model = firewallOriginModel([("rules.v4", Self.host)])
        var profile = try firewallTestProfile(["192.0.2.0/24"])
        #expect(checkFirewallRule(CDNDropped(), model, profile).isEmpty)
        let unknown = checkFirewallRule(UnknownMatch(), model, profile)
        let finding = try #require(unknown.first)
        #expect(unknown.count == 1)
        #expect(finding.message.contains("depends on the origin's address they connect to"), "\(finding.message)")
        #expect(finding.message.contains("to 198.51.100.99: reject (tcp-reset)"), "\(finding.message)")
        #expect(finding.message.contains("to 203.0.113.5: accept"), "\(finding.message)")
        #expect(finding.message.contains("to other addresses: drop"), "\(finding.message)")
        #expect(finding.message.contains("give --origin-address") && !finding.message.contains("--public-interface"), "\(finding.message)")

        profile.originAddresses = [IPAddress("203.0.113.5")!]
        #expect(checkFirewallRule(UnknownMatch(), model, profile).isEmpty)
        #expect(checkFirewallRule(CDNDropped(), model, profile).isEmpty)
        #expect(checkFirewallRule(CDNRejected(), model, profile).isEmpty)
        profile.originAddresses = [IPAddress("198.51.100.99")!]
        #expect(checkFirewallRule(CDNRejected(), model, profile).first?.location?.line == 6)
        profile.originAddresses = [IPAddress("203.0.113.200")!]
        #expect(!checkFirewallRule(CDNDropped(), model, profile).isEmpty)
        // Two addresses with different outcomes: both, said per address.
        profile.originAddresses = [IPAddress("203.0.113.5")!, IPAddress("203.0.113.200")!]
        let both = try #require(checkFirewallRule(UnknownMatch(), model, profile).first)
        #expect(both.message.contains("to 203.0.113.5: accept") && both.message.contains("to 203.0.113.200: drop") && !both.message.contains("other"), "\(both.message)")
    }

    @Test func projectFileAndOptionNameTheOriginAddresses() throws {
        let (config, findings) = ProjectConfig.parse("originAddresses:\n  - 203.0.113.5\n  - \"2001:db8::5\"\n", file: ".originaudit.yml", directory: "/tmp")
        #expect(findings.isEmpty)
        #expect(config.originAddresses == [IPAddress("203.0.113.5")!, IPAddress("2001:db8::5")!])
        let (_, bad) = ProjectConfig.parse("originAddresses: [\"203.0.113.0/24\"]\n", file: ".originaudit.yml", directory: "/tmp")
        #expect(bad.count == 1)
        let profile = try ProfileBuilder.build(ProfileOptions(), config: config, now: Date())
        #expect(profile.originAddresses.count == 2)
        var options = ProfileOptions()
        options.originAddresses = ["198.51.100.7"]
        #expect(try ProfileBuilder.build(options, config: config, now: Date()).originAddresses == [IPAddress("198.51.100.7")!])
        options.originAddresses = ["eth0"]
        #expect(throws: UsageError.self) { try ProfileBuilder.build(options, config: config, now: Date()) }
    }

    /// The host's own addresses, read from a namespace's /proc/net, against `ip -j addr`.
    @Test(.oracle("the kernel's addresses", unavailable: Oracle.missing(programs: ["ip"], namespaces: true)))
    func hostAddressesMatchTheKernelsAddresses() throws {
        let namespace = "oa-addr-\(getpid() % 100_000)"
        defer { _ = try? TestTools.run("ip", ["netns", "del", namespace], timeout: 10) }
        try makeNamespace(namespace, links: [("wan0", ["203.0.113.5/24", "2001:db8::5/64"]), ("lan0", ["198.18.0.1/24", "2001:db8:1::1/64"])])
        let fib = try TestTools.run("ip", ["netns", "exec", namespace, "cat", "/proc/net/fib_trie"], timeout: 10).stdout
        let inet6 = try TestTools.run("ip", ["netns", "exec", namespace, "cat", "/proc/net/if_inet6"], timeout: 10).stdout
        let kernel = try TestTools.run("ip", ["-n", namespace, "-j", "addr", "show"], timeout: 10).stdout
        // What ip itself lists as global addresses.
        let links = try #require(try JSONSerialization.jsonObject(with: Data(kernel.utf8)) as? [[String: Any]])
        var global: [String: [IPAddress]] = [:]
        for link in links {
            for info in link["addr_info"] as? [[String: Any]] ?? [] where info["scope"] as? String == "global" {
                global[link["ifname"] as? String ?? "", default: []].append(IPAddress(info["local"] as? String ?? "")!)
            }
        }
        #expect(global["wan0"]?.count == 2 && global["lan0"]?.count == 2)
        // Every interface's: the IPv4 ones and every global IPv6 one.
        #expect(Set(LiveCollector.hostAddresses(fibTrie: fib, ifInet6: inet6, interfaces: [])) == Set(global.values.flatMap { $0 }))
        // The default route's interface: its IPv6 addresses (IPv4's fib_trie names no interface).
        let onWAN = LiveCollector.hostAddresses(fibTrie: fib, ifInet6: inet6, interfaces: ["wan0"])
        #expect(Set(onWAN) == Set(global["wan0"]! + global["lan0"]!.filter { $0.family == .ipv4 }))
    }
}

/// Runs a command that must succeed (a test expectation otherwise).
func mustRun(_ arguments: [String]) throws {
    let result = try TestTools.run(arguments[0], Array(arguments.dropFirst()), timeout: 10)
    #expect(result.status == 0, "\(arguments.joined(separator: " ")): \(result.stderr)")
}

/// A network namespace with veth links (both ends up inside it, so each has carrier) and addresses.
func makeNamespace(_ namespace: String, links: [(device: String, addresses: [String])]) throws {
    try mustRun(["ip", "netns", "add", namespace])
    try mustRun(["ip", "-n", namespace, "link", "set", "lo", "up"])
    for (device, addresses) in links {
        try mustRun(["ip", "-n", namespace, "link", "add", device, "type", "veth", "peer", "name", device + "p"])
        try mustRun(["ip", "-n", namespace, "link", "set", device + "p", "up"])
        try mustRun(["ip", "-n", namespace, "link", "set", device, "up"])
        for address in addresses { try mustRun(["ip", "-n", namespace, "addr", "add", address, "dev", device] + (address.contains(":") ? ["nodad"] : [])) }
    }
}
