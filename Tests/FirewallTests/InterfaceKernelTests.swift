import Foundation
import Testing
import OriginAuditCore
import TestSupport
import FirewallLab
@testable import Firewall

/// Rulesets that tell interfaces apart, in the shapes met on real hosts (written for this
/// project: replicas of an OpenWrt fw3 router, a fail2ban host, a Shorewall host, an office
/// gateway, an nftables workstation; a ufw host made by the installed ufw). The origin has two
/// interfaces: `eth0` (public, the CDN's side) and `enp2s0` (LAN, sources 198.18.0.0/24).
enum InterfaceCorpus {
    static let ufwCommands = [
        "default deny incoming", "allow in on enp2s0", "allow from 192.0.2.0/25 to any port 443 proto tcp", "limit 80/tcp",
        "reject 8080/tcp", "deny from 203.0.113.0/24",
    ]
    static let cases: [KernelCase] = [
        KernelCase(name: "office gateway: LAN accepted, eth+ to a WAN zone", sources: [.iptables(KernelCorpus.filter(chains: ["zone_wan"], """
        -A INPUT -i lo -j ACCEPT
        -A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
        -A INPUT -m conntrack --ctstate INVALID -j DROP
        -A INPUT -i enp2s0 -j ACCEPT
        -A INPUT -i eth+ -j zone_wan
        -A zone_wan -s 192.0.2.0/24 -p tcp -m multiport --dports 80,443 -j ACCEPT
        -A zone_wan -p tcp -j REJECT --reject-with tcp-reset
        """))]),
        KernelCase(name: "OpenWrt fw3 shape: delegate_input, syn_flood, zone_lan/zone_wan", sources: [.iptables(KernelCorpus.filter("ACCEPT", chains: [
            "delegate_input", "input_rule", "input_lan_rule", "input_wan_rule", "syn_flood", "zone_lan_input", "zone_wan_input",
            "zone_lan_src_ACCEPT", "zone_wan_src_REJECT", "reject"], """
        -A INPUT -j delegate_input
        -A delegate_input -i lo -j ACCEPT
        -A delegate_input -m comment --comment "!fw3: Custom input rule chain" -j input_rule
        -A delegate_input -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
        -A delegate_input -p tcp -m tcp --tcp-flags FIN,SYN,RST,ACK SYN -j syn_flood
        -A delegate_input -i enp2s0 -j zone_lan_input
        -A delegate_input -i eth0 -j zone_wan_input
        -A syn_flood -p tcp -m tcp --tcp-flags FIN,SYN,RST,ACK SYN -m limit --limit 25/sec --limit-burst 50 -j RETURN
        -A syn_flood -j DROP
        -A reject -p tcp -j REJECT --reject-with tcp-reset
        -A reject -j REJECT --reject-with icmp-port-unreachable
        -A zone_lan_input -j input_lan_rule
        -A zone_lan_input -m conntrack --ctstate DNAT -j ACCEPT
        -A zone_lan_input -j zone_lan_src_ACCEPT
        -A zone_lan_src_ACCEPT -i enp2s0 -m conntrack --ctstate NEW,UNTRACKED -j ACCEPT
        -A zone_wan_input -j input_wan_rule
        -A zone_wan_input -p tcp -m tcp --dport 443 -m comment --comment "!fw3: Allow-HTTPS" -j ACCEPT
        -A zone_wan_input -m conntrack --ctstate DNAT -j ACCEPT
        -A zone_wan_input -j zone_wan_src_REJECT
        -A zone_wan_src_REJECT -i eth0 -j reject
        """))]),
        KernelCase(name: "fail2ban host: f2b-* chains with REJECT, LAN allowed", sources: [.iptables(KernelCorpus.filter("ACCEPT", chains: ["f2b-sshd", "f2b-nginx"], """
        -A INPUT -p tcp -m multiport --dports 22 -j f2b-sshd
        -A INPUT -p tcp -m multiport --dports 80,443 -j f2b-nginx
        -A INPUT -i lo -j ACCEPT
        -A INPUT -s 198.18.0.0/24 -i enp2s0 -j ACCEPT
        -A INPUT -m state --state RELATED,ESTABLISHED -j ACCEPT
        -A INPUT -i eth0 -p tcp -m multiport --dports 80,443 -j ACCEPT
        -A INPUT -j DROP
        -A f2b-sshd -s 203.0.113.0/24 -j REJECT --reject-with icmp-port-unreachable
        -A f2b-sshd -j RETURN
        -A f2b-nginx -s 198.51.100.7/32 -j REJECT --reject-with icmp-port-unreachable
        -A f2b-nginx -s 198.18.0.77/32 -j REJECT --reject-with icmp-port-unreachable
        -A f2b-nginx -j RETURN
        """))]),
        KernelCase(name: "Shorewall shape: net-fw / loc-fw, Reject then DROP", sources: [.iptables(KernelCorpus.filter(chains: ["net-fw", "loc-fw", "Reject", "reject"], """
        -A INPUT -i eth0 -j net-fw
        -A INPUT -i enp2s0 -j loc-fw
        -A INPUT -i lo -j ACCEPT
        -A INPUT -j Reject
        -A INPUT -j DROP
        -A net-fw -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
        -A net-fw -s 192.0.2.0/24 -p tcp -m multiport --dports 80,443 -j ACCEPT
        -A net-fw -p tcp -m tcp --dport 22 -j ACCEPT
        -A net-fw -j Reject
        -A net-fw -j DROP
        -A loc-fw -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
        -A loc-fw -p tcp -m multiport --dports 22,80,443,8080 -j ACCEPT
        -A loc-fw -j reject
        -A Reject -m addrtype --dst-type BROADCAST -j DROP
        -A Reject -m addrtype --dst-type MULTICAST -j DROP
        -A Reject -p tcp -m tcp --dport 113 -j reject
        -A reject -m addrtype --src-type BROADCAST -j DROP
        -A reject -p tcp -j REJECT --reject-with tcp-reset
        -A reject -j REJECT --reject-with icmp-host-prohibited
        """))]),
        KernelCase(name: "nft workstation: iifname set and wildcard, iiftype, icmpv6 types", sources: [.nft("""
        table inet filter {
            chain input {
                type filter hook input priority filter; policy drop;
                meta iiftype loopback accept
                ct state established,related accept
                ct state invalid drop
                icmpv6 type { nd-neighbor-solicit, nd-router-advert, nd-neighbor-advert } accept
                icmp type echo-request accept
                iifname { "enp2s0", "wg0" } tcp dport { 22, 80, 443, 8080 } accept
                iifname "eth*" jump wan
                tcp dport 8080 reject with tcp reset
            }
            chain wan {
                ip saddr 192.0.2.0/25 tcp dport { 80, 443 } accept
                ip6 saddr 2001:db8:1::/48 tcp dport 443 accept
                tcp dport 22 limit rate 3/minute accept
                ip saddr 203.0.113.0/24 reject with icmp type admin-prohibited
            }
        }
        """)]),
        KernelCase(name: "nft objects, concatenations, named vmap, NAT statements", sources: [.nft("""
        table inet filter {
            ct helper ftp-standard {
                type "ftp" protocol tcp
                l3proto inet
            }
            counter cnt_http {
                packets 0 bytes 0
            }
            quota q_big {
                over 100 mbytes
            }
            limit lim_ssh {
                rate 400/minute burst 5 packets
            }
            set pairs {
                type ipv4_addr . inet_service
                flags interval
                elements = { 198.51.100.0/24 . 443, 192.0.2.10 . 80 }
            }
            map portv {
                type inet_service : verdict
                elements = { 22 : drop, 8080 : accept }
            }
            chain input {
                type filter hook input priority filter; policy drop;
                iif "lo" accept
                ct state established,related accept
                rt type 0 drop
                exthdr frag exists drop
                tcp flags syn tcp dport 443 counter name cnt_http
                tcp dport https ct helper set "ftp-standard"
                ip saddr . tcp dport @pairs accept
                ip saddr . tcp dport { 203.0.113.0/24 . 8080, 192.0.2.128/25 . 443 } accept
                iifname "enp2s0" tcp dport vmap @portv
                tcp dport 22 limit name "lim_ssh" accept
                ip6 saddr 2001:db8:2::/48 tcp dport { http, https } accept
            }
        }
        table ip nat {
            chain prerouting {
                type nat hook prerouting priority dstnat; policy accept;
                iifname "eth0" tcp dport 2222 dnat to 10.0.0.3:22
                tcp dport 8081 redirect to :8080
            }
            chain postrouting {
                type nat hook postrouting priority srcnat; policy accept;
                oifname "eth0" masquerade
                ip saddr 10.0.0.0/8 snat to 192.0.2.1-192.0.2.10
            }
        }
        """)]),
        KernelCase(name: "ip6tables: extension headers, service and protocol names, length, pkttype", sources: [.ip6tables(KernelCorpus.filter(chains: ["f6"], """
        -A INPUT -i lo -j ACCEPT
        -A INPUT -m rt --rt-type 0 -j DROP
        -A INPUT -m frag --fragmore -j DROP
        -A INPUT -m hbh --hbh-len 8 -j DROP
        -A INPUT -m ipv6header --header hop,frag --soft -j DROP
        -A INPUT -p ipv6-icmp -j ACCEPT
        -A INPUT -p 41 -j ACCEPT
        -A INPUT -m pkttype --pkt-type multicast -j DROP
        -A INPUT -m length --length 1400:65535 -j DROP
        -A INPUT -i enp2s0 -p tcp -m multiport --dports ssh,http,https,http-alt -j ACCEPT
        -A INPUT -s 2001:db8:1::/48 -p tcp -m tcp --dport https -m pkttype --pkt-type unicast -j f6
        -A INPUT -p tcp -m tcp --dport http -j REJECT --reject-with tcp-reset
        -A f6 -m ipv6header ! --header frag -j ACCEPT
        """))]),
        KernelCase(name: "iptables: service names, protocol names and numbers, length, addrtype, pkttype", sources: [.iptables(KernelCorpus.filter(chains: [], """
        -A INPUT -i lo -j ACCEPT
        -A INPUT -p udplite -j ACCEPT
        -A INPUT -p 41 -j ACCEPT
        -A INPUT -m conntrack --ctstate INVALID,UNTRACKED -j DROP
        -A INPUT -p tcp -m tcp ! --syn -j DROP
        -A INPUT -m length --length 0:39 -j DROP
        -A INPUT -m addrtype ! --dst-type LOCAL -j DROP
        -A INPUT -m pkttype --pkt-type broadcast -j DROP
        -A INPUT -s 192.0.2.0/24 -p tcp -m multiport --dports http,https -j ACCEPT
        -A INPUT -s 198.51.100.0/24 -p tcp -m tcp --dport auth -j ACCEPT
        -A INPUT -i enp2s0 -p tcp -m tcp --dport ssh -j ACCEPT
        -A INPUT -p tcp -m tcp --dport http-alt -j REJECT --reject-with tcp-reset
        """))]),
        KernelCase(name: "ufw: allow in on the LAN, CDN allow-list, limit, reject, deny from", sources: [.ufw(InterfaceCorpus.ufwCommands)]),
        KernelCase(name: "ufw, the same rules as nft list ruleset shows them (iptables-nft, xt matches)", sources: [.ufwNft(InterfaceCorpus.ufwCommands)]),
        KernelCase(name: "Docker host: DOCKER-USER, DOCKER-ISOLATION-STAGE-1/2, docker0 and br-*, LAN and WAN", sources: [.iptables("""
        *nat
        :PREROUTING ACCEPT [0:0]
        :INPUT ACCEPT [0:0]
        :OUTPUT ACCEPT [0:0]
        :POSTROUTING ACCEPT [0:0]
        :DOCKER - [0:0]
        -A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER
        -A OUTPUT ! -d 127.0.0.0/8 -m addrtype --dst-type LOCAL -j DOCKER
        -A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE
        -A POSTROUTING -s 172.18.0.0/16 ! -o br-5e1f2a3b4c5d -j MASQUERADE
        -A DOCKER -i docker0 -j RETURN
        -A DOCKER -i br-5e1f2a3b4c5d -j RETURN
        COMMIT
        *filter
        :INPUT DROP [0:0]
        :FORWARD DROP [0:0]
        :OUTPUT ACCEPT [0:0]
        :DOCKER - [0:0]
        :DOCKER-ISOLATION-STAGE-1 - [0:0]
        :DOCKER-ISOLATION-STAGE-2 - [0:0]
        :DOCKER-USER - [0:0]
        -A INPUT -i lo -j ACCEPT
        -A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
        -A INPUT -i docker0 -j ACCEPT
        -A INPUT -i br-+ -p tcp -m multiport --dports 80,443 -j ACCEPT
        -A INPUT -i enp2s0 -s 198.18.0.0/24 -p tcp -m multiport --dports 22,80,443,8080 -j ACCEPT
        -A INPUT -i eth0 -s 192.0.2.0/24 -p tcp -m multiport --dports 80,443 -j ACCEPT
        -A INPUT -i eth0 -s 198.51.100.0/24 -p tcp -m tcp --dport 443 -j ACCEPT
        -A INPUT -i eth0 -p tcp -m tcp --dport 8080 -j REJECT --reject-with tcp-reset
        -A FORWARD -j DOCKER-USER
        -A FORWARD -j DOCKER-ISOLATION-STAGE-1
        -A FORWARD -o docker0 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
        -A FORWARD -o docker0 -j DOCKER
        -A FORWARD -i docker0 ! -o docker0 -j ACCEPT
        -A FORWARD -i docker0 -o docker0 -j ACCEPT
        -A FORWARD -o br-5e1f2a3b4c5d -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
        -A FORWARD -o br-5e1f2a3b4c5d -j DOCKER
        -A FORWARD -i br-5e1f2a3b4c5d ! -o br-5e1f2a3b4c5d -j ACCEPT
        -A FORWARD -i br-5e1f2a3b4c5d -o br-5e1f2a3b4c5d -j ACCEPT
        -A DOCKER-ISOLATION-STAGE-1 -i docker0 ! -o docker0 -j DOCKER-ISOLATION-STAGE-2
        -A DOCKER-ISOLATION-STAGE-1 -i br-5e1f2a3b4c5d ! -o br-5e1f2a3b4c5d -j DOCKER-ISOLATION-STAGE-2
        -A DOCKER-ISOLATION-STAGE-1 -j RETURN
        -A DOCKER-ISOLATION-STAGE-2 -o docker0 -j DROP
        -A DOCKER-ISOLATION-STAGE-2 -o br-5e1f2a3b4c5d -j DROP
        -A DOCKER-ISOLATION-STAGE-2 -j RETURN
        -A DOCKER-USER -i eth0 -s 203.0.113.0/24 -j DROP
        -A DOCKER-USER -j RETURN
        COMMIT
        """)]),
    ]
}

