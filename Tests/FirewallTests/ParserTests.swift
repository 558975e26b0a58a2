import Foundation
import Testing
import OriginAuditCore
import TestSupport
@testable import Firewall

/// Broken inputs: the real tools reject them, and so do we, at the same line.
@Suite(.serialized) struct ParserAgreementTests {
    struct Broken: Sendable, CustomStringConvertible {
        var name: String
        var text: String
        /// The line our first error must point at (the line the tool names, where it names one).
        var line: Int
        /// iptables-restore --test catches it; otherwise only a real restore (commit) does.
        var testMode = true
        var description: String { name }
    }

    static let brokenIptables: [Broken] = [
        Broken(name: "missing COMMIT", text: "*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -j ACCEPT\n", line: 4),
        Broken(name: "bad address", text: "*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -s 1.2.3.400 -j ACCEPT\nCOMMIT\n", line: 3),
        Broken(name: "unknown table", text: "*bogus\n:INPUT ACCEPT [0:0]\nCOMMIT\n", line: 1),
        Broken(name: "bad port", text: "*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -p tcp --dport 99999 -j ACCEPT\nCOMMIT\n", line: 3),
        Broken(name: "bad reject type", text: "*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -j REJECT --reject-with bogus\nCOMMIT\n", line: 3),
        Broken(name: "rule outside a table", text: "-A INPUT -j ACCEPT\n", line: 1, testMode: false),
        Broken(name: "garbage line", text: "*filter\n:INPUT ACCEPT [0:0]\nhello world\nCOMMIT\n", line: 3, testMode: false),
        Broken(name: "missing chain", text: "*filter\n:INPUT ACCEPT [0:0]\n-A NOPE -j ACCEPT\nCOMMIT\n", line: 3, testMode: false),
        Broken(name: "bad policy", text: "*filter\n:INPUT BOGUS [0:0]\nCOMMIT\n", line: 2, testMode: false),
        Broken(name: "jump loop", text: "*filter\n:INPUT ACCEPT [0:0]\n:A - [0:0]\n:B - [0:0]\n-A INPUT -j A\n-A A -j B\n-A B -j A\nCOMMIT\n", line: 7, testMode: false),
        Broken(name: "tcp-reset without -p tcp", text: "*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -j REJECT --reject-with tcp-reset\nCOMMIT\n", line: 3, testMode: false),
    ]

    static let brokenNft: [Broken] = [
        Broken(name: "bad address", text: "table inet f {\n chain c {\n  type filter hook input priority 0; policy drop;\n  ip saddr 1.2.3.400 accept\n }\n}\n", line: 4),
        Broken(name: "jump to a missing chain", text: "table inet f {\n chain c {\n  type filter hook input priority 0; policy drop;\n  jump nope\n }\n}\n", line: 4),
        Broken(name: "truncated file", text: "table inet f {\n chain c {\n  type filter hook input priority 0; policy drop;\n  tcp dport 80 accept\n", line: 5),
        Broken(name: "bad policy", text: "table inet f {\n chain c {\n  type filter hook input priority 0; policy bogus;\n }\n}\n", line: 3),
        Broken(name: "unknown field", text: "table inet f {\n chain c {\n  tcp frobnicate 80 accept\n }\n}\n", line: 3),
        Broken(name: "unknown statement", text: "table inet f {\n chain c {\n  type filter hook input priority 0; policy accept;\n  tcp dport 80 frobnicate\n }\n}\n", line: 4),
    ]

    static func firstError(_ result: LoadResult<FirewallModel>) -> Finding? {
        result.findings.filter { $0.ruleId == "input.parse-error" }.min { ($0.location?.line ?? 0) < ($1.location?.line ?? 0) }
    }

    @Test(.oracle("iptables-restore --test", unavailable: KernelLab.unavailableReason), arguments: brokenIptables)
    func iptablesRejectsWhatWeReject(_ broken: Broken) throws {
        let namespace = "oa-fwp-\(getpid() % 100_000)-\(UInt16.random(in: 0...0xFFFF))"
        _ = try TestTools.run("ip", ["netns", "add", namespace])
        defer { _ = try? TestTools.run("ip", ["netns", "del", namespace]) }
        let tool = try TestTools.run("ip", ["netns", "exec", namespace, "iptables-restore"] + (broken.testMode ? ["--test"] : []), stdin: broken.text)
        #expect(tool.status != 0, "iptables-restore accepted \(broken.name)")
        let ours = FirewallLoader.load(text: broken.text, kind: .iptablesSave, file: "rules.v4")
        let error = Self.firstError(ours)
        #expect(error?.location?.line == broken.line, "\(broken.name): our error \(error.map { "\($0.location!): \($0.message)" } ?? "none"); iptables-restore: \(tool.stderr)")
        if let line = Self.toolLine(tool.stderr), broken.name != "missing chain" {
            #expect(line == broken.line, "\(broken.name): iptables-restore names line \(line)")
        }
    }

