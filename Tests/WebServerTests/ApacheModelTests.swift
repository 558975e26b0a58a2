import Foundation
import OriginAuditCore
import Testing
import TestSupport
@testable import WebServer

@Suite("Apache model")
struct ApacheModelTests {
    static let config = """
        LoadModule remoteip_module modules/mod_remoteip.so
        LoadModule evasive20_module modules/mod_evasive20.so
        LoadModule qos_module modules/mod_qos.so
        LoadModule antiloris_module modules/mod_antiloris.so
        LoadModule limitipconn_module modules/mod_limitipconn.so
        LoadModule security2_module modules/mod_security2.so
        LoadModule cloudflare_module modules/mod_cloudflare.so
        LoadModule ssl_module modules/mod_ssl.so
        LoadModule rewrite_module modules/mod_rewrite.so
        LoadModule proxy_module modules/mod_proxy.so
        LoadModule alias_module modules/mod_alias.so
        LoadModule authz_core_module modules/mod_authz_core.so
        LoadModule authz_host_module modules/mod_authz_host.so
        LoadModule authz_user_module modules/mod_authz_user.so
        LoadModule access_compat_module modules/mod_access_compat.so
        Listen 80
        Listen 443
        Listen 127.0.0.1:8080
        Timeout 300
        KeepAlive Off
        RemoteIPHeader CF-Connecting-IP
        RemoteIPTrustedProxyList conf/cdn.txt
        <IfModule mod_evasive20.c>
          DOSPageCount 5
          DOSWhitelist 127.0.0.* 10.*.*.*
        </IfModule>
        QS_SrvMaxConnPerIP 20
        QS_SrvMaxConnExcludeIP 192.168.10.
        IPReadLimit 8
        ExemptIPs 198.51.100.0/24
        WhitelistIPs 203.0.113.0/24
        SecRuleEngine On
        SecAction "id:900700,phase:1,nolog,pass,t:none,setvar:'tx.dos_burst_time_slice=60',setvar:'tx.dos_counter_threshold=100'"
        <Directory /var/www/>
          Require all granted
        </Directory>
        <Proxy balancer://app>
          BalancerMember http://10.0.0.1:8000
          BalancerMember http://10.0.0.2:8000
        </Proxy>
        <VirtualHost *:80>
          ServerName www.example.com
          ServerAlias example.com *.example.net
          RewriteEngine On
          RewriteCond %{SERVER_PORT} !^443$
          RewriteRule ^/?(.*) https://%{SERVER_NAME}/$1 [R=301,L]
          RedirectMatch 302 ^/old http://www.example.com/new
          <Location /admin>
            <RequireAll>
              Require ip 192.0.2.0/24 10.1
              Require not ip 192.0.2.66
            </RequireAll>
            MaxConnPerIP 3
          </Location>
          <Location /members>
            Require valid-user
            Require ip 198.51.100.7
          </Location>
          <Directory /srv/legacy>
            Order Deny,Allow
            Deny from all
            Allow from 203.0.113.5
          </Directory>
        </VirtualHost>
        <VirtualHost *:443>
          ServerName www.example.com
          SSLEngine on
          Protocols h2 http/1.1
          RemoteIPProxyProtocol On
          SSLCertificateFile /etc/ssl/www.pem
          SSLCertificateKeyFile ssl/www.key
          SSLCertificateChainFile ssl/chain.pem
          SSLProtocol all -SSLv3 -TLSv1 -TLSv1.1
          SSLCipherSuite HIGH:!aNULL
          SSLCipherSuite TLSv1.3 TLS_AES_256_GCM_SHA384
          SSLVerifyClient require
          SSLCACertificateFile ssl/origin-pull-ca.pem
          KeepAlive On
          ProxyTimeout 120
          ProxyPass /app balancer://app/ timeout=200
          ProxyPass /api http://127.0.0.1:3000/
          ProxyPass /static !
          ProxyPassMatch ^/(.*\\.php)$ fcgi://127.0.0.1:9000/var/www/$1
          <FilesMatch \\.php$>
            SetHandler "proxy:unix:/run/php/php8.2-fpm.sock|fcgi://localhost"
          </FilesMatch>
        </VirtualHost>
        """

