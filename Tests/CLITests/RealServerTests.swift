import Foundation
import Testing
import TestSupport

/// What the scan predicts, shown by the real thing: a real nginx in a network namespace, the
/// real kernel's firewall, and requests from an "edge" namespace sourced from the test's CDN
/// ranges (192.0.2.0/24, 198.51.100.0/24). Each test scans a directory with the binary and then
/// serves the very same configuration.
@Suite(.serialized, .oracle("the origin lab", unavailable: OriginLab.unavailableReason))
struct RealServerTests {
    /// A directory with `.originaudit.yml`, the CDN ranges file and the given files.
    static func origin(mode: String, files: [String: String]) throws -> URL {
        let directory = try TestTools.temporaryDirectory("originaudit-demo")
        var all = files
        all[".originaudit.yml"] = """
            tlsMode: \(mode)
            at: 2026-11-23T00:00:00Z
            hostnames: [www.example.test]
            cdnRanges: cdn-ranges.txt

            """
        all["cdn-ranges.txt"] = OriginLab.cdnRanges
        for (path, text) in all {
            let url = directory.appendingPathComponent(path)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try text.replacingOccurrences(of: "@DIR@", with: directory.path).write(to: url, atomically: false, encoding: .utf8)
        }
        return directory
    }

    static func scan(_ directory: URL) throws -> Set<String> {
        try ScanIds.of([directory.path, "--root", directory.path], in: directory.path).ids
    }

    static let realIP = """
            set_real_ip_from 192.0.2.0/24;
            set_real_ip_from 198.51.100.0/24;
            real_ip_header CF-Connecting-IP;
        """

    /// Flexible mode: the edge speaks HTTP to the origin even for an HTTPS visitor, and an
    /// unconditional redirect to HTTPS sends the visitor back to the URL they asked for.
    @Test func flexibleModeRedirectLoopsForReal() throws {
        let directory = try Self.origin(mode: "flexible", files: ["etc/nginx/nginx.conf": """
            events { worker_connections 64; }
            http {
                access_log off;
            \(Self.realIP)
                server {
                    listen 80;
                    server_name www.example.test;
                    return 301 https://$host$request_uri;
                }
            }

            """])
        defer { try? FileManager.default.removeItem(at: directory) }
        #expect(try Self.scan(directory) == ["origin.redirect-loop"])

        let lab = try OriginLab()
        defer { lab.close() }
        try lab.startNginx(configuration: directory.appendingPathComponent("etc/nginx/nginx.conf"), port: 80)
        // What the edge sends for a visitor who asked for https://www.example.test/account.
        let answer = try lab.request(port: 80, path: "/account",
                                     headers: ["CF-Visitor: {\"scheme\":\"https\"}", "X-Forwarded-Proto: https", "CF-Connecting-IP: 203.0.113.50"])
        #expect(answer.status == 301, "\(answer)")
        #expect(answer.location == "https://www.example.test/account", "the origin sends the visitor to \(answer.location): \(answer)")
    }

    /// `allow <CDN ranges>; deny all` after real-IP: nginx judges the restored visitor address,
    /// so every visitor gets 403. Without real-IP the same rules admit the edge; and when
    /// `return` answers (rewrite phase, before access checks) they decide nothing at all.
    @Test(arguments: [
        ("real-ip", true, "root @DIR@/www;", Set(["origin.deny-blocks-cdn"]), 403),
        ("no-real-ip", false, "root @DIR@/www;", Set(["origin.realip-missing"]), 200),
        ("answered-by-return", true, "return 200 \"served\\n\";", Set<String>(), 200),
    ])
    func allowListAfterRealIPRefusesEveryVisitor(_ name: String, _ realIP: Bool, _ handler: String, _ ids: Set<String>, _ status: Int) throws {
        let configuration = """
            events { worker_connections 64; }
            http {
                access_log off;
            \(realIP ? Self.realIP : "")
                server {
                    listen 80;
                    server_name www.example.test;
                    allow 192.0.2.0/24;
                    allow 198.51.100.0/24;
                    deny all;
                    location / { \(handler) }
                }
            }

            """
        let directory = try Self.origin(mode: "flexible", files: ["etc/nginx/nginx.conf": configuration, "www/index.html": "served\n"])
        defer { try? FileManager.default.removeItem(at: directory) }
        #expect(try Self.scan(directory) == ids, "\(name)")

        let lab = try OriginLab()
        defer { lab.close() }
        try lab.startNginx(configuration: directory.appendingPathComponent("etc/nginx/nginx.conf"), port: 80)
        let answer = try lab.request(port: 80, headers: ["CF-Connecting-IP: 203.0.113.50"])
        #expect(answer.status == status, "\(name): \(answer)")
    }

