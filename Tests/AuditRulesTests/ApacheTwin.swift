import Foundation
import TestSupport

/// The Apache twin of a prepared nginx certificate fixture: a copy of the fixture's folder where
/// `etc/apache2/apache2.conf` serves the same certificate, key, name, protocols and ciphers in
/// place of `etc/nginx/nginx.conf`, in one of the file layouts Apache accepts. The config is
/// self-contained (no Debian envvars, modules loaded by path, every runtime file in `runtime`,
/// outside the scanned folder), so the same file is what the tool reads and what a real
/// `apache2 -f` starts.
struct ApacheTwin {
    /// How the certificate, its chain and the key reach mod_ssl.
    enum Layout: String, CaseIterable, CustomStringConvertible {
        case asNginx = "certificate file (leaf and chain) and key file, as nginx names them"
        case chainFile = "leaf alone in SSLCertificateFile, the rest in SSLCertificateChainFile"
        case keyInCertificate = "key appended to the certificate file, no SSLCertificateKeyFile"
        var description: String { rawValue }
    }

    /// The folder to scan: the fixture's files, its `.originaudit.yml`, the Apache config.
    let directory: URL
    /// Pid file, error log, locks, session cache and the server's output.
    let runtime: URL
    let layout: Layout
    var main: URL { directory.appendingPathComponent("etc/apache2/apache2.conf") }
    var pidFile: URL { runtime.appendingPathComponent("httpd.pid") }
    var errorLog: URL { runtime.appendingPathComponent("error.log") }
    var stdout: URL { runtime.appendingPathComponent("stdout") }
    var stderr: URL { runtime.appendingPathComponent("stderr") }
    private let scratch: URL

    static let modules = "/usr/lib/apache2/modules"
    /// The nginx directives the twin knows how to say in Apache; any other one in a fixture stops
    /// the test, so a new fixture cannot get a twin that silently differs from it.
    static let translated: Set<String> = ["worker_connections", "listen", "server_name", "ssl_certificate",
                                          "ssl_certificate_key", "ssl_protocols", "ssl_ciphers"]
    /// What Apache cannot say, so such a fixture has no twin (nginx alone judges it): a refused
    /// handshake in place of a certificate.
    static let nginxOnly: Set<String> = ["ssl_reject_handshake"]

    /// nil when the layout does not apply to the fixture (no certificate to split or to join).
    init?(of site: URL, layout: Layout) throws {
        self.layout = layout
        scratch = try TestTools.temporaryDirectory("apache-twin")
        directory = scratch.appendingPathComponent("site")
        runtime = scratch.appendingPathComponent("run")
        do {
            try FileManager.default.createDirectory(at: runtime, withIntermediateDirectories: true)
            // cp -a keeps the modes (tls.key-permissions is about them).
            let copy = try TestTools.run("/bin/cp", ["-a", site.path, directory.path], timeout: 30)
            guard copy.status == 0 else { throw FixtureError(message: "copying \(site.path) failed: \(copy.stderr)") }
            let nginxMain = directory.appendingPathComponent("etc/nginx/nginx.conf")
            let nginx = try String(contentsOf: nginxMain, encoding: .utf8)
            try FileManager.default.removeItem(at: nginxMain)
            let serverRoot = directory.appendingPathComponent("etc/apache2")
            try FileManager.default.createDirectory(at: serverRoot.appendingPathComponent("ssl"), withIntermediateDirectories: true)
            guard let config = try Self.apacheConfig(translating: nginx, nginxDirectory: nginxMain.deletingLastPathComponent(),
                                                     layout: layout, serverRoot: serverRoot, runtime: runtime) else {
                remove()
                return nil
            }
            try Data(config.utf8).write(to: main)
        } catch {
            remove()
            throw error
        }
    }

    func remove() { try? FileManager.default.removeItem(at: scratch) }

    /// `name value;` statements of a small nginx config, in order.
    static func statements(_ nginx: String) -> [(name: String, value: String)] {
        nginx.matches(of: /([a-z_]+)\s+([^;{}]*);/).map { (String($0.output.1), String($0.output.2).trimmingCharacters(in: .whitespaces)) }
    }