    static func load() throws -> (LoadResult<WebServerConfig>, URL) {
        let root = try ApacheFixture.write(["apache2/apache2.conf": config,
                                            "apache2/conf/cdn.txt": "# Cloudflare\n203.0.113.0/24\n198.51.100.0/24 # edge\n2001:db8::/32\n"])
        return (ApacheFixture.load(root.appendingPathComponent("apache2/apache2.conf")), root)
    }

    @Test func listenersNamesAndTLS() throws {
        let (result, root) = try Self.load()
        defer { try? FileManager.default.removeItem(at: root) }
        let config = result.model
        #expect(result.findings.isEmpty, "\(result.findings)")
        #expect(config.listeners.map(\.port) == [80, 443, 8080])
        #expect(config.listeners.map(\.tls) == [false, true, false])
        #expect(config.cdnModules.map(\.value) == ["cloudflare_module"])
        #expect(config.modules.prefix(8) == ArraySlice(ApacheConfigReader.builtInModules))
        // Two vhosts plus the main server, which alone answers on 127.0.0.1:8080.
        #expect(config.virtualHosts.count == 3)
        let http = config.virtualHosts[0], https = config.virtualHosts[1], main = config.virtualHosts[2]
        #expect(http.names.map(\.value) == [.exact("www.example.com"), .exact("example.com"), .wildcard("*.example.net")])
        #expect(http.listeners.map { "\($0.port!) \($0.tls) \($0.defaultServer)" } == ["80 false true"])
        #expect(https.listeners.map { "\($0.port!) \($0.tls) \($0.http2) \($0.proxyProtocol)" } == ["443 true true true"])
        #expect(main.listeners.map(\.port) == [8080])
        let tls = try #require(https.tls)
        #expect(tls.certificateFiles.first?.hostPath == "/etc/ssl/www.pem")
        #expect(tls.keyFiles.first?.hostPath == root.appendingPathComponent("apache2/ssl/www.key").path)
        #expect(tls.chainFile?.raw == "ssl/chain.pem")
        #expect(tls.protocols?.value == ["all", "-SSLv3", "-TLSv1", "-TLSv1.1"])
        #expect(tls.ciphers?.value == "HIGH:!aNULL")
        #expect(tls.clientVerification?.mode.value == .require)
        #expect(tls.clientVerification?.caFile?.raw == "ssl/origin-pull-ca.pem")
        #expect(http.tls == nil)
    }

