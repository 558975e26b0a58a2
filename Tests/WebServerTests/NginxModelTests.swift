import Foundation
import OriginAuditCore
import Testing
import TestSupport
@testable import WebServer

/// The shared model built from nginx configurations.
@Suite("nginx model")
struct NginxModelTests {
    static func load(_ files: [String: String], role: ConfigRole = .main, main: String = "nginx.conf",
                     root: Bool = false) throws -> (LoadResult<WebServerConfig>, URL) {
        let directory = try NginxFixture(name: "model", files: files, main: main).write()
        let result = NginxTestTools.load(directory, main: main, role: role, root: root ? directory : nil)
        return (result, directory)
    }

    static func http(_ body: String) -> [String: String] { ["nginx.conf": "events {}\nhttp {\n\(body)\n}\n"] }

    @Test("listen in all its forms")
    func listenForms() throws {
        let (result, directory) = try Self.load(Self.http("""
            server {
                listen 8080;
                listen 127.0.0.1;
                listen 192.0.2.7:443 ssl http2 default_server;
                listen [::]:443 ssl;
                listen [::]:80 ipv6only=off;
                listen [2001:db8::1]:8443 quic reuseport;
                listen *:8000 proxy_protocol;
                listen localhost:9000;
                listen unix:/run/nginx.sock;
            }
            server { server_name nolisten.example; }
            """))
        defer { try? FileManager.default.removeItem(at: directory) }
        // QUIC came with nginx 1.25: Debian's 1.22, whose directive table the audit holds, refuses it
        // (`nginx -t`: invalid parameter "quic"); the listener is still modelled.
        #expect(result.findings.map(\.message) == ["nginx: invalid parameter \"quic\": nginx refuses to start"])
        let hosts = result.model.virtualHosts
        try #require(hosts.count == 2)
        let l = hosts[0].listeners
        #expect(l.count == 9)
        #expect(l[0].address == .any(.ipv4) && l[0].port == 8080 && !l[0].tls)
        #expect(l[1].address == .ip(IPAddress("127.0.0.1")!) && l[1].port == 80)
        #expect(l[2].address == .ip(IPAddress("192.0.2.7")!) && l[2].port == 443 && l[2].tls && l[2].http2 && l[2].defaultServer)
        #expect(l[3].address == .any(.ipv6) && l[3].port == 443 && l[3].tls)
        #expect(l[4].address == .any(nil) && l[4].port == 80)
        #expect(l[5].address == .ip(IPAddress("2001:db8::1")!) && l[5].port == 8443 && l[5].quic && !l[5].tls)
        #expect(l[6].address == .any(.ipv4) && l[6].port == 8000 && l[6].proxyProtocol)
        #expect(l[7].address == .hostname("localhost") && l[7].port == 9000)
        #expect(l[8].address == .unix("/run/nginx.sock") && l[8].port == nil)
        // No listen: *:80, and the only server there is its default.
        #expect(hosts[1].listeners.count == 1)
        #expect(hosts[1].listeners[0].address == .any(.ipv4) && hosts[1].listeners[0].port == 80 && hosts[1].listeners[0].defaultServer)
        #expect(hosts[1].listeners[0].location.line == hosts[1].location.line)
    }

