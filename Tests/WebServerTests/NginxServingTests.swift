import Foundation
import OriginAuditCore
import Testing
import TestSupport
@testable import WebServer

/// The model against the real nginx: the config is served on loopback ports and asked which
/// server answers which Host on which socket, whether a socket speaks TLS, and what the visitor
/// address becomes after real-IP restoration.
@Suite("nginx serving", .oracle("a serving nginx", unavailable: Oracle.missing(programs: ["nginx", "curl"])))
struct NginxServingTests {
    /// Which virtual host nginx picks, by the rules it documents: the servers on the most specific
    /// matching address:port, then exact name, longest leading wildcard, longest trailing wildcard,
    /// first matching regex, else the default server of that socket — read off our model.
    static func predictedHost(_ model: WebServerConfig, ip: String, port: UInt16, host: String) -> Int? {
        let address = IPAddress(ip)!
        func on(_ listener: Listener, exact: Bool) -> Bool {
            guard listener.port == port else { return false }
            switch listener.address {
            case .ip(let a): return exact && a == address
            case .any(let family): return !exact && (family == nil || family == address.family)
            default: return false
            }
        }
        var candidates = model.virtualHosts.indices.filter { i in model.virtualHosts[i].listeners.contains { on($0, exact: true) } }
        var exact = true
        if candidates.isEmpty {
            candidates = model.virtualHosts.indices.filter { i in model.virtualHosts[i].listeners.contains { on($0, exact: false) } }
            exact = false
        }
        let name = host.lowercased()
        if let i = candidates.first(where: { model.virtualHosts[$0].names.contains { $0.value == .exact(name) } }) { return i }
        func best(_ pick: (ServerName) -> Int?) -> Int? {
            candidates.compactMap { i in model.virtualHosts[i].names.compactMap { pick($0.value) }.max().map { (i, $0) } }
                .max { $0.1 < $1.1 }?.0
        }
        if let i = best({ if case .wildcard(let p) = $0, p.hasPrefix("*."), $0.matches(name) { return p.count } else { return nil } }) { return i }
        if let i = best({ if case .wildcard(let p) = $0, p.hasSuffix(".*"), $0.matches(name) { return p.count } else { return nil } }) { return i }
        if let i = candidates.first(where: { model.virtualHosts[$0].names.contains { if case .regex = $0.value { $0.value.matches(name) } else { false } } }) {
            return i
        }
        return candidates.first { i in model.virtualHosts[i].listeners.contains { on($0, exact: exact) && $0.defaultServer } }
    }

    /// Starts nginx in the foreground (a daemonised nginx keeps the handles Foundation's `Process`
    /// waits on, so it is never daemonised here); the caller terminates it.
    static func startNginx(_ arguments: [String], directory: URL) throws -> SessionProcess {
        try SessionProcess(try TestTools.which("nginx"), arguments + ["-g", "daemon off;"], environment: ["PATH": "/usr/sbin:/usr/bin:/sbin:/bin"],
                           stdout: directory.appendingPathComponent("nginx.out"), stderr: directory.appendingPathComponent("nginx.err"))
    }

    /// Eight consecutive loopback TCP ports nothing listens on now (other tests run in parallel).
    static func freePortBase() throws -> UInt16 {
        let listening = (try? TestTools.run("ss", ["-Htln"], timeout: 10).stdout) ?? ""
        let used = Set(listening.split(separator: "\n").compactMap { line in
            line.split(separator: " ", omittingEmptySubsequences: true).dropFirst(3).first
                .flatMap { $0.split(separator: ":").last }.flatMap { UInt16($0) }
        })
        for _ in 0..<50 {
            let base = UInt16.random(in: 2000..<6000) * 10
            if (base..<(base + 8)).allSatisfy({ !used.contains($0) }) { return base }
        }
        throw TestFailure("no free loopback ports found")
    }

    static func curl(_ arguments: [String]) throws -> (status: Int32, body: String) {
        let result = try TestTools.run("curl", ["-s", "--max-time", "3"] + arguments, timeout: 10)
        return (result.status, result.stdout)
    }