    @Test func realIPAccessAndLimiters() throws {
        let (result, root) = try Self.load()
        defer { try? FileManager.default.removeItem(at: root) }
        let http = result.model.virtualHosts[0]
        let realIP = try #require(http.realIP)
        #expect(realIP.header?.value == "CF-Connecting-IP" && realIP.recursive)
        #expect(realIP.trusted.ipv4.description == "198.51.100.0/24, 203.0.113.0/24")
        #expect(realIP.trusted.ipv6.description == "2001:db8::/32")
        #expect(realIP.trustedEntries.first?.location.file.hasSuffix("conf/cdn.txt") == true)
        #expect(realIP.trustedEntries.first?.location.line == 2)

        // First match wins in each scope; the defaults httpd applies are written out.
        let rules = http.accessRules
        #expect(rules.first?.scope == "<Directory /var/www/>" && rules.first?.sources.ipv4.isAll == true)
        let admin = rules.filter { $0.scope == "<Location /admin> <RequireAll>" }
        #expect(admin.map(\.action) == [.deny, .allow, .deny])
        #expect(admin[0].sources.ipv4.description == "192.0.2.66/32")
        #expect(admin[1].sources.ipv4.description == "10.1.0.0/16, 192.0.2.0/24")
        #expect(admin[2].sources.ipv4.isAll && admin[2].group == "nothing granted (implicit)")
        let members = rules.filter { $0.scope == "<Location /members>" }
        #expect(members.map(\.action) == [.allow], "valid-user may still grant: no implicit deny")
        let legacy = rules.filter { $0.scope == "<Directory /srv/legacy>" }
        #expect(legacy.map(\.action) == [.allow, .deny, .allow])
        #expect(legacy[0].sources.ipv4.description == "203.0.113.5/32")
        #expect(legacy.allSatisfy { $0.group?.hasPrefix("Order deny,allow") == true })

        let connection = result.model.connectionLimiters
        let antiloris = try #require(connection.first { $0.kind == .modAntiloris })
        #expect(antiloris.countsConnectionPeer && !antiloris.keysOnClientAddress)
        #expect(antiloris.exempt.ipv4.description == "198.51.100.0/24, 203.0.113.0/24")
        #expect(antiloris.limit == "IPReadLimit 8")
        let qos = try #require(connection.first { $0.kind == .modQos })
        #expect(qos.countsConnectionPeer && qos.exempt.ipv4.description == "192.168.10.0/24")

        let evasive = try #require(http.limiters.first { $0.kind == .modEvasive })
        #expect(evasive.keysOnClientAddress && evasive.limit?.hasPrefix("DOSPageCount 5/1s") == true)
        #expect(evasive.exempt.ipv4.description == "10.0.0.0/8, 127.0.0.0/24")
        #expect(http.limiters.contains { $0.kind == .modSecurityDoS && $0.limit == "dos_counter_threshold 100" })
        let perIP = try #require(http.limiters.first { $0.kind == .modLimitIPConn })
        #expect(perIP.scope == "<Location /admin>" && perIP.limit == "MaxConnPerIP 3")
    }

