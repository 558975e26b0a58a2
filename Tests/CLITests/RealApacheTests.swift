import Foundation
import Testing
import TestSupport

/// What the scan predicts for an Apache origin, shown by a real Apache in the lab's origin
/// namespace answering requests from its edge (sourced from the test's CDN range). As in
/// `RealServerTests`, each test scans a directory with the binary and then serves the very same
/// `apache2.conf`: self-contained, modules loaded by path, no Debian envvars; the runtime files
/// are given on apache2's command line (`OriginLab.startApache`).
@Suite(.serialized, .oracle("the origin lab's Apache", unavailable: OriginLab.apacheUnavailableReason))
struct RealApacheTests {
    /// mod_remoteip restoring the visitor's address from the CDN's header for the CDN's ranges.
    static let remoteIP = """
        RemoteIPHeader CF-Connecting-IP
        RemoteIPTrustedProxy 192.0.2.0/24 198.51.100.0/24
        """

    /// `Require ip <the CDN's ranges>` for every URL: meant to lock the origin to the CDN.
    static let cdnOnly = """
            <Location />
                Require ip 192.0.2.0/24 198.51.100.0/24
            </Location>
        """

    /// An Apache configuration with one HTTP vhost for www.example.test holding `vhost` (its
    /// DocumentRoot is the scanned folder's `www`), mod_remoteip loaded and set up for the CDN
    /// when `remoteIP`.
    static func apache(_ vhost: String, remoteIP: Bool) -> String {
        let modules = ["mpm_prefork", "authz_core", "authz_host", "alias", "rewrite", "dir"] + (remoteIP ? ["remoteip"] : [])
        return """
            \(OriginLab.apacheHeader(modules: modules))
            Listen 80
            \(remoteIP ? Self.remoteIP : "")
            <VirtualHost *:80>
                ServerName www.example.test
                DocumentRoot "@DIR@/www"
            \(vhost)
            </VirtualHost>

            """
    }

    /// Scans an Apache origin (flexible mode) with the binary, then serves the same config for
    /// real and returns the scan's rule ids and what the edge gets for `path` with `headers`.
    static func scanAndServe(_ vhost: String, remoteIP: Bool, path: String = "/", headers: [String]) throws
        -> (ids: Set<String>, answer: OriginLab.Answer) {
        let directory = try RealServerTests.origin(mode: "flexible", files: [
            "etc/apache2/apache2.conf": apache(vhost, remoteIP: remoteIP), "www/index.html": "served\n",
        ])
        defer { try? FileManager.default.removeItem(at: directory) }
        let ids = try RealServerTests.scan(directory)
        let lab = try OriginLab()
        defer { lab.close() }
        try lab.startApache(configuration: directory.appendingPathComponent("etc/apache2/apache2.conf"), port: 80)
        return (ids, try lab.request(port: 80, path: path, headers: headers))
    }

    /// What the edge sends for a visitor (203.0.113.50) who asked for an https:// URL.
    static let edgeHeaders = ["CF-Visitor: {\"scheme\":\"https\"}", "X-Forwarded-Proto: https", "CF-Connecting-IP: 203.0.113.50"]

    /// Flexible mode: the edge speaks HTTP to the origin even for an HTTPS visitor, and an
    /// unconditional redirect to HTTPS (mod_alias's, or the mod_rewrite rule certbot writes)
    /// sends the visitor back to the URL they asked for. mod_remoteip is set up, so nothing but
    /// the loop is wrong (without it the scan would rightly add origin.realip-missing).
    @Test(arguments: [
        ("mod_alias Redirect", "    Redirect permanent / https://www.example.test/"),
        ("certbot's RewriteRule", """
                RewriteEngine on
                RewriteCond %{SERVER_NAME} =www.example.test
                RewriteRule ^ https://%{SERVER_NAME}%{REQUEST_URI} [END,NE,R=permanent]
            """),
    ])
    func flexibleModeRedirectLoopsForReal(_ name: String, _ redirect: String) throws {
        let (ids, answer) = try Self.scanAndServe(redirect, remoteIP: true, path: "/account", headers: Self.edgeHeaders)
        #expect(ids == ["origin.redirect-loop"], "\(name)")
        #expect(answer.status == 301, "\(name): \(answer)")
        #expect(answer.location == "https://www.example.test/account", "\(name): the origin sends the visitor to \(answer.location): \(answer)")
    }

