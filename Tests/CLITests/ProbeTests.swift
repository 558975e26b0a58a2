import Foundation
import Testing
import TestSupport

/// `originaudit probe` against a real nginx on loopback, serving certificates made here by the
/// openssl CLI: what the CDN would see, classified the way it reports it.
@Suite(.serialized) struct ProbeTests {
    /// A temporary CA, leaves and an nginx serving them on free loopback ports.
    final class Origin: @unchecked Sendable {
        let directory: URL
        var ports: [String: UInt16] = [:]
        var nginx: SessionProcess?

        init() throws {
            directory = try TestTools.temporaryDirectory("probe")
            try makeCertificates()
            try startNginx()
        }

        func stop() {
            nginx?.stop()
            nginx = nil
            try? FileManager.default.removeItem(at: directory)
        }

        deinit { stop() }

        func openssl(_ arguments: [String]) throws {
            let result = try TestTools.run("openssl", arguments, currentDirectory: directory.path)
            guard result.status == 0 else { throw FixtureFailure("openssl \(arguments.joined(separator: " ")): \(result.stderr)") }
        }

        func makeCertificates() throws {
            try openssl(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "3650", "-subj", "/CN=Probe Test CA"])
            for name in ["good", "expired"] {
                try openssl(["req", "-newkey", "rsa:2048", "-nodes", "-keyout", "\(name).key", "-out", "\(name).csr",
                             "-subj", "/CN=origin.test", "-addext", "subjectAltName=DNS:origin.test"])
            }
            try "subjectAltName=DNS:origin.test\n".write(to: directory.appendingPathComponent("san.ext"), atomically: true, encoding: .utf8)
            try openssl(["x509", "-req", "-in", "good.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
                         "-out", "good.pem", "-days", "30", "-extfile", "san.ext"])
            // An expired leaf needs dates in the past: `openssl ca` takes them explicitly.
            try """
            [ ca ]
            default_ca = test
            [ test ]
            database = index.txt
            new_certs_dir = .
            serial = serial
            default_md = sha256
            policy = anything
            copy_extensions = copy
            [ anything ]
            commonName = supplied
            """.write(to: directory.appendingPathComponent("ca.cnf"), atomically: true, encoding: .utf8)
            try "".write(to: directory.appendingPathComponent("index.txt"), atomically: true, encoding: .utf8)
            try "1000\n".write(to: directory.appendingPathComponent("serial"), atomically: true, encoding: .utf8)
            try openssl(["ca", "-batch", "-config", "ca.cnf", "-cert", "ca.pem", "-keyfile", "ca.key", "-notext",
                         "-startdate", "20200101000000Z", "-enddate", "20210101000000Z", "-in", "expired.csr", "-out", "expired.pem"])
            try openssl(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "self.key", "-out", "self.pem", "-days", "30",
                         "-subj", "/CN=origin.test", "-addext", "subjectAltName=DNS:origin.test"])
        }

        static func freePort() -> UInt16 {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            defer { close(fd) }
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
            _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
            return UInt16(bigEndian: address.sin_port)
        }

        func startNginx() throws {
            for name in ["good", "expired", "self", "plain", "closed"] { ports[name] = Self.freePort() }
            let d = directory.path
            var servers = ""
            for name in ["good", "expired", "self"] {
                servers += "server { listen 127.0.0.1:\(ports[name]!) ssl; server_name origin.test; ssl_certificate \(d)/\(name).pem; ssl_certificate_key \(d)/\(name).key; location / { return 200 \"\(name)\"; } }\n"
            }
            servers += "server { listen 127.0.0.1:\(ports["plain"]!); location / { return 200 \"plain\"; } }\n"
            let temp = ["client_body", "proxy", "fastcgi", "uwsgi", "scgi"].map { "\($0)_temp_path \(d)/\($0);" }.joined(separator: " ")
            let config = """
            worker_processes 1;
            pid \(d)/nginx.pid;
            error_log \(d)/error.log;
            events { worker_connections 64; }
            http { access_log off; \(temp)
            \(servers)}
            """
            try config.write(to: directory.appendingPathComponent("nginx.conf"), atomically: true, encoding: .utf8)
            nginx = try SessionProcess(try TestTools.which("nginx"), ["-p", d, "-c", "\(d)/nginx.conf", "-g", "daemon off;"],
                                       environment: ["PATH": "/usr/sbin:/usr/bin:/sbin:/bin"],
                                       stdout: directory.appendingPathComponent("nginx.out"), stderr: directory.appendingPathComponent("nginx.err"))
            // Ready when the plain port accepts connections.
            for _ in 0..<100 {
                if (try? Binary.run(["probe", "127.0.0.1", "--port", String(ports["plain"]!), "--tls-mode", "flexible", "--connect-timeout", "1"]))?.status == 0 { return }
                usleep(50_000)
            }
            let log = (try? String(contentsOfFile: "\(d)/error.log", encoding: .utf8)) ?? ""
            stop()
            throw FixtureFailure("nginx did not start: \(log)")
        }

        func probe(_ name: String, mode: String, sni: String = "origin.test", trustCA: Bool = true) throws -> (predicts: String, status: Int32, output: String) {
            var arguments = ["probe", "127.0.0.1", "--port", String(ports[name]!), "--sni", sni, "--tls-mode", mode,
                             "--connect-timeout", "2", "--read-timeout", "3", "--format", "json"]
            if trustCA { arguments += ["--ca-file", directory.appendingPathComponent("ca.pem").path] }
            let result = try Binary.run(arguments)
            let object = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]
            return (object?["predicts"] as? String ?? "none: \(result.stdout) \(result.stderr)", result.status, result.stdout)
        }
    }

    static let cases: [(server: String, mode: String, sni: String, trustCA: Bool, expected: String)] = [
        // (server, mode, SNI, trust the test CA, what the CDN shows)
        ("good", "strict", "origin.test", true, "200"),
        ("good", "strict", "origin.test", false, "526"),      // chains to a private CA only
        ("good", "full", "origin.test", false, "200"),        // full accepts any certificate
        ("good", "strict", "www.other.test", true, "526"),    // the name is not covered
        ("good", "origin-pull", "origin.test", true, "200"),
        ("expired", "strict", "origin.test", true, "526"),
        ("expired", "full", "origin.test", true, "200"),
        ("self", "strict", "origin.test", true, "526"),
        ("self", "full", "origin.test", true, "200"),
        ("plain", "strict", "origin.test", true, "525"),      // no TLS on the port
        ("plain", "flexible", "origin.test", true, "200"),
        ("closed", "full", "origin.test", true, "521"),       // nothing listens
        ("closed", "flexible", "origin.test", true, "521"),
    ]

    /// One nginx for every case, stopped when the test ends (a server left running would keep the
    /// test runner's output open).
    @Test func classifiesLikeTheCDN() throws {
        let origin = try Origin()
        defer { origin.stop() }
        for c in Self.cases {
            let result = try origin.probe(c.server, mode: c.mode, sni: c.sni, trustCA: c.trustCA)
            #expect(result.predicts == c.expected, "\(c.server) in \(c.mode) as \(c.sni): \(result.output)")
            #expect(result.status == (c.expected == "200" ? 0 : 1), "\(c.server) in \(c.mode): exit \(result.status)")
        }
    }

    /// A DROP rule in a namespace of the test's own: no SYN-ACK, so the CDN times out (522).
    @Test(.oracle("a dropping firewall in a namespace", unavailable: Oracle.missing(programs: ["iptables"], namespaces: true)))
    func droppedConnectionTimesOut() throws {
        let namespace = "oa-probe-\(getpid())"
        try TestTools.run("ip", ["netns", "add", namespace])
        defer { _ = try? TestTools.run("ip", ["netns", "delete", namespace]) }
        try TestTools.run("ip", ["netns", "exec", namespace, "ip", "link", "set", "lo", "up"])
        let rule = try TestTools.run("ip", ["netns", "exec", namespace, "iptables", "-A", "INPUT", "-p", "tcp", "--dport", "9", "-j", "DROP"])
        try #require(rule.status == 0, "iptables in the namespace: \(rule.stderr)")
        let result = try TestTools.run("ip", ["netns", "exec", namespace, Binary.path, "probe", "127.0.0.1", "--port", "9",
                                              "--connect-timeout", "1", "--format", "json"], timeout: 30)
        #expect(result.stdout.contains("\"predicts\" : \"522\"") || result.stdout.contains("\"predicts\": \"522\""), "\(result.stdout)\(result.stderr)")
        #expect(result.status == 1)
    }
}

struct FixtureFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
