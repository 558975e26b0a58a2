import Testing
import OriginAuditCore
@testable import Firewall

/// Builds a model from iptables-save text and evaluates it for one source set and ports.
func evaluate(_ text: String, kind: FirewallInputKind = .iptablesSave, sources: [String], ports: PortSet, family: AddressFamily = .ipv4,
              extra: [FirewallInput] = []) -> [OutcomePart] {
    let result = FirewallLoader.load([FirewallInput(kind: kind, displayPath: "rules", bytes: Array(text.utf8))] + extra)
    let set = AddressSet(family: family, cidrs: sources.compactMap { CIDR($0) })
    return FirewallEvaluator(model: result.model).evaluate(family: family, sources: set, ports: ports)
}

@Suite struct EvaluatorTests {
    @Test func policyDropWithCDNAllowList() {
        let rules = """
        *filter
        :INPUT DROP [0:0]
        :FORWARD DROP [0:0]
        :OUTPUT ACCEPT [0:0]
        -A INPUT -i lo -j ACCEPT
        -A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
        -A INPUT -s 192.0.2.0/25 -p tcp -m multiport --dports 80,443 -j ACCEPT
        -A INPUT -s 192.0.2.128/26 -p tcp -m tcp --dport 443 -j REJECT --reject-with tcp-reset
        COMMIT
        """
        let parts = evaluate(rules, sources: ["192.0.2.0/24"], ports: PortSet(ranges: [80...80, 443...443]))
        let accepted = parts.filter { $0.decision.outcome.kind == .accept }
        #expect(accepted.count == 1)
        #expect(accepted.first?.sources.description == "192.0.2.0/25")
        #expect(accepted.first?.decision.decidedBy.location.line == 7)
        let rejected = parts.filter { $0.decision.outcome.kind == .reject }
        #expect(rejected.first?.sources.description == "192.0.2.128/26")
        #expect(rejected.first?.ports.portList == "443")
        #expect(rejected.first?.decision.outcome.rejectWith == "tcp-reset")
        let dropped = parts.filter { $0.decision.outcome.kind == .drop }
        #expect(dropped.map(\.sources.description).sorted() == ["192.0.2.128/25", "192.0.2.192/26"])
        #expect(dropped.allSatisfy { $0.decision.decidedBy.text.contains("policy DROP") })
    }

    /// `tcp dport . ip saddr` is the same pair as `ip saddr . tcp dport`, named or anonymous: decided,
    /// not unknown. `ip saddr . iifname` stays unknown (both outcomes).
    @Test func portFirstConcatenations() {
        let rules = """
        table inet filter {
            set portpairs {
                type inet_service . ipv4_addr
                flags interval
                elements = { 443 . 192.0.2.0/25 }
            }
            chain input {
                type filter hook input priority filter; policy drop;
                tcp dport . ip saddr @portpairs accept
                tcp dport . ip saddr { 8080 . 203.0.113.0/24 } reject with tcp reset
                ip saddr . iifname { 198.51.100.0/24 . "eth0" } accept
            }
        }
        """
        func outcome(_ source: String, _ port: UInt16) -> String? {
            evaluate(rules, kind: .nftText, sources: [source], ports: PortSet(port...port)).first.map { "\($0.decision.outcome)" }
        }
        #expect(outcome("192.0.2.10/32", 443) == "accept")
        #expect(outcome("203.0.113.5/32", 8080) == "reject (tcp-reset)")
        // Past the pairs, only the address . interface rule is left: it may accept anyone.
        #expect(outcome("192.0.2.130/32", 443) == "unknown (accept or drop)")
        #expect(outcome("198.51.100.7/32", 80) == "unknown (accept or drop)")
    }