    @Test(.oracle("nft -c", unavailable: KernelLab.unavailableReason), arguments: brokenNft)
    func nftRejectsWhatWeReject(_ broken: Broken) throws {
        let namespace = "oa-fwp-\(getpid() % 100_000)-\(UInt16.random(in: 0...0xFFFF))"
        _ = try TestTools.run("ip", ["netns", "add", namespace])
        defer { _ = try? TestTools.run("ip", ["netns", "del", namespace]) }
        let directory = try TestTools.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("broken.nft")
        try broken.text.write(to: file, atomically: true, encoding: .utf8)
        let tool = try TestTools.run("ip", ["netns", "exec", namespace, "nft", "-c", "-f", file.path])
        #expect(tool.status != 0, "nft -c accepted \(broken.name)")
        // nft prints "FILE:LINE:COL-COL: Error: …".
        let nftLine = tool.stderr.components(separatedBy: file.path + ":").dropFirst().first.flatMap { Int($0.prefix { $0.isNumber }) }
        #expect(nftLine == broken.line, "\(broken.name): nft says \(tool.stderr)")
        let ours = FirewallLoader.load(text: broken.text, kind: .nftText, file: "ruleset.nft")
        let error = Self.firstError(ours)
        #expect(error?.location?.line == broken.line, "\(broken.name): our error \(error.map { "\($0.location!): \($0.message)" } ?? "none")")
    }

    static func toolLine(_ stderr: String) -> Int? {
        for marker in ["Error occurred at line: ", "at line ", "line "] {
            if let range = stderr.range(of: marker), let line = Int(stderr[range.upperBound...].prefix { $0.isNumber }) { return line }
        }
        return nil
    }
}

@Suite struct ParserTests {
    @Test func hugeLineAndBinaryGarbageAreReportedAndTheRestIsRead() {
        let huge = "-A INPUT " + String(repeating: "x", count: 10 << 20)
        let text = "*filter\n:INPUT DROP [0:0]\n\(huge)\n-A INPUT -s 192.0.2.0/24 -j ACCEPT\nCOMMIT\n"
        let result = FirewallLoader.load(text: text, kind: .iptablesSave, file: "big.v4")
        #expect(result.findings.contains { $0.ruleId == "input.parse-error" && $0.location?.line == 3 })
        #expect(result.model.tables.first?.chain(named: "INPUT")?.rules.count == 1)

        var garbage: [UInt8] = Array("*filter\n".utf8)
        garbage += (0..<4096).map { UInt8(truncatingIfNeeded: $0 &* 7919) }
        let binary = FirewallLoader.load([FirewallInput(kind: .iptablesSave, displayPath: "bin", bytes: garbage)])
        #expect(binary.findings.first?.ruleId == "input.parse-error")
        #expect(binary.findings.first?.location?.line == 1)
    }

    @Test func iptablesSForm() {
        let text = "-P INPUT DROP\n-P FORWARD ACCEPT\n-P OUTPUT ACCEPT\n-N CDN\n-A INPUT -j CDN\n-A CDN -s 192.0.2.0/24 -p tcp -m tcp --dport 443 -j ACCEPT\n"
        let result = FirewallLoader.load(text: text, kind: .iptablesRules, file: "rules.txt")
        #expect(result.findings.isEmpty)
        let table = result.model.tables.first
        #expect(table?.chain(named: "INPUT")?.policy == .drop)
        #expect(table?.chain(named: "CDN")?.rules.first?.location.line == 6)
    }

    @Test func ip6tablesHeaderSetsTheFamilyAndRejectDefault() {
        let text = "# Generated by ip6tables-save v1.8.9 (legacy)\n*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -p tcp -j REJECT\nCOMMIT\n"
        let result = FirewallLoader.load(text: text, kind: .iptablesSave, file: "rules.v6")
        #expect(result.model.families == [.ipv6])
        #expect(result.model.tables.first?.chain(named: "INPUT")?.rules.first?.action == .verdict(.reject("icmp6-port-unreachable")))
    }