    @Test func redirectsTimeoutsKeepAliveAndUpstreams() throws {
        let (result, root) = try Self.load()
        defer { try? FileManager.default.removeItem(at: root) }
        let http = result.model.virtualHosts[0], https = result.model.virtualHosts[1]
        #expect(http.redirects.map { "\($0.from)>\($0.to) \($0.status ?? 0)" } == ["http>https 301", "http>http 302"])
        #expect(http.keepAlive?.value == false)
        #expect(https.keepAlive?.value == true)
        #expect(http.timeouts.isEmpty, "no upstream: Timeout bounds only client I/O")
        #expect(https.timeouts.map { "\($0.directive) \($0.seconds)" } == ["ProxyTimeout 120.0", "ProxyPass timeout 200.0"])
        let endpoints = https.upstreams.map(\.endpoint)
        #expect(endpoints == [
            .group("app", members: [.tcp(host: "10.0.0.1", port: 8000), .tcp(host: "10.0.0.2", port: 8000)]),
            .tcp(host: "127.0.0.1", port: 3000),
            .tcp(host: "127.0.0.1", port: 9000),
            .unix("/run/php/php8.2-fpm.sock"),
        ])
        #expect(https.upstreams.last?.scope == #"<FilesMatch \.php$>"#)
    }

    @Test func directorySectionsOnTheWayToTheDocumentRootAreReplacedByTheDeepest() throws {
        let root = try ApacheFixture.write(["main.conf": """
            Listen 80
            <Directory />
              Require all denied
            </Directory>
            <Directory /srv/www>
              AllowOverride All
              Require all granted
            </Directory>
            <Directory /srv/other>
              Require ip 192.0.2.1
            </Directory>
            <FilesMatch "^\\.ht">
              Require all denied
            </FilesMatch>
            Order allow,deny
            Allow from 10.0.0.0/8
            <VirtualHost *:80>
              DocumentRoot /srv/www/site
            </VirtualHost>
            """])
        defer { try? FileManager.default.removeItem(at: root) }
        let result = ApacheFixture.load(root.appendingPathComponent("main.conf"))
        #expect(result.notes.contains { $0.contains("AllowOverride All") && $0.contains(".htaccess files are not read") })
        let host = try #require(result.model.virtualHosts.first)
        let scopes = host.accessRules.map { $0.scope ?? "(server)" }
        #expect(!scopes.contains("<Directory />"))
        #expect(scopes.contains("<Directory /srv/www>") && scopes.contains("<Directory /srv/other>"))
        let server = host.accessRules.filter { $0.scope == nil }
        #expect(server.map(\.action) == [.allow, .deny])
        #expect(server[1].sources.ipv4.isAll && server[1].group == "Order allow,deny default (implicit)")
    }

    @Test func aliasRedirectsAreInheritedRewriteRulesAreNot() throws {
        let root = try ApacheFixture.write(["main.conf": """
            Listen 80
            Redirect /old https://example.com/new
            RewriteEngine On
            RewriteRule ^/main https://example.com/ [R=301]
            <VirtualHost *:80>
              ServerName plain.example
            </VirtualHost>
            <VirtualHost *:80>
              ServerName inherits.example
              RewriteEngine On
              RewriteOptions Inherit
            </VirtualHost>
            <VirtualHost *:80>
              ServerName engine-off.example
              RewriteRule ^ https://example.com/ [R=301]
            </VirtualHost>
            """])
        defer { try? FileManager.default.removeItem(at: root) }
        let hosts = ApacheFixture.load(root.appendingPathComponent("main.conf")).model.virtualHosts
        #expect(hosts.map { $0.redirects.map(\.target) } == [
            ["https://example.com/new"],
            ["https://example.com/", "https://example.com/new"],
            ["https://example.com/new"],
        ])
    }

    @Test func theMainServerTakesWhatNoVhostClaims() throws {
        let root = try ApacheFixture.write(["main.conf": """
            Listen 80
            Listen 443
            ServerName main.example
            <VirtualHost 192.0.2.10:80>
              ServerName ip-bound.example
            </VirtualHost>
            """])
        defer { try? FileManager.default.removeItem(at: root) }
        let hosts = ApacheFixture.load(root.appendingPathComponent("main.conf")).model.virtualHosts
        #expect(hosts.map { $0.names.first?.value.description } == ["ip-bound.example", "main.example"])
        // Port 80 on other addresses and port 443 (plain HTTP: no SSLEngine) fall to the main server.
        #expect(hosts[1].listeners.map { "\($0.port!) \($0.tls)" } == ["80 false", "443 false"])
    }

    @Test func upstreamTimeoutFallsBackToTimeoutThenToHttpdsDefault() throws {
        let root = try ApacheFixture.write(["a.conf": "Listen 80\nTimeout 150\nProxyPass / http://127.0.0.1:8080/\n",
                                            "b.conf": "Listen 80\nProxyPass / http://127.0.0.1:8080/\n"])
        defer { try? FileManager.default.removeItem(at: root) }
        let a = try #require(ApacheFixture.load(root.appendingPathComponent("a.conf")).model.virtualHosts.first)
        let b = try #require(ApacheFixture.load(root.appendingPathComponent("b.conf")).model.virtualHosts.first)
        #expect(a.timeouts.map { "\($0.directive) \($0.seconds) \($0.isDefault)" } == ["Timeout 150.0 false"])
        #expect(b.timeouts.map { "\($0.directive) \($0.seconds) \($0.isDefault)" } == ["Timeout 60.0 true"])
    }

    @Test func qosClientEventsFollowTheirHeader() throws {
        let root = try ApacheFixture.write(["a.conf": "LoadModule qos_module m.so\nListen 80\nQS_ClientEventBlockCount 20\n",
                                            "b.conf": "LoadModule qos_module m.so\nListen 80\nQS_ClientIpFromHeader CF-Connecting-IP\nQS_ClientEventBlockCount 20\n"])
        defer { try? FileManager.default.removeItem(at: root) }
        let a = try #require(ApacheFixture.load(root.appendingPathComponent("a.conf")).model.virtualHosts.first?.limiters.first)
        let b = try #require(ApacheFixture.load(root.appendingPathComponent("b.conf")).model.virtualHosts.first?.limiters.first)
        #expect(a.keysOnClientAddress && a.key == "client address")
        #expect(!b.keysOnClientAddress && b.key == "header CF-Connecting-IP")
    }

    @Test func aVhostSectionReplacesTheMainServersForTheSamePath() throws {
        let root = try ApacheFixture.write(["main.conf": """
            Listen 80
            <Location /admin>
              Require ip 192.0.2.0/24
            </Location>
            <VirtualHost *:80>
              ServerName a.example
              <Location /admin>
                Require all granted
              </Location>
            </VirtualHost>
            <VirtualHost *:80>
              ServerName b.example
            </VirtualHost>
            """])
        defer { try? FileManager.default.removeItem(at: root) }
        let hosts = ApacheFixture.load(root.appendingPathComponent("main.conf")).model.virtualHosts
        let admin = hosts.map { $0.accessRules.filter { $0.scope == "<Location /admin>" } }
        #expect(admin[0].count == 2 && admin[0][0].sources.ipv4.isAll && admin[0][0].action == .allow)
        #expect(admin[1].first?.sources.ipv4.description == "192.0.2.0/24")
    }

    @Test func remoteIPWithoutProxiesTrustsEveryone() throws {
        let root = try ApacheFixture.write(["main.conf": "Listen 80\nRemoteIPHeader X-Forwarded-For\n"])
        defer { try? FileManager.default.removeItem(at: root) }
        let host = try #require(ApacheFixture.load(root.appendingPathComponent("main.conf")).model.virtualHosts.first)
        #expect(host.realIP?.trusted.ipv4.isAll == true && host.realIP?.trusted.ipv6.isAll == true)
        #expect(host.timeouts.isEmpty)
    }

    /// certbot --apache writes its HTTPS redirect behind conditions on the vhost's own names: they
    /// hold for every request the vhost serves under those names, so the redirect is unconditional.
    /// A condition that excludes a name (`!^www\.`) still guards the redirect.
    @Test func certbotServerNameConditionsGuardNothing() throws {
        let root = try ApacheFixture.write(["main.conf": """
            Listen 80
            <VirtualHost *:80>
              ServerName www.example.test
              ServerAlias example.test
              RewriteEngine on
              RewriteCond %{SERVER_NAME} =example.test [OR]
              RewriteCond %{SERVER_NAME} =www.example.test
              RewriteRule ^ https://%{SERVER_NAME}%{REQUEST_URI} [END,NE,R=permanent]
            </VirtualHost>
            <VirtualHost *:80>
              ServerName shop.example.test
              RewriteEngine on
              RewriteCond %{HTTP_HOST} !^www\\. [NC]
              RewriteRule ^ https://www.%{HTTP_HOST}%{REQUEST_URI} [R=301,L]
            </VirtualHost>
            """])
        defer { try? FileManager.default.removeItem(at: root) }
        let hosts = ApacheFixture.load(root.appendingPathComponent("main.conf")).model.virtualHosts
        #expect(hosts.map { $0.redirects.map { "\($0.from)>\($0.to) \($0.status ?? 0)" } } == [["http>https 301"], []])
    }

    @Test func forwardedProtoConditionsAreNotConnectionRedirects() throws {
        let root = try ApacheFixture.write(["main.conf": """
            Listen 80
            RewriteEngine On
            RewriteCond %{HTTP:X-Forwarded-Proto} !https
            RewriteRule ^ https://%{HTTP_HOST}%{REQUEST_URI} [R=301,L]
            RewriteCond %{HTTPS} !=on
            RewriteRule ^ https://%{HTTP_HOST}%{REQUEST_URI} [R,L]
            """])
        defer { try? FileManager.default.removeItem(at: root) }
        let host = try #require(ApacheFixture.load(root.appendingPathComponent("main.conf")).model.virtualHosts.first)
        #expect(host.redirects.map { "\($0.from)>\($0.to) \($0.status ?? 0)" } == ["http>https 302"])
    }
}