    @Test func userChainsGotoReturn() {
        let rules = """
        *filter
        :INPUT DROP [0:0]
        :CDN - [0:0]
        :WEB - [0:0]
        -A INPUT -p tcp -m tcp --dport 443 -j WEB
        -A INPUT -s 203.0.113.0/24 -j ACCEPT
        -A WEB -s 192.0.2.5/32 -j RETURN
        -A WEB -g CDN
        -A WEB -j DROP
        -A CDN -s 192.0.2.0/24 -j ACCEPT
        COMMIT
        """
        let parts = evaluate(rules, sources: ["192.0.2.0/24", "203.0.113.0/24"], ports: PortSet(443...443))
        func outcome(of address: String) -> OutcomePart? {
            let ip = IPAddress(address)!
            return parts.first { $0.sources.contains(ip) }
        }
        #expect(outcome(of: "192.0.2.9")?.decision.outcome.kind == .accept)
        #expect(outcome(of: "192.0.2.9")?.decision.path.map(\.location.line) == [5, 8])
        // RETURN from WEB: back in INPUT, not 203.0.113/24 → policy.
        #expect(outcome(of: "192.0.2.5")?.decision.outcome.kind == .drop)
        // goto CDN falls off CDN → back to WEB's caller (INPUT rule 6), never to WEB's DROP.
        #expect(outcome(of: "203.0.113.7")?.decision.outcome.kind == .accept)
        #expect(outcome(of: "203.0.113.7")?.decision.decidedBy.location.line == 6)
    }

    @Test func rateLimitAndUnknown() {
        let rules = """
        *filter
        :INPUT DROP [0:0]
        -A INPUT -p tcp --dport 80 -m limit --limit 25/minute --limit-burst 100 -j ACCEPT
        -A INPUT -p tcp --dport 443 -m weird --thing 1 -j ACCEPT
        COMMIT
        """
        let parts = evaluate(rules, sources: ["192.0.2.0/24"], ports: PortSet(ranges: [80...80, 443...443]))
        let limited = parts.first { $0.ports.contains(80) }
        #expect(limited?.decision.outcome.kind == .rateLimited)
        #expect(limited?.decision.outcome.possible == [.accept, .drop])
        let unknown = parts.first { $0.ports.contains(443) }
        #expect(unknown?.decision.outcome.kind == .unknown)
        #expect(unknown?.decision.decidedBy.location.line == 4)
    }

    @Test func jumpLoopIsReportedNotRecursed() {
        let rules = """
        *filter
        :INPUT ACCEPT [0:0]
        :A - [0:0]
        :B - [0:0]
        -A INPUT -j A
        -A A -j B
        -A B -j A
        COMMIT
        """
        let parts = evaluate(rules, sources: ["192.0.2.0/24"], ports: PortSet(443...443))
        #expect(parts.first?.decision.outcome.kind == .unknown)
    }

    @Test func ipsetMatchAndNomatch() {
        let ipset = """
        create cdn hash:net family inet hashsize 1024 maxelem 65536
        add cdn 192.0.2.0/24
        add cdn 192.0.2.64/26 nomatch
        """
        let rules = """
        *filter
        :INPUT DROP [0:0]
        -A INPUT -p tcp -m set --match-set cdn src -m tcp --dport 443 -j ACCEPT
        COMMIT
        """
        let parts = evaluate(rules, sources: ["192.0.2.0/24"], ports: PortSet(443...443),
                             extra: [FirewallInput(kind: .ipset, displayPath: "ipset.save", bytes: Array(ipset.utf8))])
        #expect(parts.first { $0.decision.outcome.kind == .accept }?.sources.description == "192.0.2.0/26, 192.0.2.128/25")
    }

    @Test func nftMultiTableDropEndsEverything() {
        let json = """
        {"nftables": [{"table": {"family": "inet", "name": "a", "handle": 1}},
        {"chain": {"family": "inet", "table": "a", "name": "in", "handle": 1, "type": "filter", "hook": "input", "prio": 0, "policy": "accept"}},
        {"rule": {"family": "inet", "table": "a", "chain": "in", "handle": 2, "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": 443}}, {"accept": null}]}},
        {"table": {"family": "ip", "name": "b", "handle": 2}},
        {"chain": {"family": "ip", "table": "b", "name": "in", "handle": 1, "type": "filter", "hook": "input", "prio": 10, "policy": "accept"}},
        {"rule": {"family": "ip", "table": "b", "chain": "in", "handle": 3, "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "saddr"}}, "right": {"prefix": {"addr": "192.0.2.0", "len": 25}}}}, {"drop": null}]}}
        ]}
        """
        let parts = evaluate(json, kind: .nftJSON, sources: ["192.0.2.0/24"], ports: PortSet(443...443))
        let dropped = parts.first { $0.decision.outcome.kind == .drop }
        #expect(dropped?.sources.description == "192.0.2.0/25")
        #expect(dropped?.decision.decidedBy.location.handle == 3)
        #expect(parts.first { $0.decision.outcome.kind == .accept }?.sources.description == "192.0.2.128/25")
    }
}