    static let firewallAdmittingTheCDN = """
        *filter
        :INPUT DROP [0:0]
        :FORWARD DROP [0:0]
        :OUTPUT ACCEPT [0:0]
        -A INPUT -i lo -j ACCEPT
        -A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
        -A INPUT -p tcp -m tcp --dport 22 -s 198.51.100.0/24 -j ACCEPT
        -A INPUT -s 192.0.2.0/24 -p tcp -m multiport --dports 80,443 -j ACCEPT
        -A INPUT -s 198.51.100.0/24 -p tcp -m multiport --dports 80,443 -j ACCEPT
        COMMIT

        """

    static let firewallIPv6 = """
        *filter
        :INPUT DROP [0:0]
        :FORWARD DROP [0:0]
        :OUTPUT ACCEPT [0:0]
        -A INPUT -i lo -j ACCEPT
        -A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
        COMMIT

        """

    /// nginx serving www.example.test on 80 only, with real-IP set up.
    static let servedOn80 = """
        events { worker_connections 64; }
        http {
            access_log off;
        \(realIP)
            server {
                listen 80;
                server_name www.example.test;
                location / { return 200 "served\\n"; }
            }
        }

        """

    /// Full mode with nothing on 443: the firewall lets the edge in and the kernel answers RST
    /// (521); HTTP on 80 works, and a visitor going around the CDN is dropped.
    @Test func nothingListeningOn443IsRefused() throws {
        let directory = try Self.origin(mode: "full", files: [
            "etc/nginx/nginx.conf": Self.servedOn80,
            "etc/iptables/rules.v4": Self.firewallAdmittingTheCDN,
            "etc/iptables/rules.v6": Self.firewallIPv6,
        ])
        defer { try? FileManager.default.removeItem(at: directory) }
        let ids = try Self.scan(directory)
        #expect(ids == ["origin.tls-listener-missing"])

        let lab = try OriginLab()
        defer { lab.close() }
        try lab.loadFirewall(v4: Self.firewallAdmittingTheCDN, v6: Self.firewallIPv6)
        try lab.startNginx(configuration: directory.appendingPathComponent("etc/nginx/nginx.conf"), port: 80)
        let https = try lab.request(port: 443, https: true)
        #expect(https.curlExit == 7, "443 should be refused (RST): \(https)")
        let http = try lab.request(port: 80)
        #expect(http.curlExit == 0 && http.status == 200, "\(http)")
        let around = try lab.request(port: 80, from: OriginLab.visitorAddress, timeout: 2)
        #expect(around.curlExit == 28, "a visitor going around the CDN should time out: \(around)")
        // The probe, run from the edge, classifies it the way the CDN would.
        let probe = try TestTools.run("ip", ["netns", "exec", lab.edgeNamespace, Binary.path, "probe", OriginLab.origin,
                                             "--port", "443", "--tls-mode", "full", "--sni", "www.example.test", "--connect-timeout", "2"], timeout: 30)
        #expect(probe.stdout.contains("521"), "\(probe.stdout)\(probe.stderr)")
    }

    /// A firewall that admits only ssh: the edge's SYN is dropped, the CDN times out (522).
    @Test func sshOnlyFirewallTimesTheEdgeOut() throws {
        let sshOnly = """
            *filter
            :INPUT DROP [0:0]
            :FORWARD DROP [0:0]
            :OUTPUT ACCEPT [0:0]
            -A INPUT -i lo -j ACCEPT
            -A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
            -A INPUT -p tcp -m tcp --dport 22 -j ACCEPT
            COMMIT

            """
        let directory = try Self.origin(mode: "flexible", files: [
            "etc/nginx/nginx.conf": Self.servedOn80,
            "etc/iptables/rules.v4": sshOnly,
            "etc/iptables/rules.v6": Self.firewallIPv6,
        ])
        defer { try? FileManager.default.removeItem(at: directory) }
        #expect(try Self.scan(directory) == ["firewall.cdn-dropped"])

        let lab = try OriginLab()
        defer { lab.close() }
        try lab.loadFirewall(v4: sshOnly, v6: Self.firewallIPv6)
        try lab.startNginx(configuration: directory.appendingPathComponent("etc/nginx/nginx.conf"), port: 80)
        let answer = try lab.request(port: 80, timeout: 2)
        #expect(answer.curlExit == 28, "the edge should time out: \(answer)")
        let probe = try TestTools.run("ip", ["netns", "exec", lab.edgeNamespace, Binary.path, "probe", OriginLab.origin,
                                             "--port", "80", "--tls-mode", "flexible", "--sni", "www.example.test", "--connect-timeout", "1"], timeout: 30)
        #expect(probe.stdout.contains("522"), "\(probe.stdout)\(probe.stderr)")
    }
}