    @Test func unknownMatchesAndTargetsAreKept() {
        let text = "*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -m geoip --src-cc CN -j DROP\n-A INPUT -p tcp -j TARPIT\nCOMMIT\n"
        let result = FirewallLoader.load(text: text, kind: .iptablesSave, file: "rules.v4")
        #expect(result.findings.isEmpty)
        let rules = result.model.tables.first?.chain(named: "INPUT")?.rules ?? []
        #expect(rules.first?.matches.contains { if case .unknown = $0 { true } else { false } } == true)
        #expect(rules.last?.action == .unknown("TARPIT"))
    }

    @Test func ipsetTypes() {
        let text = """
        create a hash:net family inet hashsize 1024 maxelem 65536 timeout 300 comment
        add a 192.0.2.0/24 timeout 0 comment "edge \\"one\\""
        add a 192.0.2.128/25 nomatch
        create p hash:ip,port family inet
        add p 198.51.100.7,tcp:443
        add p 198.51.100.8,udp:53
        create six hash:net family inet6
        add six 2001:db8:1::/48
        create l list:set size 8
        add l a
        add l six
        """
        var parser = IPSetParser(file: "ipset.save")
        parser.parse(Array(text.utf8))
        #expect(parser.findings.isEmpty)
        #expect(parser.sets["a"]?.addresses.ipv4.description == "192.0.2.0/25")
        #expect(parser.sets["p"]?.addressPorts.count == 2)
        #expect(parser.sets["six"]?.addresses.ipv6.description == "2001:db8:1::/48")
        #expect(parser.sets["l"]?.members == ["a", "six"])
    }

    @Test func nftJSONAndTextAgree() {
        let text = """
        table inet filter {
            set cdn { type ipv4_addr; flags interval; elements = { 192.0.2.0/24, 198.51.100.0-198.51.100.99 } }
            chain input {
                type filter hook input priority filter + 10; policy drop;
                ip saddr @cdn tcp dport { 80, 443 } counter packets 1 bytes 60 accept
                tcp dport vmap { 8080 : drop, 22 : jump ssh }
            }
            chain ssh { limit rate 3/minute accept; }
        }
        """
        let json = """
        {"nftables": [{"metainfo": {"json_schema_version": 1}}, {"table": {"family": "inet", "name": "filter", "handle": 1}},
        {"set": {"family": "inet", "name": "cdn", "table": "filter", "type": "ipv4_addr", "handle": 2, "flags": ["interval"], "elem": [{"prefix": {"addr": "192.0.2.0", "len": 24}}, {"range": ["198.51.100.0", "198.51.100.99"]}]}},
        {"chain": {"family": "inet", "table": "filter", "name": "input", "handle": 3, "type": "filter", "hook": "input", "prio": 10, "policy": "drop"}},
        {"chain": {"family": "inet", "table": "filter", "name": "ssh", "handle": 4}},
        {"rule": {"family": "inet", "table": "filter", "chain": "input", "handle": 5, "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "saddr"}}, "right": "@cdn"}}, {"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": {"set": [80, 443]}}}, {"counter": {"packets": 1, "bytes": 60}}, {"accept": null}]}},
        {"rule": {"family": "inet", "table": "filter", "chain": "input", "handle": 6, "expr": [{"vmap": {"key": {"payload": {"protocol": "tcp", "field": "dport"}}, "data": {"set": [[22, {"jump": {"target": "ssh"}}], [8080, {"drop": null}]]}}}]}},
        {"rule": {"family": "inet", "table": "filter", "chain": "ssh", "handle": 7, "expr": [{"limit": {"rate": 3, "burst": 5, "per": "minute"}}, {"accept": null}]}}]}
        """
        let fromText = FirewallLoader.load(text: text, kind: .nftText, file: "ruleset.nft")
        let fromJSON = FirewallLoader.load(text: json, kind: .nftJSON, file: "ruleset.json")
        #expect(fromText.findings.isEmpty)
        #expect(fromJSON.findings.isEmpty)
        #expect(KernelTruthTests.canonical(fromText.model) == KernelTruthTests.canonical(fromJSON.model))
        #expect(fromText.model.tables.first?.chain(named: "input")?.priority == 10)
        #expect(fromJSON.model.tables.first?.chain(named: "input")?.rules.first?.location.handle == 5)
    }

    @Test func invalidJSONIsAParseErrorWithAPosition() {
        let result = FirewallLoader.load(text: "{\"nftables\": [\n{\"table\": }\n]}", kind: .nftJSON, file: "bad.json")
        #expect(result.findings.count == 1)
        #expect(result.findings.first?.ruleId == "input.parse-error")
    }
}

