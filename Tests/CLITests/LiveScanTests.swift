import Foundation
import Testing
import TestSupport

/// `originaudit scan --live` end to end, on a machine made for the test: a network namespace
/// with a real firewall and a real nginx, and a private mount namespace in which /etc/nginx is
/// the test's configuration. The scan collects everything itself (iptables-save, nft, nginx -T,
/// /proc/net) and must report exactly what is wrong with the running origin — and change its
/// verdict when the running processes change, with no file changed.
@Suite(.serialized, .oracle("the origin lab", unavailable: OriginLab.unavailableReason))
struct LiveScanTests {
    @Test func liveScanSeesTheRunningOrigin() throws {
        let directory = try TestTools.temporaryDirectory("originaudit-live")
        defer { try? FileManager.default.removeItem(at: directory) }
        let (configuration, mounts) = try Self.nginxSite(in: directory)

        let lab = try OriginLab()
        defer { lab.close() }
        try lab.loadFirewall(v4: RealServerTests.firewallAdmittingTheCDN, v6: RealServerTests.firewallIPv6)
        let nginx = try lab.startNginx(configuration: configuration, port: 443)

        func liveScan(hiding hidden: [String] = []) throws -> (ids: Set<String>, output: String) {
            try Self.liveScan(in: lab, mounts: mounts, hiding: hidden, directory: directory)
        }

        // nginx runs, the firewall admits the CDN on 80 and 443, but nothing serves port 9000:
        // every proxied request would be a 502.
        let first = try liveScan()
        #expect(first.ids == ["origin.upstream-unreachable"], "\(first.output)")
        // A missing program is said, as an info finding, and the rest is still audited.
        let withoutIpset = try liveScan(hiding: ["ipset"])
        #expect(withoutIpset.ids == ["origin.upstream-unreachable", "input.unresolved"], "\(withoutIpset.output)")
        #expect(withoutIpset.output.contains("live: ipset is not installed here"), "\(withoutIpset.output)")
        #expect(first.output.contains("\"file\": \"live: nginx-T.conf\""), "the finding should point into the nginx -T dump")

        // The application starts: nothing is wrong any more.
        let application = lab.directory.appendingPathComponent("application")
        try FileManager.default.createDirectory(at: application, withIntermediateDirectories: true)
        try lab.start(["python3", "-m", "http.server", "9000", "--bind", "127.0.0.1", "--directory", application.path],
                      name: "application", scratch: application, port: 9000)
        let second = try liveScan()
        #expect(second.ids.isEmpty, "\(second.output)")

        // nginx stops: the configuration still says 80 and 443, the kernel would reset the CDN.
        nginx.stop()
        let third = try liveScan()
        #expect(third.ids == ["origin.port-not-listening"], "\(third.output)")
        let refused = try lab.request(port: 443, https: true)
        #expect(refused.curlExit == 7, "\(refused)")
    }

    /// The same for Apache: `scan --live` finds the configuration through `apache2ctl -V`, the
    /// compiled-in modules through `-M`, and the running httpd's sockets in /proc/net. nginx is
    /// "not installed" here (its program hidden), which is said as an info finding.
    @Test(.oracle("the origin lab's Apache", unavailable: OriginLab.apacheUnavailableReason))
    func liveScanSeesARunningApache() throws {
        let directory = try TestTools.temporaryDirectory("originaudit-live-apache")
        defer { try? FileManager.default.removeItem(at: directory) }
        let (etc, configuration) = try Self.apacheSite(in: directory)

        let lab = try OriginLab()
        defer { lab.close() }
        try lab.loadFirewall(v4: RealServerTests.firewallAdmittingTheCDN, v6: RealServerTests.firewallIPv6)
        try lab.startApache(configuration: configuration, port: 443)

        func liveScan() throws -> (ids: Set<String>, output: String) {
            try Self.liveScan(in: lab, mounts: [(etc.path, "/etc/apache2")], hiding: ["nginx"], directory: directory)
        }

        let first = try liveScan()
        #expect(first.ids == ["origin.upstream-unreachable", "input.unresolved"], "\(first.output)")
        #expect(first.output.contains("ProxyPass") && first.output.contains("live: nginx is not installed here"), "\(first.output)")
        #expect(!first.output.contains("-M failed"), "apache2ctl -M should list the modules: \(first.output)")
        #expect(!first.output.contains("apache2ctl -S lists") && !first.output.contains("-S failed"),
                "httpd's virtual hosts (apache2ctl -S) and the audit's should agree: \(first.output)")

