import Foundation
import OriginAuditCore
import Testing
import TestSupport
@testable import WebServer

/// The real httpd is the oracle: Debian's own /etc/apache2 (copied to a temporary directory,
/// changed only with a2enmod/a2ensite through APACHE_CONFDIR) and generated trees are read by
/// `apache2ctl` and by the loader, and what each says is compared — include order
/// (`-D DUMP_INCLUDES`), loaded modules (`-M`) and virtual hosts (`-S`).
@Suite("Apache against apache2ctl", .serialized,
       .oracle("Debian's apache2ctl", unavailable: DebianApacheCopy.missing))
struct ApacheDifferentialTests {
    private func compare(_ copy: DebianApacheCopy, defines: [String] = [], _ context: String) throws {
        let result = copy.load(defines: defines)
        let (_, reader) = ApacheLoader.read(hostPath: copy.mainFile.path, role: .main, tree: ApacheFixture.absoluteTree,
                                            defines: defines, environment: [:])
        let httpdIncludes = try copy.httpdIncludes()
        #expect(!httpdIncludes.isEmpty, "\(context): apache2ctl printed no includes")
        #expect(reader.includes == httpdIncludes, "\(context): include order differs")
        if reader.includes != httpdIncludes {
            let ours = reader.includes.map { "\($0.depth) \($0.includedFromLine) \($0.hostPath)" }
            let theirs = httpdIncludes.map { "\($0.depth) \($0.includedFromLine) \($0.hostPath)" }
            print("ours only:", ours.filter { !theirs.contains($0) }, "httpd only:", theirs.filter { !ours.contains($0) })
        }
        #expect(result.model.modules == (try copy.httpdModules()), "\(context): modules differ")
        let ours = result.model.virtualHosts.filter { host in
            !host.listeners.isEmpty && host.location.line > 0 && !(host.names.first.map { _ in false } ?? true)
        }
        let mainName = "oracle.invalid"
        let oursEntries = ours.filter { $0.location.file.hasSuffix(".conf") && !isMainServer($0, result.model) }
            .flatMap { $0.httpdStyleEntries(mainServerName: mainName) }.sorted()
        let httpdEntries = try copy.httpdVirtualHosts()
        #expect(oursEntries == httpdEntries, "\(context): virtual hosts differ")
        // Unknown ${VARIABLES}: httpd warns (AH00111) about the same ones.
        let check = try copy.ctl("apache2ctl", ["-t"])
        #expect(check.status == 0, "\(context): apache2ctl -t: \(check.stderr)")
        let httpdUnknown = Set((check.stderr + check.stdout).matches(of: /Config variable \$\{(.+?)\} is not defined/).map { String($0.output.1) })
        let oursUnknown = Set(result.findings.filter { $0.ruleId == "input.unresolved" }.compactMap {
            $0.message.firstMatch(of: /^\$\{(.+?)\} is not defined/).map { String($0.output.1) }
        })
        #expect(oursUnknown == httpdUnknown, "\(context): unresolved variables differ")
        let problems = result.findings.filter { $0.ruleId == "input.parse-error" || $0.ruleId == "input.include-missing" }
        #expect(problems.isEmpty, "\(context): \(problems.map(\.message))")
    }

    private func isMainServer(_ host: VirtualHost, _ config: WebServerConfig) -> Bool {
        // The main server's entry is located at a ServerName/Listen line, not at a <VirtualHost>.
        host.listeners.allSatisfy { listener in config.listeners.contains { $0.location == listener.location } }
    }

    @Test func stockDebianConfiguration() throws {
        let copy = try DebianApacheCopy()
        defer { copy.remove() }
        try compare(copy, "stock Debian configuration")
    }