@Suite struct RobustnessTests {
    /// Corpus files with random bytes deleted, duplicated or replaced: every parser must return
    /// (findings, not crashes) and the evaluator must still partition the space.
    @Test func mutatedCorpusNeverCrashes() {
        var generator = SystemRandomNumberGenerator()
        var texts: [(FirewallInputKind, String)] = []
        for kernelCase in KernelCorpus.cases {
            for source in kernelCase.sources {
                switch source {
                case .iptables(let text), .ip6tables(let text): texts.append((.iptablesSave, text))
                case .iptablesCommands(let text): texts.append((.iptablesRules, text))
                case .nft(let text): texts.append((.nftText, text))
                case .ufw: continue
                }
            }
            if let ipset = kernelCase.ipset { texts.append((.ipset, ipset)) }
        }
        for round in 0..<400 {
            let (kind, text) = texts[round % texts.count]
            var bytes = Array(text.utf8)
            for _ in 0..<Int.random(in: 1...6, using: &generator) where !bytes.isEmpty {
                let at = Int.random(in: 0..<bytes.count, using: &generator)
                switch Int.random(in: 0..<3, using: &generator) {
                case 0: bytes.remove(at: at)
                case 1: bytes.insert(bytes[Int.random(in: 0..<bytes.count, using: &generator)], at: at)
                default: bytes[at] = UInt8.random(in: 0x20...0x7E, using: &generator)
                }
            }
            let result = FirewallLoader.load([FirewallInput(kind: kind, displayPath: "mutated", bytes: bytes)])
            let parts = FirewallEvaluator(model: result.model).evaluate(family: .ipv4, sources: .all(.ipv4), ports: PortSet(ranges: [80...80, 443...443]))
            let covered = parts.reduce(into: [PortSet: AddressSet]()) { $0[$1.ports, default: AddressSet(family: .ipv4)].formUnion($1.sources) }
            #expect(covered.values.allSatisfy { !$0.isEmpty })
        }
    }

    @Test func deepJSONAndLongJumpChainsAreBounded() {
        let deep = "{\"nftables\": " + String(repeating: "[", count: 5_000) + String(repeating: "]", count: 5_000) + "}"
        #expect(FirewallLoader.load(text: deep, kind: .nftJSON, file: "deep.json").findings.first?.ruleId == "input.parse-error")
        var text = "*filter\n:INPUT DROP [0:0]\n"
        for index in 0..<300 { text += ":c\(index) - [0:0]\n" }
        text += "-A INPUT -j c0\n"
        for index in 0..<299 { text += "-A c\(index) -j c\(index + 1)\n" }
        text += "-A c299 -s 192.0.2.0/24 -j ACCEPT\nCOMMIT\n"
        let model = FirewallLoader.load(text: text, kind: .iptablesSave, file: "chain.v4").model
        let parts = FirewallEvaluator(model: model).evaluate(family: .ipv4, sources: AddressSet(family: .ipv4, cidrs: [CIDR("192.0.2.0/24")!]), ports: PortSet(443...443))
        // Deeper than the kernel allows: reported as unknown, not followed forever.
        #expect(parts.first?.decision.outcome.kind == .unknown)
    }

    @Test func nftTextStatements() {
        let text = """
        table inet f {
            chain input {
                type filter hook input priority 0; policy drop;
                tcp dport 22 ct count over 3 drop
                tcp dport 443 meter flood size 65535 { ip saddr limit rate over 100/second } drop
                tcp dport 80 add @seen { ip saddr limit rate 10/second } accept
                xt match "geoip" accept
                tcp flags & (fin|syn|rst|ack) == syn tcp dport 8080 accept
                tcp flags syn / fin,syn,rst,ack tcp dport 8081 accept
            }
        }
        """
        let result = FirewallLoader.load(text: text, kind: .nftText, file: "r.nft")
        #expect(result.findings.isEmpty, "\(result.findings.map(\.message))")
        let rules = result.model.tables.first?.chain(named: "input")?.rules ?? []
        #expect(rules.count == 6)
        #expect(rules.prefix(3).allSatisfy { $0.matches.contains { if case .rateLimit = $0 { true } else { false } } })
        #expect(rules[3].matches.contains { if case .unknown = $0 { true } else { false } })
        let parts = FirewallEvaluator(model: result.model).evaluate(family: .ipv4, sources: .all(.ipv4), ports: PortSet(ranges: [8080...8081]))
        #expect(parts.allSatisfy { $0.decision.outcome.kind == .unknown || $0.decision.outcome.kind == .accept })
    }
}