        let application = lab.directory.appendingPathComponent("application")
        try FileManager.default.createDirectory(at: application, withIntermediateDirectories: true)
        try lab.start(["python3", "-m", "http.server", "9000", "--bind", "127.0.0.1", "--directory", application.path],
                      name: "application", scratch: application, port: 9000)
        let second = try liveScan()
        #expect(second.ids == ["input.unresolved"], "\(second.output)")
    }

    /// An nginx origin for www.example.test under `directory/etc/nginx` (and the test's CDN in
    /// `directory/cdn-ranges.txt`): a private CA, an intermediate and a leaf made by openssl now
    /// (`certificateScript` runs after them, in the pki folder), the chain in ssl/site.pem, the key
    /// in ssl/site.key with `keyMode`; nginx.conf redirecting 80 to 443 and proxying 443 to port
    /// 9000, then `extraServers`. The mounts for `liveScan`: /etc/nginx is this configuration only
    /// inside the scan's private mount namespace, and /etc/apache2 is hidden behind an empty
    /// directory so the machine's own Apache is not audited.
    static func nginxSite(in directory: URL, certificateScript: String = "", keyMode: String = "600", extraServers: String = "") throws
        -> (configuration: URL, mounts: [(String, String)]) {
        try FileManager.default.createDirectory(at: directory.appendingPathComponent("etc/nginx/ssl"), withIntermediateDirectories: true)
        let library = TestTools.packageRoot.appendingPathComponent("Tests/AuditRulesTests/Fixtures/_lib/certificates.sh").path
        let certificates = try TestTools.run("/bin/sh", ["-c", """
            set -e
            . "\(library)"
            sub inter "/CN=Live Intermediate" root
            leaf site "/CN=www.example.test" "DNS:www.example.test" inter $VALID
            cat site.pem inter.pem > ../etc/nginx/ssl/site.pem
            cp site.key ../etc/nginx/ssl/site.key
            chmod \(keyMode) ../etc/nginx/ssl/site.key
            \(certificateScript)
            """], currentDirectory: directory.path, timeout: 120)
        try #require(certificates.status == 0, "\(certificates.stderr)")
        try OriginLab.cdnRanges.write(to: directory.appendingPathComponent("cdn-ranges.txt"), atomically: false, encoding: .utf8)
        let ssl = directory.appendingPathComponent("etc/nginx/ssl").path
        let configuration = directory.appendingPathComponent("etc/nginx/nginx.conf")
        try """
            events { worker_connections 64; }
            http {
                access_log off;
                set_real_ip_from 192.0.2.0/24;
                set_real_ip_from 198.51.100.0/24;
                real_ip_header CF-Connecting-IP;
                server {
                    listen 80;
                    server_name www.example.test;
                    return 301 https://$host$request_uri;
                }
                server {
                    listen 443 ssl;
                    server_name www.example.test;
                    ssl_certificate \(ssl)/site.pem;
                    ssl_certificate_key \(ssl)/site.key;
                    location / { proxy_pass http://127.0.0.1:9000; }
                }
            \(extraServers)}

            """.write(to: configuration, atomically: false, encoding: .utf8)
        let empty = directory.appendingPathComponent("empty")
        try FileManager.default.createDirectory(at: empty, withIntermediateDirectories: true)
        var mounts = [(directory.appendingPathComponent("etc/nginx").path, "/etc/nginx")]
        if FileManager.default.fileExists(atPath: "/etc/apache2") { mounts.append((empty.path, "/etc/apache2")) }
        return (configuration, mounts)
    }

    /// An Apache origin for www.example.test under `directory/etc/apache2` (and the test's CDN in
    /// `directory/cdn-ranges.txt`): leaf and intermediate in ssl/www.example.test.pem, its key
    /// beside it, made by the fixtures' certificate library after `certificateScript` (run first,
    /// in its pki folder); apache2.conf serving the two virtual hosts, in `sites-enabled/www.conf`
    /// through an IncludeOptional when `sitesDirectory`; Debian's envvars.
    static func apacheSite(in directory: URL, certificateScript: String = "", sitesDirectory: Bool = false) throws
        -> (etc: URL, configuration: URL) {
        let etc = directory.appendingPathComponent("etc/apache2")
        try FileManager.default.createDirectory(at: etc.appendingPathComponent("ssl"), withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: etc.appendingPathComponent("sites-enabled"), withIntermediateDirectories: true)
        let library = TestTools.packageRoot.appendingPathComponent("Tests/AuditRulesTests/Fixtures/_lib/certificates.sh").path
        let certificates = try TestTools.run("/bin/sh", ["-c", """
            set -e
            . "\(library)"
            \(certificateScript)
            site www.example.test "DNS:www.example.test" etc/apache2/ssl etc/apache2/ssl
            """], currentDirectory: directory.path, timeout: 120)
        try #require(certificates.status == 0, "\(certificates.stderr)")
        try OriginLab.cdnRanges.write(to: directory.appendingPathComponent("cdn-ranges.txt"), atomically: false, encoding: .utf8)
        let ssl = etc.appendingPathComponent("ssl").path
        let hosts = """
            <VirtualHost *:80>
                ServerName www.example.test
                Redirect permanent / https://www.example.test/
            </VirtualHost>
            <VirtualHost *:443>
                ServerName www.example.test
                SSLEngine on
                SSLCertificateFile \(ssl)/www.example.test.pem
                SSLCertificateKeyFile \(ssl)/www.example.test.key
                ProxyPass / http://127.0.0.1:9000/
            </VirtualHost>

            """
        if sitesDirectory { try hosts.write(to: etc.appendingPathComponent("sites-enabled/www.conf"), atomically: false, encoding: .utf8) }
        let configuration = etc.appendingPathComponent("apache2.conf")
        try """
            \(OriginLab.apacheHeader(modules: ["mpm_prefork", "authz_core", "alias", "ssl", "socache_shmcb", "remoteip", "proxy", "proxy_http"]))
            ErrorLog \(directory.path)/error.log
            Listen 80
            Listen 443
            RemoteIPHeader CF-Connecting-IP
            RemoteIPTrustedProxy 192.0.2.0/24 198.51.100.0/24
            \(sitesDirectory ? "IncludeOptional \(etc.path)/sites-enabled/*.conf\n" : hosts)
            """.write(to: configuration, atomically: false, encoding: .utf8)
        // What apache2ctl sources before running httpd: Debian's variables, nothing else needed.
        try "export APACHE_RUN_USER=nobody\nexport APACHE_RUN_GROUP=nogroup\nexport LANG=C\n"
            .write(to: etc.appendingPathComponent("envvars"), atomically: false, encoding: .utf8)
        return (etc, configuration)
    }

    /// `originaudit scan --live` inside the lab's origin namespace and a private mount namespace
    /// where each (source, target) of `mounts` is bind-mounted and each program of `hiding` is
    /// "not installed" (its file replaced by /dev/null, which nothing can execute). The CDN is the
    /// test's (`directory/cdn-ranges.txt`), the trust anchor `directory/pki/root.pem`.
    static func liveScan(in lab: OriginLab, mounts: [(String, String)], hiding hidden: [String], directory: URL,
                         extra: [String] = []) throws -> (ids: Set<String>, output: String) {
        var script = "set -e\ncd '\(TestTools.packageRoot.path)'\n"
        for (source, target) in mounts { script += "mount --bind '\(source)' '\(target)'\n" }
        for program in hidden { script += "mount --bind /dev/null '\(try TestTools.which(program))'\n" }
        script += "exec '\(Binary.path)' scan --live --format json --fail-on never --tls-mode strict --hostname www.example.test "
            + "--cdn-ranges '\(directory.path)/cdn-ranges.txt' --ca-file '\(directory.path)/pki/root.pem' --at 2026-11-23T00:00:00Z"
            + extra.map { " '\($0)'" }.joined() + "\n"
        let result = try TestTools.run("ip", ["netns", "exec", lab.originNamespace, "unshare", "--mount", "--propagation", "private", "/bin/sh", "-c", script],
                                       timeout: 120)
        try Binary.validateReport(result.stdout, status: result.status, arguments: ["scan", "--format", "json"])
        guard let data = result.stdout.data(using: .utf8), let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              let findings = json["findings"] as? [[String: Any]] else {
            throw LabFailure("live scan failed (\(result.status)): \(result.stderr)\(result.stdout.prefix(800))")
        }
        return (Set(findings.compactMap { $0["ruleId"] as? String }), result.stdout)
    }
}