    /// The usual flexible-mode fix: redirect only when the visitor came over HTTP, as the CDN's
    /// X-Forwarded-Proto says. The edge's fetch for an HTTPS visitor is served, not redirected;
    /// an HTTP visitor is still sent to HTTPS.
    @Test func aRedirectGuardedByForwardedProtoIsNoLoop() throws {
        let vhost = """
                <If "%{HTTP:X-Forwarded-Proto} != 'https'">
                    Redirect permanent / https://www.example.test/
                </If>
            """
        let (ids, https) = try Self.scanAndServe(vhost, remoteIP: true, path: "/", headers: Self.edgeHeaders)
        #expect(ids == [], "\(ids)")
        #expect(https.status == 200, "an HTTPS visitor's page is served: \(https)")
        let (_, http) = try Self.scanAndServe(vhost, remoteIP: true, path: "/",
                                              headers: ["CF-Visitor: {\"scheme\":\"http\"}", "X-Forwarded-Proto: http", "CF-Connecting-IP: 203.0.113.50"])
        #expect(http.status == 301 && http.location == "https://www.example.test/", "an HTTP visitor is sent to HTTPS: \(http)")
    }

    /// A redirect of one moved page is no loop even in flexible mode: the visitor is sent to
    /// /new, and the edge's request for /new is served, not redirected.
    @Test func aMovedPageIsNoLoop() throws {
        let directory = try RealServerTests.origin(mode: "flexible", files: [
            "etc/apache2/apache2.conf": Self.apache("    Redirect permanent /old https://www.example.test/new", remoteIP: true),
            "www/new": "the new page\n",
        ])
        defer { try? FileManager.default.removeItem(at: directory) }
        #expect(try RealServerTests.scan(directory) == [])
        let lab = try OriginLab()
        defer { lab.close() }
        try lab.startApache(configuration: directory.appendingPathComponent("etc/apache2/apache2.conf"), port: 80)
        let old = try lab.request(port: 80, path: "/old", headers: Self.edgeHeaders)
        #expect(old.status == 301 && old.location == "https://www.example.test/new", "\(old)")
        let new = try lab.request(port: 80, path: "/new", headers: Self.edgeHeaders)
        #expect(new.status == 200, "the page the visitor is sent to is served: \(new)")
    }

    /// `<Location /> Require ip <CDN ranges>` after mod_remoteip: Apache judges the restored
    /// visitor address, so every visitor gets 403. Without mod_remoteip the same rule admits the
    /// edge (and the scan asks for real-IP restoration instead). And a vhost-level `Redirect` or
    /// `RewriteRule … [R]` answers in the URI-translation hook, before authorization: the same
    /// allow-list then decides nothing, the edge gets the redirect (which, in flexible mode,
    /// loops).
    @Test(arguments: [
        ("after mod_remoteip", true, "", Set(["origin.deny-blocks-cdn"]), 403),
        ("without mod_remoteip", false, "", Set(["origin.realip-missing"]), 200),
        ("answered by Redirect", true, "    Redirect permanent / https://www.example.test/", Set(["origin.redirect-loop"]), 301),
        ("answered by RedirectMatch", true, "    RedirectMatch permanent ^/(.*)$ https://www.example.test/$1", Set(["origin.redirect-loop"]), 301),
        ("answered by RewriteRule", true, """
                RewriteEngine on
                RewriteRule ^ https://www.example.test%{REQUEST_URI} [R=301,L]
            """, Set(["origin.redirect-loop"]), 301),
        ("answered by RewriteRule under RewriteCond %{HTTPS} off", true, """
                RewriteEngine on
                RewriteCond %{HTTPS} off
                RewriteRule (.*) https://www.example.test$1 [R=301,L]
            """, Set(["origin.redirect-loop"]), 301),
        // mod_alias tries a path-less Redirect of the location walk's sections in URI translation too.
        ("answered by Redirect in <Location />", true, """
                <Location />
                    Redirect permanent https://www.example.test/
                </Location>
            """, Set(["origin.redirect-loop"]), 301),
        // Near miss: a redirect of one path leaves every other to authorization.
        ("a Redirect of one path", true, "    Redirect permanent /old /new", Set(["origin.deny-blocks-cdn"]), 403),
    ])
    func allowListAfterRemoteIPRefusesEveryVisitor(_ name: String, _ remoteIP: Bool, _ before: String, _ expected: Set<String>,
                                                   _ status: Int) throws {
        let (ids, answer) = try Self.scanAndServe(before + "\n" + Self.cdnOnly, remoteIP: remoteIP,
                                                  headers: ["CF-Connecting-IP: 203.0.113.50"])
        #expect(ids == expected, "\(name)")
        #expect(answer.status == status, "\(name): \(answer)")
        if status == 200 { #expect(answer.body.trimmingCharacters(in: .whitespacesAndNewlines) == "served", "\(name): \(answer)") }
    }
}