@Suite struct HeaderTests {
    @Test func legacyHeaderCountersAndAllTables() {
        let text = """
        # Generated by iptables-save v1.8.7 on Mon Nov 23 10:00:00 2026
        *security
        :INPUT ACCEPT [0:0]
        :FORWARD ACCEPT [0:0]
        :OUTPUT ACCEPT [0:0]
        COMMIT
        *mangle
        :PREROUTING ACCEPT [10:600]
        :INPUT ACCEPT [10:600]
        :FORWARD ACCEPT [0:0]
        :OUTPUT ACCEPT [8:480]
        :POSTROUTING ACCEPT [8:480]
        [3:180] -A PREROUTING -s 198.51.100.0/24 -j DROP
        COMMIT
        *filter
        :INPUT ACCEPT [0:0]
        :FORWARD DROP [0:0]
        :OUTPUT ACCEPT [0:0]
        -A INPUT -s 192.0.2.0/24 -c 5 300 -j DROP
        COMMIT
        # Completed on Mon Nov 23 10:00:00 2026
        """
        let result = FirewallLoader.load(text: text, kind: .iptablesSave, file: "rules.v4")
        #expect(result.findings.isEmpty)
        #expect(result.model.tables.map(\.name) == ["security", "mangle", "filter"])
        let parts = FirewallEvaluator(model: result.model).evaluate(family: .ipv4, sources: AddressSet(family: .ipv4, cidrs: ["192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24"].compactMap { CIDR($0) }), ports: PortSet(443...443))
        #expect(parts.first { $0.decision.outcome.kind == .drop && $0.sources.description == "198.51.100.0/24" }?.decision.decidedBy.chain == "mangle PREROUTING")
        #expect(parts.first { $0.decision.outcome.kind == .drop && $0.sources.description == "192.0.2.0/24" }?.decision.decidedBy.location.line == 19)
        #expect(parts.first { $0.decision.outcome.kind == .accept }?.sources.description == "203.0.113.0/24")
    }
}

@Suite struct IptablesNftTests {
    /// What `nft -j list ruleset` prints for a table iptables-nft manages: xt statements without options.
    static let json = """
    {"nftables": [{"table": {"family": "ip", "name": "filter", "handle": 1}},
    {"chain": {"family": "ip", "table": "filter", "name": "INPUT", "handle": 1, "type": "filter", "hook": "input", "prio": 0, "policy": "drop"}},
    {"rule": {"family": "ip", "table": "filter", "chain": "INPUT", "handle": 4, "expr": [{"match": {"op": "==", "left": {"meta": {"key": "l4proto"}}, "right": "tcp"}}, {"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "saddr"}}, "right": {"prefix": {"addr": "192.0.2.0", "len": 24}}}}, {"xt": {"type": "match", "name": "multiport"}}, {"xt": {"type": "match", "name": "comment"}}, {"counter": {"packets": 0, "bytes": 0}}, {"accept": null}]}},
    {"rule": {"family": "ip", "table": "filter", "chain": "INPUT", "handle": 5, "expr": [{"counter": {"packets": 0, "bytes": 0}}, {"xt": {"type": "target", "name": "REJECT"}}]}}]}
    """

    @Test func xtStatementsAreUnknownAndNoted() {
        let result = FirewallLoader.load(text: Self.json, kind: .nftJSON, file: "ruleset.json")
        #expect(result.findings.isEmpty)
        #expect(result.notes.contains { $0.contains("xt") })
        let parts = FirewallEvaluator(model: result.model).evaluate(family: .ipv4, sources: AddressSet(family: .ipv4, cidrs: [CIDR("192.0.2.0/24")!]), ports: PortSet(443...443))
        #expect(parts.first?.decision.outcome.kind == .unknown)
    }

    @Test func theIptablesSaveFormWinsOverTheSameTableInNft() {
        let save = "*filter\n:INPUT DROP [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n-A INPUT -s 192.0.2.0/24 -p tcp -m multiport --dports 80,443 -m comment --comment cdn -j ACCEPT\n-A INPUT -j REJECT --reject-with icmp-admin-prohibited\nCOMMIT\n"
        let result = FirewallLoader.load([FirewallInput(kind: .nftJSON, displayPath: "ruleset.json", bytes: Array(Self.json.utf8)),
                                          FirewallInput(kind: .iptablesSave, displayPath: "rules.v4", bytes: Array(save.utf8))])
        #expect(result.model.tables.count == 1)
        #expect(result.notes.contains { $0.contains("iptables-save form was used") })
        let parts = FirewallEvaluator(model: result.model).evaluate(family: .ipv4, sources: AddressSet(family: .ipv4, cidrs: [CIDR("192.0.2.0/24")!]), ports: PortSet(443...443))
        #expect(parts.first?.decision.outcome.kind == .accept)
    }
}