    @Test("which server answers which Host and socket; TLS socket-wide; real IP restored and judged")
    func servedAnswersMatchTheModel() throws {
        let directory = try TestTools.temporaryDirectory("nginx-serve")
        defer { try? FileManager.default.removeItem(at: directory) }
        let base = try Self.freePortBase()
        let (p1, p2, p3, p4, p5) = (base, base + 1, base + 2, base + 3, base + 4)
        let (p6, p7, p8) = (base + 5, base + 6, base + 7)
        let dir = directory.path
        let cert = try TestTools.run("openssl", [
            "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-subj", "/CN=tls.example",
            "-days", "2", "-keyout", "\(dir)/key.pem", "-out", "\(dir)/cert.pem"], timeout: 30)
        try #require(cert.status == 0, "\(cert.stderr)")
        let labels = ["A", "B", "C", "D", "E", "F", "G", "H", "I", "J", "K", "L", "M", "N", "O"]
        let config = #"""
        worker_processes 1;
        error_log \#(dir)/error.log;
        pid \#(dir)/nginx.pid;
        events { worker_connections 64; }
        http {
            access_log off;
            client_body_temp_path \#(dir)/body; proxy_temp_path \#(dir)/proxy; fastcgi_temp_path \#(dir)/fcgi;
            uwsgi_temp_path \#(dir)/uwsgi; scgi_temp_path \#(dir)/scgi;
            ssl_certificate \#(dir)/cert.pem;
            ssl_certificate_key \#(dir)/key.pem;
            set_real_ip_from 127.0.0.1;
            real_ip_header X-Forwarded-For;
            server { listen 127.0.0.1:\#(p1); server_name a.example; return 200 "A"; }
            server { listen 127.0.0.1:\#(p1); server_name *.wild.example; return 200 "B"; }
            server { listen 127.0.0.1:\#(p1); server_name www.trail.*; return 200 "C"; }
            server { listen 127.0.0.1:\#(p1); server_name "~^re\d+\.example$"; return 200 "D"; }
            server { listen 127.0.0.1:\#(p1) default_server; server_name _; return 200 "E"; }
            server { listen 127.0.0.1:\#(p1); server_name .dot.example; return 200 "F"; }
            server { listen \#(p2); server_name first.example; return 200 "G"; }
            server { listen 127.0.0.1:\#(p2); server_name specific.example; return 200 "H"; }
            server { listen \#(p2); server_name second.example; return 200 "I"; }
            server { listen 127.0.0.1:\#(p3) ssl; server_name tls.example; return 200 "J"; }
            server { listen 127.0.0.1:\#(p3); server_name alsotls.example; return 200 "K"; }
            server {
                listen 127.0.0.1:\#(p4);
                location / { return 200 "L $remote_addr"; }
                location /admin { deny 192.0.2.1; empty_gif; }
            }
            server { listen 127.0.0.1:\#(p5); set_real_ip_from 10.0.0.0/8; return 200 "M $remote_addr"; }
            server {
                listen 127.0.0.1:\#(p6);
                listen 127.0.0.1:\#(p7) ssl;
                server_name redirect.example;
                if ($scheme = http) { return 301 https://$host:\#(p7)$request_uri; }
                return 200 "N";
            }
            server {
                listen 127.0.0.1:\#(p8);
                set_real_ip_from 127.0.0.1;
                set_real_ip_from 192.0.2.0/24;
                real_ip_recursive on;
                return 200 "O $remote_addr";
            }
        }
        """#
        let main = directory.appendingPathComponent("nginx.conf")
        try Data(config.utf8).write(to: main)
        let result = NginxTestTools.load(directory)
        #expect(result.findings.isEmpty, "\(result.findings)")
        let model = result.model
        try #require(model.virtualHosts.count == labels.count)

        let server = try Self.startNginx(["-c", main.path, "-p", dir + "/", "-e", "\(dir)/startup.log"], directory: directory)
        defer { server.stop() }
        for _ in 0..<100 where server.exitStatus() == nil && (try? Self.curl(["http://127.0.0.1:\(p5)/"]).status) != 0 { usleep(20_000) }
        let startupLog = (try? String(contentsOfFile: "\(dir)/startup.log", encoding: .utf8)) ?? ""
        try #require(server.exitStatus() == nil, "nginx did not start: \(startupLog)")

        // Names and sockets.
        let requests: [(ip: String, port: UInt16, host: String)] = [
            ("127.0.0.1", p1, "a.example"), ("127.0.0.1", p1, "x.wild.example"), ("127.0.0.1", p1, "y.x.wild.example"),
            ("127.0.0.1", p1, "www.trail.org"), ("127.0.0.1", p1, "re42.example"), ("127.0.0.1", p1, "unknown.example"),
            ("127.0.0.1", p1, "dot.example"), ("127.0.0.1", p1, "sub.dot.example"), ("127.0.0.1", p1, "A.EXAMPLE"),
            ("127.0.0.1", p2, "first.example"), ("127.0.0.1", p2, "second.example"), ("127.0.0.2", p2, "second.example"),
            ("127.0.0.2", p2, "unknown.example"), ("127.0.0.2", p2, "specific.example"),
        ]
        for request in requests {
            let answer = try Self.curl(["-H", "Host: \(request.host)", "http://\(request.ip):\(request.port)/"])
            let predicted = Self.predictedHost(model, ip: request.ip, port: request.port, host: request.host)
            #expect(answer.body == predicted.map { labels[$0] }, "\(request): nginx answered \(answer.body)")
        }

        // ssl on one server's listen makes the whole socket TLS.
        #expect(model.virtualHosts[10].listeners[0].tls, "alsotls.example shares the TLS socket")
        let tls = try Self.curl(["-k", "--resolve", "alsotls.example:\(p3):127.0.0.1", "https://alsotls.example:\(p3)/"])
        #expect(tls.body == "K")

        // Real IP: inherited from http (p4) restores the header's address, and deny judges it;
        // a server with its own set_real_ip_from (p5) no longer trusts 127.0.0.1.
        let restored = try Self.curl(["-H", "X-Forwarded-For: 192.0.2.1", "http://127.0.0.1:\(p4)/"])
        #expect(restored.body == "L 192.0.2.1")
        let l = model.virtualHosts[11]
        #expect(l.realIP?.trusted.ipv4.contains(IPAddress("127.0.0.1")!) == true && l.realIP?.header?.value == "X-Forwarded-For")
        let denied = try Self.curl(["-o", "/dev/null", "-w", "%{http_code}", "-H", "X-Forwarded-For: 192.0.2.1", "http://127.0.0.1:\(p4)/admin"])
        let allowed = try Self.curl(["-o", "/dev/null", "-w", "%{http_code}", "http://127.0.0.1:\(p4)/admin"])
        #expect(denied.body == "403" && allowed.body == "200")
        #expect(l.accessRules.map(\.scope) == ["location /admin"] && l.accessRules[0].sources.ipv4.contains(IPAddress("192.0.2.1")!))
        let replaced = try Self.curl(["-H", "X-Forwarded-For: 192.0.2.1", "http://127.0.0.1:\(p5)/"])
        #expect(replaced.body == "M 127.0.0.1")
        // Redirects by arrival scheme: plain HTTP is sent to HTTPS, HTTPS is served.
        let n = model.virtualHosts[13]
        #expect(n.redirects.map(\.from) == [.http] && n.redirects.map(\.to) == [.https] && n.redirects.first?.status == 301)
        let plain = try Self.curl(["-o", "/dev/null", "-w", "%{http_code} %{redirect_url}", "-H", "Host: redirect.example",
                                   "http://127.0.0.1:\(p6)/x"])
        #expect(plain.body == "301 https://redirect.example:\(p7)/x")
        let secure = try Self.curl(["-k", "--resolve", "redirect.example:\(p7):127.0.0.1", "https://redirect.example:\(p7)/x"])
        #expect(secure.body == "N")
        // real_ip_recursive: the last untrusted address of the header, not the last one.
        let o = model.virtualHosts[14]
        #expect(o.realIP?.recursive == true && o.realIP?.header?.value == "X-Forwarded-For")
        let walked = try Self.curl(["-H", "X-Forwarded-For: 198.51.100.7, 192.0.2.9", "http://127.0.0.1:\(p8)/"])
        #expect(walked.body == "O 198.51.100.7")
        let single = try Self.curl(["-H", "X-Forwarded-For: 198.51.100.7, 192.0.2.9", "http://127.0.0.1:\(p4)/"])
        #expect(single.body == "L 192.0.2.9" && model.virtualHosts[11].realIP?.recursive == false)
        let m = model.virtualHosts[12]
        #expect(m.realIP?.trusted.ipv4.contains(IPAddress("127.0.0.1")!) == false)
    }
}
