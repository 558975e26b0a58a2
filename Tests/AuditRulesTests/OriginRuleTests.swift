import Foundation
import Testing
import OriginAuditCore
import WebServer
@testable import AuditRules

/// origin.* rules over hand-built web-server models: the logic, independent of either parser.
/// (The fixtures under Fixtures/origin.*/ prove the same rules through the real parsers.)
@Suite struct OriginRuleTests {
    static let file = "sites/example.conf"
    static func at(_ line: Int) -> OriginAuditCore.SourceLocation { OriginAuditCore.SourceLocation(file: file, line: line, column: 5) }
    static let cloudflare = try! CDNProfile.embedded("cloudflare")
    static func profile(_ mode: TLSMode) -> Profile { Profile(cdn: cloudflare, tlsMode: mode, at: Date(timeIntervalSince1970: 1_795_392_000)) }

    static func host(_ ports: [(UInt16, Bool)], names: [String] = ["example.test"], redirects: [Redirect] = [],
                     realIP: RealIPSettings? = nil, access: [AccessRule] = [], limiters: [Limiter] = [],
                     software: ServerSoftware = .nginx) -> VirtualHost {
        VirtualHost(software: software, location: at(1),
                    names: names.map { ConfigValue(ServerName.exact($0), at: at(2)) },
                    listeners: ports.map { Listener(address: .any(nil), port: $0.0, tls: $0.1, location: at(3)) },
                    realIP: realIP, accessRules: access, limiters: limiters, redirects: redirects)
    }

    static func model(_ hosts: [VirtualHost], limiters: [Limiter] = []) -> OriginModel {
        OriginModel(webServer: WebServerModel(servers: [WebServerConfig(software: hosts.first?.software ?? .nginx, mainFile: file, virtualHosts: hosts, connectionLimiters: limiters)]))
    }

    static func realIP(_ cidrs: [String], header: String = "CF-Connecting-IP") -> RealIPSettings {
        RealIPSettings(trusted: DualStackSet(cidrs: cidrs.compactMap { CIDR($0) }),
                       trustedEntries: cidrs.map { ConfigValue($0, at: at(10)) },
                       header: ConfigValue(header, at: at(11)), location: at(10))
    }

    static let allCloudflare = cloudflare.ranges.cidrs.map(\.description)