/// The kernel decides; the evaluator must agree when told the interface a probe arrives on, and
/// must never be wrong when it is not told: a certain answer equals the kernel's, an uncertain one
/// lists it (the interfaces the rules distinguish, each with its outcome).
@Suite(.serialized) struct InterfaceKernelTests {
    struct Counts { var certain = 0, uncertain = 0, unbounded = 0, contradictions = 0 }

    @Test(.oracle("the kernel lab", unavailable: KernelLab.unavailableReason))
    func kernelAgreesOnEveryInterface() throws {
        #expect(InterfaceCorpus.cases.count == ReadmeFigures.value("kernel-interface-rulesets"))
        let lab = try KernelLab()
        defer { lab.tearDown() }
        try lab.enableLAN()
        let public4 = KernelLab.v4Sources.flatMap { source in KernelLab.ports.map { (source: source, port: $0) } }
            + KernelLab.v6Sources.flatMap { source in KernelLab.ports.map { (source: source, port: $0) } }
        let lanProbes = KernelLab.lanSources.flatMap { source in KernelLab.ports.map { (source: source, port: $0) } }
        var told = Counts(), untold = Counts()
        for kernelCase in InterfaceCorpus.cases {
            try lab.reset()
            let inputs = try KernelTruthTests().load(kernelCase, into: lab)
            let loaded = FirewallLoader.load(inputs)
            #expect(KernelTruthTests.errors(loaded).isEmpty, "\(kernelCase.name): our parser rejects a file the kernel accepts: \(KernelTruthTests.errors(loaded).map { "\($0.location!): \($0.message)" })")
            let observed = try lab.probe(public4) + lab.probe(lanProbes, fromLAN: true)
            let probes = public4.map { ($0.source, $0.port, "eth0") } + lanProbes.map { ($0.source, $0.port, "enp2s0") }
            #expect(observed.count == probes.count, "\(kernelCase.name): probe output \(observed)")
            for ((source, port, arrival), seen) in zip(probes, observed) {
                guard let address = IPAddress(source) else { continue }
                let cell = AddressSet(family: address.family, cidrs: [CIDR(address: address, prefixLength: address.family.bits)])
                for (knows, evaluator) in [(true, FirewallEvaluator(model: loaded.model, publicInterfaces: [arrival])), (false, FirewallEvaluator(model: loaded.model))] {
                    guard let decision = evaluator.evaluate(family: address.family, sources: cell, ports: PortSet(port...port)).first?.decision else { continue }
                    let kind = decision.outcome.kind
                    let isCertain = kind == .accept || kind == .drop || kind == .reject
                    var counts = knows ? told : untold
                    defer { if knows { told = counts } else { untold = counts } }
                    guard let expected = Observation.compatible(decision.outcome) else { counts.unbounded += 1; continue }
                    if isCertain { counts.certain += 1 } else { counts.uncertain += 1 }
                    let agrees = expected.contains(Observation.normalise(seen))
                    if !agrees { counts.contradictions += 1 }
                    #expect(agrees, "\(kernelCase.name): \(source) on \(arrival) → tcp/\(port): kernel said \(seen), evaluator (\(knows ? "told \(arrival)" : "interface not given")) predicted \(decision.outcome) by \(decision.decidedBy)\(decision.byInterface.isEmpty ? "" : " per interface: \(decision.byInterface.map { "\($0.interface): \($0.outcome)" })")")
                    if knows && !decision.byInterface.isEmpty {
                        Issue.record("\(kernelCase.name): told the interface, the evaluator still splits by interface: \(decision.byInterface.map(\.interface))")
                    }
                }
            }
        }
        #expect(told.certain + told.uncertain + told.unbounded == ReadmeFigures.value("kernel-interface-probes"), "probes judged with the interface given")
        for (label, counts) in [("interface given", told), ("interface not given", untold)] {
            print("kernel-truth (two interfaces, \(InterfaceCorpus.cases.count) rulesets), \(label): \(counts.certain) certain, \(counts.uncertain) uncertain (kernel's answer listed), \(counts.unbounded) any-outcome, \(counts.contradictions) contradictions")
        }
    }
}