    @Test("server_name forms: exact, wildcards, .domain, regex, catch-all")
    func serverNames() throws {
        let (result, directory) = try Self.load(Self.http(#"""
            server { server_name example.com *.example.org www.example.* .example.net "~^(?<sub>.+)\.example\.io$" _ ""; }
            """#))
        defer { try? FileManager.default.removeItem(at: directory) }
        let names = result.model.virtualHosts[0].names.map(\.value)
        #expect(names == [.exact("example.com"), .wildcard("*.example.org"), .wildcard("www.example.*"),
                          .wildcard("*.example.net"), .exact("example.net"), .regex(#"^(?<sub>.+)\.example\.io$"#),
                          .catchAll, .catchAll])
        let host = result.model.virtualHosts[0]
        #expect(host.serves("a.b.example.org") && host.serves("example.net") && host.serves("www.example.de"))
        #expect(!host.serves("example.org"))
    }

    @Test("TLS: certificates resolve against the conf prefix, inherit from http, variables are unresolved")
    func tlsMaterial() throws {
        let (result, directory) = try Self.load(Self.http("""
            ssl_certificate certs/default.pem;
            ssl_certificate_key certs/default.key;
            ssl_protocols TLSv1.2 TLSv1.3;
            server { listen 443 ssl; server_name a.example; }
            server {
                listen 443 ssl;
                server_name b.example;
                ssl_certificate /etc/ssl/$ssl_server_name.pem;
                ssl_certificate_key /etc/ssl/b.key;
                ssl_ciphers ECDHE+AESGCM;
                ssl_verify_client on;
                ssl_client_certificate /etc/ssl/origin-pull-ca.pem;
            }
            server { listen 80; server_name plain.example; }
            """))
        defer { try? FileManager.default.removeItem(at: directory) }
        let hosts = result.model.virtualHosts
        let a = try #require(hosts[0].tls)
        #expect(a.certificateFiles.map(\.hostPath) == [directory.appendingPathComponent("certs/default.pem").path])
        #expect(a.keyFiles.first?.raw == "certs/default.key")
        #expect(a.protocols?.value == ["TLSv1.2", "TLSv1.3"])
        let b = try #require(hosts[1].tls)
        #expect(b.certificateFiles.first?.hostPath == nil && b.certificateFiles.first?.unresolvedReason != nil)
        #expect(b.ciphers?.value == "ECDHE+AESGCM")
        #expect(b.clientVerification?.mode.value == .require && b.clientVerification?.caFile?.raw == "/etc/ssl/origin-pull-ca.pem")
        #expect(b.protocols?.value == ["TLSv1.2", "TLSv1.3"])
        #expect(hosts[2].tls == nil)
        #expect(result.findings.map(\.ruleId) == ["input.unresolved"])
        #expect(result.findings.first?.location?.line == 10)
    }

    @Test("real IP: a level that sets any set_real_ip_from replaces the inherited list")
    func realIPInheritance() throws {
        let (result, directory) = try Self.load(Self.http("""
            set_real_ip_from 173.245.48.0/20;
            set_real_ip_from 2400:cb00::/32;
            real_ip_header CF-Connecting-IP;
            server { server_name inherits.example; }
            server { server_name replaces.example; set_real_ip_from 10.0.0.0/8; set_real_ip_from unix:; real_ip_recursive on; }
            server { server_name none.example; real_ip_header X-Forwarded-For; }
            """))
        defer { try? FileManager.default.removeItem(at: directory) }
        let hosts = result.model.virtualHosts
        let a = try #require(hosts[0].realIP)
        #expect(a.trusted.cidrs.map(\.description) == ["173.245.48.0/20", "2400:cb00::/32"])
        #expect(a.header?.value == "CF-Connecting-IP" && !a.recursive)
        let b = try #require(hosts[1].realIP)
        #expect(b.trusted.cidrs.map(\.description) == ["10.0.0.0/8"])
        #expect(b.unresolved.map(\.value) == ["unix:"])
        #expect(b.recursive && b.header?.value == "CF-Connecting-IP")
        let c = try #require(hosts[2].realIP)
        #expect(c.header?.value == "X-Forwarded-For" && c.trusted.cidrs.count == 2)
    }

    @Test("real IP: without real_ip_header nginx reads X-Real-IP")
    func realIPDefaultHeader() throws {
        let (result, directory) = try Self.load(Self.http("server { server_name a.example; set_real_ip_from 192.0.2.0/24; }"))
        defer { try? FileManager.default.removeItem(at: directory) }
        let real = try #require(result.model.virtualHosts.first?.realIP)
        #expect(real.header?.value == "X-Real-IP" && real.header?.location.line == 3)
    }

    @Test("allow/deny: server inherits http's list unless it has its own; locations carry their scope")
    func accessRules() throws {
        let (result, directory) = try Self.load(Self.http("""
            allow 192.0.2.0/24;
            deny all;
            server {
                server_name a.example;
                location /admin { allow 10.0.0.0/8; deny all; }
                location /open { }
                location /up { limit_except GET { deny 198.51.100.0/24; } }
            }
            server { server_name b.example; allow all; }
            """))
        defer { try? FileManager.default.removeItem(at: directory) }
        let a = result.model.virtualHosts[0].accessRules
        #expect(a.map(\.action) == [.allow, .deny, .allow, .deny, .deny])
        #expect(a.map(\.scope) == [nil, nil, "location /admin", "location /admin", "location /up > limit_except GET"])
        #expect(a[1].sources.ipv4.isAll && a[1].sources.ipv6.isAll)
        let b = result.model.virtualHosts[1].accessRules
        #expect(b.count == 1 && b[0].action == .allow && b[0].location.line == 11)
    }

    @Test("limiters: zone keys, where limit_req/limit_conn apply, which key on the client address")
    func limiters() throws {
        let (result, directory) = try Self.load(Self.http("""
            limit_req_zone $binary_remote_addr zone=perip:10m rate=10r/s;
            limit_req_zone $http_cf_connecting_ip zone=bycf:10m rate=5r/s;
            limit_conn_zone $remote_addr zone=addr:10m;
            limit_conn addr 20;
            server {
                server_name a.example;
                location /api { limit_req zone=perip burst=20 nodelay; }
                location /cf { limit_req zone=bycf; }
            }
            """))
        defer { try? FileManager.default.removeItem(at: directory) }
        let limiters = result.model.virtualHosts[0].limiters
        #expect(limiters.map(\.kind) == [.nginxLimitConn, .nginxLimitReq, .nginxLimitReq])
        #expect(limiters.map(\.key) == ["$remote_addr", "$binary_remote_addr", "$http_cf_connecting_ip"])
        #expect(limiters.map(\.keysOnClientAddress) == [true, true, false])
        #expect(limiters.map(\.scope) == [nil, "location /api", "location /cf"])
        #expect(limiters[0].limit == "20" && limiters[1].limit == "zone=perip burst=20 nodelay")
    }

    @Test("limiters: the geo + map allow-list pattern exempts what maps to an empty key")
    func limiterExemptions() throws {
        let (result, directory) = try Self.load(Self.http("""
            geo $limited {
                default 1;
                173.245.48.0/20 0;
                173.245.49.0/24 1;
                2400:cb00::/32 0;
            }
            map $limited $limit_key { 0 ""; 1 $binary_remote_addr; }
            limit_req_zone $limit_key zone=req:10m rate=5r/s;
            server { server_name a.example; limit_req zone=req; }
            """))
        defer { try? FileManager.default.removeItem(at: directory) }
        let limiter = try #require(result.model.virtualHosts[0].limiters.first)
        #expect(limiter.key == "$limit_key" && limiter.keysOnClientAddress)
        #expect(limiter.exempt.cidrs.map(\.description) == ["173.245.48.0/24", "173.245.50.0/23", "173.245.52.0/22",
                                                             "173.245.56.0/21", "2400:cb00::/32"])
    }

    @Test("redirects by scheme: port-80-only servers, $scheme/$https conditions, other conditions kept")
    func redirects() throws {
        let (result, directory) = try Self.load(Self.http(#"""
            server { listen 80; server_name a.example; return 301 https://$host$request_uri; }
            server {
                listen 80; listen 443 ssl; server_name b.example;
                if ($scheme = http) { return 301 https://$host$request_uri; }
                if ($https != "on") { rewrite ^ https://$host$request_uri permanent; }
                if ($http_x_forwarded_proto != "https") { return 302 https://$host$request_uri; }
                location /old { rewrite ^/old/(.*)$ /new/$1 redirect; }
                location /back { return 301 http://b.example/; }
                location /s { return $scheme://c.example; }
            }
            """#))
        defer { try? FileManager.default.removeItem(at: directory) }
        let a = result.model.virtualHosts[0].redirects
        #expect(a.count == 1 && a[0].from == .http && a[0].to == .https && a[0].status == 301 && a[0].scope == nil)
        let b = result.model.virtualHosts[1].redirects
        #expect(b.map(\.from) == [.http, .http, .any, .any, .any, .any])
        #expect(b.map(\.to) == [.https, .https, .https, .any, .http, .any])
        #expect(b.map(\.status) == [301, 301, 302, 302, 301, 302])
        #expect(b[2].condition == #"if ($http_x_forwarded_proto != https)"#)
        #expect(b[0].condition == nil && b[3].scope == "location /old")
    }

    @Test("read timeouts where requests are passed on: written, inherited, or nginx's 60 s default")
    func timeouts() throws {
        let (result, directory) = try Self.load(Self.http("""
            proxy_read_timeout 300s;
            server {
                server_name a.example;
                location / { proxy_pass http://127.0.0.1:8080; }
                location /slow { proxy_pass http://127.0.0.1:8080; proxy_read_timeout 1h; }
                location ~ \\.php$ { fastcgi_pass unix:/run/php.sock; }
                location /grpc { grpc_pass grpc://127.0.0.1:50051; grpc_read_timeout 2m30s; }
            }
            """))
        defer { try? FileManager.default.removeItem(at: directory) }
        let timeouts = result.model.virtualHosts[0].timeouts
        #expect(timeouts.map(\.directive) == ["proxy_read_timeout", "proxy_read_timeout", "fastcgi_read_timeout", "grpc_read_timeout"])
        #expect(timeouts.map(\.seconds) == [300, 3600, 60, 150])
        #expect(timeouts.map(\.isDefault) == [false, false, true, false])
        #expect(timeouts.map(\.scope) == ["location /", "location /slow", #"location ~ \.php$"#, "location /grpc"])
        #expect(timeouts[0].location.line == 3)
    }

    @Test("keep-alive and upstream targets")
    func keepAliveAndUpstreams() throws {
        let (result, directory) = try Self.load(Self.http("""
            keepalive_timeout 0;
            upstream app { server 127.0.0.1:9001; server [::1]:9002; server unix:/run/app.sock; }
            server {
                server_name a.example;
                location /a { proxy_pass http://app; }
                location /b { proxy_pass http://unix:/run/b.sock:/prefix; }
                location /c { proxy_pass https://backend.internal/c; }
                location /d { proxy_pass http://$upstream_host; }
                location /e { uwsgi_pass 127.0.0.1:3031; }
            }
            server { server_name b.example; keepalive_timeout 75s; }
            """))
        defer { try? FileManager.default.removeItem(at: directory) }
        let a = result.model.virtualHosts[0]
        #expect(a.keepAlive?.value == false)
        #expect(result.model.virtualHosts[1].keepAlive?.value == true)
        #expect(a.upstreams.map(\.endpoint) == [
            .group("app", members: [.tcp(host: "127.0.0.1", port: 9001), .tcp(host: "::1", port: 9002), .unix("/run/app.sock")]),
            .unix("/run/b.sock"), .tcp(host: "backend.internal", port: 443), .unresolved("http://$upstream_host"),
            .tcp(host: "127.0.0.1", port: 3031),
        ])
    }

    @Test("includes: missing file, include cycle, a file included in two servers counts in each")
    func includes() throws {
        let (result, directory) = try Self.load([
            "nginx.conf": "events {}\nhttp {\n    include missing.conf;\n    include loop.conf;\n    include sites/*.conf;\n}\n",
            "loop.conf": "include loop.conf;\n",
            "sites/a.conf": "server { server_name a.example; include shared/tls.conf; }\n",
            "sites/b.conf": "server { server_name b.example; include shared/tls.conf; }\n",
            "shared/tls.conf": "listen 443 ssl;\nssl_certificate shared.pem;\n",
        ])
        defer { try? FileManager.default.removeItem(at: directory) }
        let ids = result.findings.map(\.ruleId).sorted()
        #expect(ids == ["input.include-missing", "input.parse-error"])
        #expect(result.findings.first { $0.ruleId == "input.include-missing" }?.location?.line == 3)
        #expect(result.findings.first { $0.ruleId == "input.parse-error" }?.location?.file == "loop.conf")
        let hosts = result.model.virtualHosts
        #expect(hosts.count == 2)
        #expect(hosts.allSatisfy { $0.listeners.first?.tls == true && $0.tls?.certificateFiles.first?.raw == "shared.pem" })
        #expect(Set(result.files) == ["nginx.conf", "loop.conf", "sites/a.conf", "sites/b.conf", "shared/tls.conf"])
    }

    @Test("a fragment reads as if inside http {}; relative includes resolve against nginx.conf's directory")
    func fragment() throws {
        let (result, directory) = try Self.load([
            "nginx.conf": "events {}\nhttp { include sites-enabled/*; }\n",
            "sites-enabled/site": "server { listen 80; server_name frag.example; include snippets/x.conf; }\n",
            "snippets/x.conf": "return 301 https://frag.example$request_uri;\n",
        ], role: .fragment, main: "sites-enabled/site")
        defer { try? FileManager.default.removeItem(at: directory) }
        #expect(result.findings.isEmpty, "\(result.findings)")
        #expect(result.model.virtualHosts.map { $0.names.map(\.value) } == [[.exact("frag.example")]])
        #expect(result.model.virtualHosts[0].redirects.first?.to == .https)
        #expect(!result.notes.isEmpty)
    }

    @Test("Debian's default site, as main config and as a lone fragment", .enabled(
          if: FileManager.default.fileExists(atPath: "/etc/nginx/sites-enabled/default"), "Debian's nginx is not installed"))
    func debianDefaultSite() throws {
        let tree = SourceTree(root: nil, base: URL(fileURLWithPath: "/"))
        for (path, role) in [("/etc/nginx/nginx.conf", ConfigRole.main), ("/etc/nginx/sites-enabled/default", .fragment)] {
            let result = NginxLoader.load(hostPath: path, role: role, tree: tree)
            #expect(result.findings.isEmpty, "\(result.findings)")
            let host = try #require(result.model.virtualHosts.first, "\(path)")
            #expect(result.model.virtualHosts.count == 1)
            #expect(host.names.map(\.value) == [.catchAll])
            #expect(host.listeners.map(\.address) == [.any(.ipv4), .any(.ipv6)])
            #expect(host.listeners.allSatisfy { $0.port == 80 && $0.defaultServer && !$0.tls })
            #expect(host.tls == nil && host.redirects.isEmpty)
        }
    }

    @Test("--root: absolute include and certificate paths resolve under the root")
    func rootMapping() throws {
        let (result, directory) = try Self.load([
            "etc/nginx/nginx.conf": "events {}\nhttp { include /etc/nginx/conf.d/*.conf; }\n",
            "etc/nginx/conf.d/a.conf": "server { listen 443 ssl; ssl_certificate /etc/ssl/a.pem; }\n",
        ], main: "etc/nginx/nginx.conf", root: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        #expect(result.findings.isEmpty, "\(result.findings)")
        let path = try #require(result.model.virtualHosts.first?.tls?.certificateFiles.first)
        #expect(path.raw == "/etc/ssl/a.pem" && path.hostPath == directory.appendingPathComponent("etc/ssl/a.pem").path)
    }

    @Test("stream {} is noted, not modelled; the parse never throws on garbage")
    func limits() throws {
        let (result, directory) = try Self.load(["nginx.conf": "events {}\nstream { server { listen 5432; } }\n\u{0}\u{1}{{{;;}}}\"\n"])
        defer { try? FileManager.default.removeItem(at: directory) }
        #expect(result.notes.contains { $0.contains("stream") })
        #expect(result.findings.contains { $0.ruleId == "input.parse-error" })
        #expect(result.model.virtualHosts.isEmpty)
    }
}