    static func apacheConfig(translating nginx: String, nginxDirectory: URL, layout: Layout, serverRoot: URL,
                             runtime: URL) throws -> String? {
        let statements = statements(nginx)
        // One server per twin: the fixtures with more are about how nginx shares a socket.
        if statements.contains(where: { nginxOnly.contains($0.name) }) || statements.filter({ $0.name == "listen" }).count > 1 {
            return nil
        }
        if let unknown = statements.first(where: { !translated.contains($0.name) }) {
            throw FixtureError(message: "the Apache twin cannot translate `\(unknown.name)`")
        }
        func value(_ name: String) -> String? { statements.first { $0.name == name }?.value }
        // nginx resolves relative paths against the directory of nginx.conf (its -c).
        func file(_ name: String) -> URL? {
            value(name).map { $0.hasPrefix("/") ? URL(fileURLWithPath: $0) : nginxDirectory.appendingPathComponent($0) }
        }
        let named: [String]?
        if let certificate = file("ssl_certificate"), let key = file("ssl_certificate_key") {
            named = try files(layout, certificate: certificate, key: key, sslDirectory: serverRoot.appendingPathComponent("ssl"))
        } else {
            // TLS with no certificate named: `SSLEngine on` alone.
            named = layout == .asNginx && value("ssl_certificate") == nil ? [] : nil
        }
        guard var ssl = named else { return nil }
        ssl.insert("SSLEngine on", at: 0)
        let serverName = value("server_name") ?? "www.example.test"
        if let protocols = value("ssl_protocols") {
            ssl.append("SSLProtocol -all " + protocols.split(separator: " ").map { "+" + $0 }.joined(separator: " "))
        }
        if let ciphers = value("ssl_ciphers") { ssl.append("SSLCipherSuite \(ciphers)") }
        let run = runtime.path
        return """
        # The Apache twin of an nginx certificate fixture, written by the differential test.
        ServerRoot "\(serverRoot.path)"
        LoadModule mpm_prefork_module \(modules)/mod_mpm_prefork.so
        LoadModule authz_core_module \(modules)/mod_authz_core.so
        LoadModule socache_shmcb_module \(modules)/mod_socache_shmcb.so
        LoadModule ssl_module \(modules)/mod_ssl.so
        User nobody
        Group nogroup
        StartServers 1
        MinSpareServers 1
        MaxSpareServers 1
        PidFile "\(run)/httpd.pid"
        DefaultRuntimeDir "\(run)"
        Mutex file:\(run) default
        ErrorLog "\(run)/error.log"
        LogLevel info
        ServerName \(serverName)
        Listen 443
        SSLSessionCache "shmcb:\(run)/ssl_scache(512000)"
        <VirtualHost *:443>
            ServerName \(serverName)
        \(ssl.map { "    " + $0 }.joined(separator: "\n"))
        </VirtualHost>

        """
    }

    /// The mod_ssl directives naming the certificate, chain and key in `layout`, writing the
    /// split or joined files it needs into `sslDirectory` in place of the fixture's (which are
    /// in the twin's own copy); nil when the layout does not apply.
    static func files(_ layout: Layout, certificate: URL, key: URL, sslDirectory: URL) throws -> [String]? {
        func line(_ directive: String, _ file: URL) -> String { "\(directive) \"\(file.path)\"" }
        switch layout {
        case .asNginx:
            return [line("SSLCertificateFile", certificate), line("SSLCertificateKeyFile", key)]
        case .chainFile:
            let blocks = CertificateDifferentialTests.blocks(certificate)
            guard blocks.count > 1 else { return nil }
            let leaf = sslDirectory.appendingPathComponent("leaf.pem"), chain = sslDirectory.appendingPathComponent("chain.pem")
            try Data(blocks[0].utf8).write(to: leaf)
            try Data(blocks.dropFirst().joined().utf8).write(to: chain)
            // Replaced, not kept beside: the scan reads every file of the folder.
            try FileManager.default.removeItem(at: certificate)
            return [line("SSLCertificateFile", leaf), line("SSLCertificateKeyFile", key), line("SSLCertificateChainFile", chain)]
        case .keyInCertificate:
            guard let certificates = try? String(contentsOf: certificate, encoding: .utf8),
                  let keyText = try? String(contentsOf: key, encoding: .utf8) else { return nil }
            let joined = sslDirectory.appendingPathComponent("site-and-key.pem")
            try Data((certificates + keyText).utf8).write(to: joined)
            // The joined file holds the key, so it keeps the key file's mode.
            let mode = try FileManager.default.attributesOfItem(atPath: key.path)[.posixPermissions]
            try FileManager.default.setAttributes([.posixPermissions: mode ?? 0o600], ofItemAtPath: joined.path)
            try FileManager.default.removeItem(at: certificate)
            try FileManager.default.removeItem(at: key)
            return [line("SSLCertificateFile", joined)]
        }
    }
}