    /// Hostnames already in lower-case ASCII are returned as they are; any other text as
    /// `lowercased()` makes it.
    @Test func lowercasedAsTheStandardLibrary() {
        let names = ["site0.example.com", "WWW.Example.COM", "", "a", "xn--bcher-kva.example", "Bücher.example", "İstanbul.example",
                     "ǅ.example", "straße.example", "@[`{.example", "ZZ"] + (0..<128).map { "a" + String(Unicode.Scalar(UInt8($0))) }
        for name in names { #expect(LowercaseASCII.lowercased(name) == name.lowercased(), "\(name.debugDescription)") }
    }

    @Test func flexibleWithHTTPSRedirectLoops() {
        let redirect = Redirect(from: .any, to: .https, status: 301, target: "https://$host$request_uri", location: Self.at(5))
        let model = Self.model([Self.host([(80, false)], redirects: [redirect])])
        #expect(RedirectLoopRule().check(model, profile: Self.profile(.flexible)).count == 1)
        #expect(RedirectLoopRule().check(model, profile: Self.profile(.full)).isEmpty)
        #expect(RedirectLoopRule().check(model, profile: Self.profile(.strict)).isEmpty)
    }

    @Test func strictWithRedirectToHTTPLoops() {
        let redirect = Redirect(from: .https, to: .http, status: 302, target: "http://example.test/", location: Self.at(5))
        let model = Self.model([Self.host([(443, true)], redirects: [redirect])])
        #expect(RedirectLoopRule().check(model, profile: Self.profile(.strict)).count == 1)
        #expect(RedirectLoopRule().check(model, profile: Self.profile(.flexible)).isEmpty)
    }

    @Test func listenersFollowTheMode() {
        let httpOnly = Self.model([Self.host([(80, false)])])
        let found = TLSListenerMissingRule().check(httpOnly, profile: Self.profile(.strict))
        #expect(found.map(\.predicts) == ["521"])
        #expect(TLSListenerMissingRule().check(httpOnly, profile: Self.profile(.flexible)).isEmpty)
        let plain443 = Self.model([Self.host([(80, false), (443, false)])])
        #expect(TLSListenerMissingRule().check(plain443, profile: Self.profile(.full)).map(\.predicts) == ["525"])
        let tlsOnly = Self.model([Self.host([(443, true)])])
        #expect(HTTPListenerMissingRule().check(tlsOnly, profile: Self.profile(.flexible)).first?.severity == nil)
        #expect(HTTPListenerMissingRule().check(tlsOnly, profile: Self.profile(.full)).first?.severity == .warning)
        #expect(HTTPListenerMissingRule().check(tlsOnly, profile: Self.profile(.originPull)).isEmpty)
        #expect(UnproxiedPortRule().check(Self.model([Self.host([(8081, false)])]), profile: Self.profile(.full)).count == 1)
        #expect(UnproxiedPortRule().check(Self.model([Self.host([(8080, false)])]), profile: Self.profile(.full)).isEmpty)
    }

    /// The listener rules' shortcut (`HostSelection.answer`: the port answers for every name)
    /// agrees with choosing a host for each name, across configurations, hosts with several
    /// listeners on a port (the first counts) and sockets that are not TCP.
    @Test func portAnswerAgreesWithChoosingEachName() {
        func host(_ name: String, _ listeners: [(UInt16?, Bool)], unixOn port: UInt16? = nil) -> VirtualHost {
            var all = listeners.map { Listener(address: .any(nil), port: $0.0, tls: $0.1, location: Self.at(3)) }
            if let port { all.insert(Listener(address: .unix("/run/\(name).sock"), port: port, location: Self.at(4)), at: 0) }
            return VirtualHost(software: .nginx, location: Self.at(1), names: [ConfigValue(.exact(name), at: Self.at(2))], listeners: all)
        }
        let cases: [[[VirtualHost]]] = [
            [[host("a.test", [(443, true), (80, false)]), host("b.test", [(443, true)])]],
            [[host("a.test", [(443, false), (443, true)]), host("b.test", [(443, true)])]],
            [[host("a.test", [(443, true), (443, false)]), host("b.test", [(443, true), (80, false)])]],
            [[], [host("b.test", [(80, false)])]],
            [[host("a.test", [(443, true)])], [host("b.test", [(443, false), (80, false)])]],
            [[host("a.test", [(nil, false)], unixOn: 443)], [host("b.test", [(8443, true)], unixOn: 80)]],
            [[host("a.test", [(443, true)], unixOn: 443), host("b.test", [(443, true)])]],
        ]
        for servers in cases {
            let model = OriginModel(webServer: WebServerModel(servers: servers.map {
                WebServerConfig(software: .nginx, mainFile: Self.file, virtualHosts: $0)
            }))
            let selection = HostSelection(model)
            for port: UInt16 in [80, 443] {
                let chosen = ["a.test", "b.test", "elsewhere.test"].map { selection.choice(for: $0, port: port) }
                switch HostSelection.answer(on: port, in: model) {
                case .nobody: #expect(chosen.allSatisfy { $0 == nil }, "\(servers.map(\.count)) \(port)")
                case .onlyTLS: #expect(chosen.allSatisfy { $0?.listener.tls == true }, "\(servers.map(\.count)) \(port)")
                case .someInPlainText: #expect(chosen.contains { $0?.listener.tls == false }, "\(servers.map(\.count)) \(port)")
                }
            }
            // The rules give what choosing each name gives (their shortcut taken or not).
            for mode in [TLSMode.flexible, .full, .strict] {
                let names = OriginContext.hostnames(model, Self.profile(mode))
                let plain443 = names.filter { selection.choice(for: $0, port: 443).map { !$0.listener.tls } ?? (selection.anyHost(serving: $0) != nil) }
                let none80 = names.filter { selection.choice(for: $0, port: 80) == nil && selection.anyHost(serving: $0) != nil }
                #expect(TLSListenerMissingRule().check(model, profile: Self.profile(mode)).count == (mode == .flexible ? 0 : plain443.count))
                #expect(HTTPListenerMissingRule().check(model, profile: Self.profile(mode)).count == none80.count)
            }
        }
    }

    /// A host's names as messages show them: written at once into a string of their length,
    /// the same text as adding each name to a growing string.
    @Test func describedNamesAsJoinedOneByOne() {
        let pool = ["example.test", "www.example.test", "a.test", "Bücher.example", "", "x"]
        for count in 0...5 {
            for offset in pool.indices {
                let names = (0..<count).map { pool[($0 + offset) % pool.count] }
                var values = names.map { ConfigValue(ServerName.exact($0), at: Self.at(2)) }
                values.insert(ConfigValue(ServerName.catchAll, at: Self.at(2)), at: min(1, values.count))
                let host = VirtualHost(software: .nginx, location: Self.at(1), names: values)
                guard count > 0 else { #expect(OriginContext.describe(host).hasPrefix("the server without a server_name")); continue }
                let expected = names.prefix(3).joined(separator: ", ") + (count > 3 ? " (+\(count - 3))" : "")
                #expect(Array(OriginContext.describe(host).utf8) == Array(expected.utf8))
            }
        }
    }

    @Test func realIPCoverage() {
        let none = Self.model([Self.host([(80, false)])])
        #expect(RealIPMissingRule().check(none, profile: Self.profile(.full)).count == 1)
        let wrongHeader = Self.model([Self.host([(80, false)], realIP: Self.realIP(Self.allCloudflare, header: "X-Real-IP"))])
        #expect(RealIPMissingRule().check(wrongHeader, profile: Self.profile(.full)).count == 1)
        let complete = Self.model([Self.host([(80, false)], realIP: Self.realIP(Self.allCloudflare))])
        #expect(RealIPMissingRule().check(complete, profile: Self.profile(.full)).isEmpty)
        #expect(RealIPIncompleteRule().check(complete, profile: Self.profile(.full)).isEmpty)
        let partial = Self.model([Self.host([(80, false)], realIP: Self.realIP(["173.245.48.0/20", "2400:cb00::/32"]))])
        let incomplete = RealIPIncompleteRule().check(partial, profile: Self.profile(.full))
        #expect(incomplete.count == 1)
        #expect(incomplete.first?.message.contains("103.21.244.0/22") == true)
        #expect(incomplete.first?.message.contains("173.245.48.0/20") == false)
        let any = Self.model([Self.host([(80, false)], realIP: Self.realIP(["0.0.0.0/0"]))])
        #expect(RealIPTrustsAnyRule().check(any, profile: Self.profile(.full)).count == 1)
        #expect(RealIPTrustsAnyRule().check(complete, profile: Self.profile(.full)).isEmpty)
    }

    @Test("a host without a name of its own is named as httpd -S lists it: its addresses and where it is defined")
    func nameLessHostsAreNamedByAddress() {
        var apache = Self.host([(7081, false)], names: [], realIP: Self.realIP(["173.245.48.0/20"]), software: .apache)
        apache.names = [ConfigValue(.catchAll, at: Self.at(1))]
        apache.listeners = [Listener(address: .any(.ipv4), port: 7081, location: Self.at(1)),
                            Listener(address: .ip(IPAddress("127.0.0.1")!), port: 7081, location: Self.at(1)),
                            Listener(address: .any(.ipv4), port: 7081, location: Self.at(1))]
        #expect(OriginContext.describe(apache) == "the <VirtualHost 0.0.0.0:7081 127.0.0.1:7081> without a ServerName (sites/example.conf:1)")
        let nginx = Self.host([(80, false)], names: ["_"], realIP: Self.realIP(["173.245.48.0/20"]))
        var unnamed = nginx
        unnamed.names = [ConfigValue(.catchAll, at: Self.at(2))]
        #expect(OriginContext.describe(unnamed) == "the server on *:80 without a server_name (sites/example.conf:1)")
        #expect(OriginContext.describe(Self.host([(80, false)])) == "example.test")
        // tls.cert-missing names such a host the same way, not "_".
        var tlsHost = apache
        tlsHost.tls = TLSSettings(certificateRequiredAt: Self.at(4))
        let missing = CertMissingRule().check(Self.model([tlsHost]), profile: Self.profile(.full))
        #expect(missing.first?.message.hasPrefix("TLS is turned on here for the <VirtualHost 0.0.0.0:7081 127.0.0.1:7081> without a ServerName") == true,
                "\(missing.map(\.message))")
    }

    @Test func limitersCountEdgesUnlessRestored() {
        let limiter = Limiter(kind: .nginxLimitReq, key: "$binary_remote_addr", keysOnClientAddress: true, location: Self.at(20))
        let unrestored = Self.model([Self.host([(80, false)], limiters: [limiter])])
        #expect(PerIPLimitOnCDNRule().check(unrestored, profile: Self.profile(.full)).count == 1)
        let restored = Self.model([Self.host([(80, false)], realIP: Self.realIP(Self.allCloudflare), limiters: [limiter])])
        #expect(PerIPLimitOnCDNRule().check(restored, profile: Self.profile(.full)).isEmpty)
        let byHeader = Limiter(kind: .nginxLimitReq, key: "$http_cf_connecting_ip", keysOnClientAddress: false, location: Self.at(20))
        #expect(PerIPLimitOnCDNRule().check(Self.model([Self.host([(80, false)], limiters: [byHeader])]), profile: Self.profile(.full)).isEmpty)
    }

    /// mod_evasive in the main server is inherited by the port-80 and the port-443 vhost: one
    /// finding at its configuration, naming both hosts, not two identical ones.
    @Test func aServerWideLimiterIsReportedOnce() {
        let evasive = Limiter(kind: .modEvasive, key: "useragent_ip", keysOnClientAddress: true, location: Self.at(30))
        let hosts = [Self.host([(80, false)], limiters: [evasive], software: .apache),
                     Self.host([(443, true)], limiters: [evasive], software: .apache)]
        let findings = PerIPLimitOnCDNRule().check(Self.model(hosts), profile: Self.profile(.full))
        #expect(findings.count == 1)
        #expect(findings.first?.related.count == 2)
        // Two limiters of their own (two nginx servers, two limit_req lines) stay two findings.
        let own = [Self.host([(80, false)], limiters: [Limiter(kind: .nginxLimitReq, key: "$binary_remote_addr", keysOnClientAddress: true, location: Self.at(20))]),
                   Self.host([(443, true)], limiters: [Limiter(kind: .nginxLimitReq, key: "$binary_remote_addr", keysOnClientAddress: true, location: Self.at(40))])]
        #expect(PerIPLimitOnCDNRule().check(Self.model(own), profile: Self.profile(.full)).count == 2)
    }

    @Test func antilorisNeedsExemptionNotRealIP() {
        let antiloris = Limiter(kind: .modAntiloris, key: "peer", keysOnClientAddress: true, countsConnectionPeer: true, limit: "IPReadLimit 10", location: Self.at(30))
        let withRealIP = Self.model([Self.host([(80, false)], realIP: Self.realIP(Self.allCloudflare), software: .apache)], limiters: [antiloris])
        #expect(AntilorisBlocksCDNRule().check(withRealIP, profile: Self.profile(.full)).count == 1)
        var exempt = antiloris
        exempt.exempt = Self.cloudflare.ranges
        let exempted = Self.model([Self.host([(80, false)], software: .apache)], limiters: [exempt])
        #expect(AntilorisBlocksCDNRule().check(exempted, profile: Self.profile(.full)).isEmpty)
    }

    static func rule(_ action: AccessRule.Action, _ cidrs: [String], line: Int) -> AccessRule {
        AccessRule(action: action, sources: cidrs == ["all"] ? DualStackSet(ipv4: .all(.ipv4), ipv6: .all(.ipv6)) : DualStackSet(cidrs: cidrs.compactMap { CIDR($0) }), location: at(line))
    }

    @Test func denyJudgesEdgesWithoutRealIP() {
        let denyEdge = Self.model([Self.host([(80, false)], access: [Self.rule(.deny, ["162.158.0.0/16"], line: 40)])])
        let found = DenyBlocksCDNRule().check(denyEdge, profile: Self.profile(.full))
        #expect(found.count == 1 && found.first?.message.contains("162.158.0.0/16") == true)
        // The same deny with the address restored judges visitors, not edges.
        let restored = Self.model([Self.host([(80, false)], realIP: Self.realIP(Self.allCloudflare), access: [Self.rule(.deny, ["162.158.0.0/16"], line: 40)])])
        #expect(DenyBlocksCDNRule().check(restored, profile: Self.profile(.full)).isEmpty)
        // A scope closed to everyone is not about the CDN.
        #expect(DenyBlocksCDNRule().check(Self.model([Self.host([(80, false)], access: [Self.rule(.deny, ["all"], line: 43)])]), profile: Self.profile(.full)).isEmpty)
        // allow <CDN>; deny all without real-IP is the intended lock-down.
        let lockdown = [Self.rule(.allow, Self.allCloudflare, line: 41), Self.rule(.deny, ["all"], line: 42)]
        #expect(DenyBlocksCDNRule().check(Self.model([Self.host([(80, false)], access: lockdown)]), profile: Self.profile(.full)).isEmpty)
        // ...and with real-IP it refuses every visitor.
        let broken = DenyBlocksCDNRule().check(Self.model([Self.host([(80, false)], realIP: Self.realIP(Self.allCloudflare), access: lockdown)]), profile: Self.profile(.full))
        #expect(broken.count == 1 && broken.first?.location?.line == 41)
    }

    /// `<Directory /usr/share/doc> … Allow from 127.0.0.0/8` (Debian's old default): the scope is
    /// closed to every public visitor already; the CDN's 403 there is said as info, not an error.
    @Test func aScopeOpenOnlyToPrivateNetworksIsInfo() {
        let local = [Self.rule(.allow, ["127.0.0.0/8", "::1/128"], line: 50), Self.rule(.deny, ["all"], line: 51)]
        var host = Self.host([(80, false)], software: .apache)
        host.accessRules = local.map { var rule = $0; rule.scope = "<Directory /usr/share/doc>"; return rule }
        let found = DenyBlocksCDNRule().check(Self.model([host]), profile: Self.profile(.full))
        #expect(found.count == 1)
        #expect(found.first?.severity == .info)
        #expect(found.first?.message.contains("only to loopback or private addresses") == true)
        // The near miss: one public range besides loopback is a real 403 for the CDN's visitors.
        var publicToo = host
        publicToo.accessRules = ([Self.rule(.allow, ["127.0.0.0/8", "198.51.100.0/24"], line: 50), Self.rule(.deny, ["all"], line: 51)])
            .map { var rule = $0; rule.scope = "<Directory /srv>"; return rule }
        let real = DenyBlocksCDNRule().check(Self.model([publicToo]), profile: Self.profile(.full))
        #expect(real.count == 1 && real.first?.severity == nil)
    }

    /// A host listening on one port at several addresses names the port once.
    @Test func unproxiedPortsAreNamedOnce() {
        let host = Self.host([(7080, false), (7080, false), (7080, true), (7081, false)])
        let found = UnproxiedPortRule().check(Self.model([host]), profile: Self.profile(.full))
        #expect(found.count == 1)
        #expect(found.first?.message.contains("ports 7080, 7081,") == true, "\(found.map(\.message))")
    }

    /// `www` sends visitors to the bare name over HTTP; the bare name serves HTTPS: no bounce.
    @Test func aRedirectToAnotherHostIsFollowedToThatHost() {
        let away = Redirect(from: .any, to: .http, status: 301, target: "http://example.test$request_uri", location: Self.at(5))
        let www = Self.host([(80, false), (443, true)], names: ["www.example.test"], redirects: [away])
        let bare = Self.host([(443, true)], names: ["example.test"])
        #expect(RedirectLoopRule().check(Self.model([www, bare]), profile: Self.profile(.full)).isEmpty)
        // ...unless the bare name sends them back the same way.
        let back = Redirect(from: .https, to: .http, status: 301, target: "http://www.example.test/", location: Self.at(9))
        let bouncing = Self.host([(443, true)], names: ["example.test"], redirects: [back])
        #expect(RedirectLoopRule().check(Self.model([www, bouncing]), profile: Self.profile(.full)).count == 2)
        // A host this configuration does not serve is not known to send anyone back.
        let elsewhere = Redirect(from: .any, to: .http, status: 301, target: "http://other.example/", location: Self.at(5))
        #expect(RedirectLoopRule().check(Self.model([Self.host([(443, true)], redirects: [elsewhere])]), profile: Self.profile(.full)).isEmpty)
    }
}