    /// The same tree under `--root` (as a configuration repository holds it): paths are shown
    /// as the configuration names them, and vhosts and modules are what httpd reports.
    @Test func debianConfigurationUnderARoot() throws {
        let copy = try DebianApacheCopy()
        defer { copy.remove() }
        let root = copy.directory.appendingPathComponent("root")
        try FileManager.default.createDirectory(at: root.appendingPathComponent("etc"), withIntermediateDirectories: true)
        try TestTools.run("/bin/cp", ["-a", copy.confdir, root.appendingPathComponent("etc/apache2").path], timeout: 20)
        let tree = SourceTree(root: root, base: URL(fileURLWithPath: "/nonexistent-base"))
        let result = ApacheLoader.load(hostPath: root.appendingPathComponent("etc/apache2/apache2.conf").path,
                                       role: .main, tree: tree)
        #expect(result.files.first == "/etc/apache2/apache2.conf")
        #expect(result.files.allSatisfy { !$0.hasPrefix(root.path) })
        #expect(result.model.modules == (try copy.httpdModules()))
        let entries = result.model.virtualHosts.flatMap { $0.httpdStyleEntries(mainServerName: "oracle.invalid") }
        let httpd = try copy.httpdVirtualHosts().map { $0.replacingOccurrences(of: copy.confdir, with: "/etc/apache2") }
        #expect(entries.sorted() == httpd)
        #expect(result.findings.filter { $0.ruleId != "input.unresolved" }.isEmpty, "\(result.findings)")
    }

    @Test func debianWithModulesAndSitesEnabled() throws {
        let copy = try DebianApacheCopy()
        defer { copy.remove() }
        // A certificate for default-ssl, since the snakeoil one is not generated here.
        let key = copy.directory.appendingPathComponent("site.key").path
        let cert = copy.directory.appendingPathComponent("site.pem").path
        try TestTools.run("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
                                      "-days", "2", "-subj", "/CN=ssl.example"], timeout: 30)
        let site = copy.confdir + "/sites-available/default-ssl.conf"
        var text = try String(contentsOfFile: site, encoding: .utf8)
        text = text.replacingOccurrences(of: "/etc/ssl/certs/ssl-cert-snakeoil.pem", with: cert)
            .replacingOccurrences(of: "/etc/ssl/private/ssl-cert-snakeoil.key", with: key)
        try text.write(toFile: site, atomically: true, encoding: .utf8)
        for module in ["ssl", "remoteip", "rewrite", "proxy_fcgi", "proxy_balancer", "lbmethod_byrequests", "headers", "macro"] {
            let enabled = try copy.ctl("a2enmod", ["-q", module])
            #expect(enabled.status == 0, "a2enmod \(module): \(enabled.stderr)")
        }
        try copy.ctl("a2ensite", ["-q", "default-ssl"])
        try """
            <VirtualHost *:80>
            \tServerName shop.example
            \tServerAlias www.shop.example
            \tRemoteIPHeader CF-Connecting-IP
            \tRemoteIPTrustedProxy 203.0.113.0/24 198.51.100.0/24
            \tRewriteEngine On
            \tRewriteCond %{HTTPS} off
            \tRewriteRule ^ https://%{HTTP_HOST}%{REQUEST_URI} [R=301,L]
            </VirtualHost>
            <Macro Site $name>
            <VirtualHost *:443>
            \tServerName $name
            \tSSLEngine on
            \tSSLCertificateFile \(cert)
            \tSSLCertificateKeyFile \(key)
            \t<FilesMatch "\\.php$">
            \t\tSetHandler "proxy:unix:/run/php/php-fpm.sock|fcgi://localhost"
            \t</FilesMatch>
            </VirtualHost>
            </Macro>
            Use Site api.example
            <VirtualHost 127.0.0.1:80 [::1]:80>
            \tServerName ip.example
            \tServerAdmin ${UNDEFINED_IN_TEST}
            \t<Proxy balancer://pool>
            \t\tBalancerMember http://127.0.0.1:8001
            \t\tBalancerMember http://127.0.0.1:8002
            \t</Proxy>
            \tProxyPass / balancer://pool/
            </VirtualHost>
            """.write(toFile: copy.confdir + "/sites-available/shop.conf", atomically: true, encoding: .utf8)
        try copy.ctl("a2ensite", ["-q", "shop"])
        try compare(copy, "Debian with ssl, remoteip, rewrite, proxy and macro sites")