/// `scan --live` changes nothing: with nginx stopped, `nginx -T` created /run/nginx.pid, and
/// apache2ctl creates its run directory. The proof is a snapshot (path, inode, size, mtime) of
/// all of /etc, /run and /var, taken in a private mount and network namespace before and after
/// `scan --live` — with nginx and Apache stopped, then both running as Debian runs them (pid
/// files in /run, logs in /var/log). So that nothing else on the machine (a package install, a
/// log rotation) can change the tree meanwhile, /etc and /var there are private copies of the
/// machine's (on a tmpfs of the test's own) and /run a fresh tmpfs: any difference is the scan's.
@Suite(.serialized, .oracle("the origin lab", unavailable: OriginLab.unavailableReason))
struct LiveReadOnlyTests {
    @Test func liveScanLeavesTheFileTreeUnchanged() throws {
        let directory = try TestTools.temporaryDirectory("originaudit-live-readonly")
        defer { try? FileManager.default.removeItem(at: directory) }
        try FileManager.default.createDirectory(at: directory.appendingPathComponent("tree"), withIntermediateDirectories: true)
        try """
            events { worker_connections 16; }
            http {
                access_log off;
                server { listen 127.0.0.1:18080; server_name readonly.example.test; return 200 "ok"; }
            }

            """.write(to: directory.appendingPathComponent("nginx.conf"), atomically: false, encoding: .utf8)
        // Apache as apache2ctl runs it on Debian: Debian's envvars (kept in the copy of /etc)
        // put the pid file and run directory in /run/apache2, the log in /var/log/apache2.
        try """
            \(OriginLab.apacheHeader(modules: ["mpm_prefork", "authz_core"]))
            PidFile ${APACHE_PID_FILE}
            DefaultRuntimeDir ${APACHE_RUN_DIR}
            Mutex file:${APACHE_LOCK_DIR} default
            User ${APACHE_RUN_USER}
            Group ${APACHE_RUN_GROUP}
            ErrorLog ${APACHE_LOG_DIR}/error.log
            Listen 127.0.0.1:18081
            <VirtualHost 127.0.0.1:18081>
                ServerName readonly.example.test
            </VirtualHost>

            """.write(to: directory.appendingPathComponent("apache2.conf"), atomically: false, encoding: .utf8)
        // A fresh /run holds /run/lock as at boot (systemd-tmpfiles makes it; /var/lock points
        // there, and apache2ctl needs it). Every file and directory with its inode, size and mtime. Nothing is left out: whatever
        // the kernel or the servers change by themselves happens before the first snapshot of a
        // phase (the servers are started, and have finished starting, before it; they serve nothing meanwhile).
        let snapshot = "find /etc /run /var -printf '%p %i %s %T@\\n' | sort"
        let scan = "'\(Binary.path)' scan --live --format json --fail-on never > \"\(directory.path)/scan-$1.json\" 2>&1 || true"
        let tree = directory.appendingPathComponent("tree").path
        let script = """
            set -e
            ip link set lo up
            mount -t tmpfs originaudit-tree '\(tree)'
            cp -a /etc /var '\(tree)/'
            mount --bind '\(tree)/etc' /etc
            mount --bind '\(tree)/var' /var
            mount -t tmpfs originaudit-run /run
            mkdir /run/lock
            mkdir -p /etc/nginx /etc/apache2
            cp '\(directory.path)/nginx.conf' /etc/nginx/nginx.conf
            cp '\(directory.path)/apache2.conf' /etc/apache2/apache2.conf
            test -f /etc/apache2/envvars
            phase() {
                \(snapshot) > '\(directory.path)/'$1-before
                \(scan)
                \(snapshot) > '\(directory.path)/'$1-after
            }
            phase stopped
            trap 'nginx -s stop; apache2ctl stop' EXIT
            nginx </dev/null >/dev/null 2>&1
            apache2ctl start </dev/null >/dev/null 2>&1
            # Both commands return before their server has finished starting (the pid files and
            # Apache's start-up lines in error.log come from the daemon, after it detaches): the
            # snapshot waits until nginx's pid file is written and Apache has logged the line it
            # writes after its pid file and its children (AH00094, after "resuming normal operations").
            waited=0
            until test -s /run/nginx.pid && test -s /run/apache2/apache2.pid && grep -q AH00094 /var/log/apache2/error.log 2>/dev/null; do
                waited=$((waited + 1))
                if [ $waited -gt 600 ]; then echo "the servers did not finish starting in 60 s" >&2; exit 1; fi
                sleep 0.1
            done
            phase running
            """
        let result = try TestTools.run("unshare", ["--mount", "--net", "--propagation", "private", "/bin/sh", "-c", script], timeout: 300)
        try #require(result.status == 0, "\(result.stderr)\(result.stdout)")
        for phase in ["stopped", "running"] {
            let before = try String(contentsOf: directory.appendingPathComponent("\(phase)-before"), encoding: .utf8)
            let after = try String(contentsOf: directory.appendingPathComponent("\(phase)-after"), encoding: .utf8)
            let changed = Set(before.split(separator: "\n")).symmetricDifference(Set(after.split(separator: "\n")))
            #expect(changed.isEmpty, "\(phase): scan --live changed \(changed.sorted())")
            // The snapshot sees the whole tree, and the scan read the servers' configurations.
            for path in ["/etc/passwd ", "/etc/nginx/nginx.conf ", "/etc/apache2/apache2.conf ", "/var/lib/dpkg/status "] {
                #expect(before.contains("\n" + path), "\(phase): the snapshot should list \(path)")
            }
            if phase == "running" {
                #expect(before.contains("\n/run/nginx.pid ") && before.contains("\n/run/apache2/apache2.pid "),
                        "the servers should be running: \(before.split(separator: "\n").filter { $0.hasPrefix("/run") })")
            }
            let report = try String(contentsOf: directory.appendingPathComponent("scan-\(phase).json"), encoding: .utf8)
            #expect(report.contains("\"/etc/apache2/apache2.conf\""), "\(phase): the live scan should read the configuration: \(report.prefix(1500))")
        }
    }
}