/// Whether Apache really starts with a config: `apache2 -f CONF -DFOREGROUND` in a network
/// namespace of its own (port 443 never collides, nothing outside can reach it), as a session
/// leader with no terminal and /dev/null as input, so an encrypted key's passphrase prompt reads
/// end-of-file instead of waiting. `apache2 -t` is no judge: it reads the config but does not run
/// mod_ssl's post-config step, so it only notices a missing certificate file, never a key that
/// does not match, an encrypted key or what the security level refuses.
enum ApacheStart {
    enum Outcome: Equatable, CustomStringConvertible {
        /// The pid file was written (after mod_ssl configured every server) and port 443 accepts.
        case serving
        /// The server ended first, with this exit code.
        case exited(Int32)
        /// Neither within the time limit.
        case undecided

        var description: String {
            switch self {
            case .serving: "started and accepts connections on 443"
            case .exited(let code): "refused to start (exit \(code))"
            case .undecided: "neither served nor exited within the time limit"
            }
        }
    }

    struct Verdict {
        var outcome: Outcome
        /// What the server wrote: its error log and standard error.
        var log: String
        var seconds: Double
        /// Processes still in the namespace after the server's group was stopped (then killed).
        var leftovers: Int
    }

    /// Why a real Apache cannot be started in a namespace here, or nil.
    static var missing: String? {
        Oracle.missing(programs: ["apache2"], namespaces: true, files: [ApacheTwin.modules + "/mod_ssl.so"])
    }

    /// Starts the twin, decides, and stops everything it started before returning: the server's
    /// process group, anything else left in the namespace, and the namespace itself.
    static func judge(_ twin: ApacheTwin, limit: TimeInterval = 15) throws -> Verdict {
        let started = Date()
        var leftovers = 0
        let outcome = try run(twin, limit: limit, leftovers: &leftovers)
        let seconds = Date().timeIntervalSince(started)
        let log = [twin.errorLog, twin.stderr, twin.stdout].compactMap { try? String(contentsOf: $0, encoding: .utf8) }
            .joined(separator: "\n").trimmingCharacters(in: .whitespacesAndNewlines)
        return Verdict(outcome: outcome, log: log, seconds: seconds, leftovers: leftovers)
    }

    private static func run(_ twin: ApacheTwin, limit: TimeInterval, leftovers: inout Int) throws -> Outcome {
        let ip = try TestTools.which("ip"), apache2 = try TestTools.which("apache2")
        let namespace = "oa-apache-" + UUID().uuidString.prefix(8).lowercased()
        try must(ip, ["netns", "add", namespace])
        defer { leftovers = removeNamespace(namespace, ip: ip) }
        try must(ip, ["netns", "exec", namespace, "ip", "link", "set", "lo", "up"])
        // `ip netns exec` execs apache2 itself, so the leader is the server.
        let server = try SessionProcess(ip, ["netns", "exec", namespace, apache2, "-f", twin.main.path, "-DFOREGROUND"],
                                        environment: ["PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C"],
                                        stdout: twin.stdout, stderr: twin.stderr)
        defer { server.stop(grace: 5) }
        let deadline = Date().addingTimeInterval(limit)
        while Date() < deadline {
            if let code = server.exitStatus() { return .exited(code) }
            if FileManager.default.fileExists(atPath: twin.pidFile.path), accepts(namespace, ip: ip) { return .serving }
            usleep(20_000)
        }
        return .undecided
    }

    /// Whether a TCP connection to 127.0.0.1:443 inside the namespace is accepted.
    private static func accepts(_ namespace: String, ip: String) -> Bool {
        let probe = try? TestTools.run(ip, ["netns", "exec", namespace, "/bin/bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/443"], timeout: 5)
        return probe?.status == 0
    }

    /// Kills whatever still runs in the namespace (nothing, when `stop` worked), deletes it, and
    /// returns how many processes it had to kill.
    private static func removeNamespace(_ namespace: String, ip: String) -> Int {
        let listed = (try? TestTools.run(ip, ["netns", "pids", namespace], timeout: 10).stdout) ?? ""
        let pids = listed.split(separator: "\n").compactMap { pid_t($0) }
        for pid in pids { kill(pid, SIGKILL) }
        _ = try? TestTools.run(ip, ["netns", "delete", namespace], timeout: 10)
        return pids.count
    }

    private static func must(_ program: String, _ arguments: [String]) throws {
        let result = try TestTools.run(program, arguments, timeout: 10)
        guard result.status == 0 else {
            throw FixtureError(message: "\(([program] + arguments).joined(separator: " ")) failed: \(result.stderr)")
        }
    }
}