        let result = copy.load()
        let shop = try #require(result.model.virtualHosts.first { $0.serves("shop.example") })
        #expect(shop.realIP?.trusted.ipv4.description == "198.51.100.0/24, 203.0.113.0/24")
        let redirect = try #require(shop.redirects.first)
        #expect(redirect.from == .http && redirect.to == .https && redirect.status == 301)
        let api = try #require(result.model.virtualHosts.first { $0.serves("api.example") })
        #expect(api.upstreams.first?.endpoint == .unix("/run/php/php-fpm.sock"))
        #expect(api.tls?.certificateFiles.first?.hostPath == cert)
        #expect(api.listeners.allSatisfy { $0.tls })
        let ip = try #require(result.model.virtualHosts.first { $0.serves("ip.example") })
        #expect(ip.upstreams.first?.endpoint == .group("pool", members: [.tcp(host: "127.0.0.1", port: 8001), .tcp(host: "127.0.0.1", port: 8002)]))
        #expect(result.model.virtualHosts.first { $0.serves("ssl.example") || $0.location.file.hasSuffix("default-ssl.conf") } != nil)
    }

    @Test func generatedTreeWithDefinesGlobsAndLateModules() throws {
        let copy = try DebianApacheCopy()
        defer { copy.remove() }
        let confdir = copy.confdir
        try FileManager.default.createDirectory(atPath: confdir + "/extra/nested", withIntermediateDirectories: true)
        try """
            Define SITE_PORT 8081
            Listen ${SITE_PORT}
            <IfModule rewrite_module>
            \tDefine REWRITE_EARLY
            </IfModule>
            <IfDefine EXTRA>
            \tInclude extra/*.conf
            </IfDefine>
            IncludeOptional extra/nested
            IncludeOptional extra/none-*.conf
            <IfModule headers_module>
            \tDefine HEADERS_BEFORE
            </IfModule>
            """.write(toFile: confdir + "/conf-available/generated.conf", atomically: true, encoding: .utf8)
        // headers is loaded only later, by a site: the <IfModule> above must not see it.
        try """
            LoadModule headers_module /usr/lib/apache2/modules/mod_headers.so
            <IfModule headers_module>
            <IfDefine !HEADERS_BEFORE>
            <VirtualHost *:80>
            \tServerName late-module.example
            </VirtualHost>
            </IfDefine>
            </IfModule>
            """.write(toFile: confdir + "/sites-enabled/late.conf", atomically: true, encoding: .utf8)
        try copy.ctl("a2enconf", ["-q", "generated"])
        try """
            <VirtualHost *:${SITE_PORT}>
            \tServerName extra-a.example
            </VirtualHost>
            """.write(toFile: confdir + "/extra/b.conf", atomically: true, encoding: .utf8)
        try """
            <IfDefine !REWRITE_EARLY>
            <VirtualHost *:${SITE_PORT}>
            \tServerName extra-early.example
            </VirtualHost>
            </IfDefine>
            """.write(toFile: confdir + "/extra/a.conf", atomically: true, encoding: .utf8)
        try """
            <VirtualHost 127.0.0.1:80>
            \tServerName nested.example
            </VirtualHost>
            """.write(toFile: confdir + "/extra/nested/z.conf", atomically: true, encoding: .utf8)
        // rewrite is loaded (mods-enabled is read before conf-enabled) only after this enable.
        try compare(copy, "generated tree without -D EXTRA")
        let before = copy.load().model.virtualHosts
        #expect(before.contains { $0.serves("late-module.example") } && before.contains { $0.serves("nested.example") })
        #expect(!before.contains { $0.serves("extra-a.example") })
        try copy.ctl("a2enmod", ["-q", "rewrite"])
        try """
            export APACHE_ARGUMENTS="-D EXTRA"
            """.write(toFile: confdir + "/envvars", atomically: false, encoding: .utf8, append: true)
        try compare(copy, defines: ["EXTRA"], "generated tree with -D EXTRA and rewrite loaded")
        let after = copy.load(defines: ["EXTRA"]).model.virtualHosts
        #expect(after.contains { $0.serves("extra-a.example") } && !after.contains { $0.serves("extra-early.example") })
    }
}

private extension String {
    func write(toFile path: String, atomically: Bool, encoding: String.Encoding, append: Bool) throws {
        guard append, let handle = FileHandle(forWritingAtPath: path) else {
            try write(toFile: path, atomically: atomically, encoding: encoding)
            return
        }
        defer { try? handle.close() }
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(("\n" + self + "\n").utf8))
    }
}
