import Foundation
import Testing
import TestSupport

/// Why the evidence lab cannot run here, or nil.
enum EvidenceLab {
    static let unavailableReason: String? = {
        if let reason = OriginLab.unavailableReason ?? Oracle.missing(programs: ["tcpdump", "editcap", "tshark", "openssl", "python3"]) {
            return reason
        }
        let libraries = ["libpcap.so.0.8", "libpcap.so.1", "libpcap.so"]
        return libraries.contains(where: { (name: String) -> Bool in dlopen(name, RTLD_NOW) != nil }) ? nil : "libpcap is not installed"
    }()
}

/// `evidence` on captures the real tcpdump made of real traffic: the origin lab's kernel drops,
/// rejects and rate-limits by a real ruleset, a real nginx answers and proxies to a stopped
/// upstream and refuses the edge's TLS offer, and two small servers stay silent or reset. The
/// classification of every attempt is asserted, the explanation ties each failure to the rule
/// that causes it, the same capture as pcapng reads the same, and tshark counts the same SYNs.
@Suite(.serialized, .oracle("the origin lab with tcpdump, editcap and tshark", unavailable: EvidenceLab.unavailableReason))
struct EvidenceTests {
    static let ruleset = """
        *filter
        :INPUT ACCEPT [0:0]
        :FORWARD ACCEPT [0:0]
        :OUTPUT ACCEPT [0:0]
        -A INPUT -p tcp -s 192.0.2.0/24 --dport 8080 -j DROP
        -A INPUT -p tcp --dport 8880 -j REJECT --reject-with tcp-reset
        -A INPUT -p tcp --dport 2052 -j REJECT --reject-with icmp-port-unreachable
        -A INPUT -p tcp --dport 8443 --syn -m limit --limit 1/hour --limit-burst 1 -j ACCEPT
        -A INPUT -p tcp --dport 8443 --syn -j DROP
        COMMIT

        """

    /// Accepts, reads the request, then says nothing (a hung application: 524).
    static let silentServer = """
        import socket, time
        s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("0.0.0.0", 2082)); s.listen(8)
        held = []
        while True:
            c, _ = s.accept(); c.recv(4096); held.append(c)
        """

    /// Reads the request and resets the connection (SO_LINGER 0): a crashing application (520).
    static let resettingServer = """
        import socket, struct
        s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("0.0.0.0", 2083)); s.listen(8)
        while True:
            c, _ = s.accept(); c.recv(4096)
            c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)); c.close()
        """

    struct Row: Hashable, CustomStringConvertible {
        var source: String, port: Int, outcome: String, predicts: String?
        var description: String { "\(source) \(port) \(outcome) \(predicts ?? "ok")" }
    }

    @Test func realFailuresAreClassifiedAndTiedToTheirRules() throws {
        let directory = try TestTools.temporaryDirectory("originaudit-evidence")
        defer { try? FileManager.default.removeItem(at: directory) }
        func write(_ name: String, _ text: String) throws { try text.write(to: directory.appendingPathComponent(name), atomically: false, encoding: .utf8) }
        try write("rules.v4", Self.ruleset)
        try write("ranges.txt", OriginLab.cdnRanges)
        try write("silent.py", Self.silentServer)
        try write("reset.py", Self.resettingServer)
        let key = directory.appendingPathComponent("key.pem").path, cert = directory.appendingPathComponent("cert.pem").path
        _ = try TestTools.run("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", key,
                                          "-out", cert, "-days", "2", "-subj", "/CN=www.example.test"], timeout: 30)
        try write("nginx.conf", """
            events { worker_connections 64; }
            http {
                access_log off;
                server {
                    listen 80;
                    server_name www.example.test;
                    location / { return 200 "served\\n"; }
                    location /app { proxy_pass http://127.0.0.1:9; }
                }
                server {
                    listen 2053 ssl;
                    server_name www.example.test;
                    ssl_certificate \(cert);
                    ssl_certificate_key \(key);
                    ssl_protocols TLSv1.3;
                    location / { return 200 "served\\n"; }
                }
            }

            """)

        let lab = try OriginLab()
        defer { lab.close() }
        try lab.loadFirewall(v4: Self.ruleset)
        try lab.startNginx(configuration: directory.appendingPathComponent("nginx.conf"), port: 80)
        let scratch = directory.appendingPathComponent("run")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        try lab.start(["python3", directory.appendingPathComponent("silent.py").path], name: "silent", scratch: scratch, port: 2082)
        try lab.start(["python3", directory.appendingPathComponent("reset.py").path], name: "reset", scratch: scratch, port: 2083)

        // tcpdump on every interface of the origin (Linux cooked v2 frames), written packet by packet.
        let capture = directory.appendingPathComponent("origin.pcap")
        let tcpdump = try SessionProcess(try TestTools.which("ip"), ["netns", "exec", lab.originNamespace, try TestTools.which("tcpdump"),
                                                                      "-i", "any", "--immediate-mode", "-U", "-n", "-w", capture.path, "tcp or icmp"],
                                         environment: ["PATH": "/usr/sbin:/usr/bin:/sbin:/bin"],
                                         stdout: scratch.appendingPathComponent("tcpdump.out"), stderr: scratch.appendingPathComponent("tcpdump.err"))
        let ready = Date().addingTimeInterval(10)
        while Date() < ready, !((try? String(contentsOf: scratch.appendingPathComponent("tcpdump.err"), encoding: .utf8)) ?? "").contains("listening on") {
            usleep(50_000)
        }
        func curl(_ arguments: [String], from source: String = OriginLab.edgeAddress, seconds: Double = 2.5) throws {
            _ = try TestTools.run("ip", ["netns", "exec", lab.edgeNamespace, "curl", "-s", "-o", "/dev/null", "--max-time", "\(seconds)",
                                         "--interface", source] + arguments, timeout: seconds + 10)
        }
        let origin = OriginLab.origin
        try curl(["http://\(origin)/"])
        try curl(["http://\(origin)/"], from: OriginLab.visitorAddress)
        try curl(["http://\(origin)/app"])
        try curl(["http://\(origin):8080/"])
        try curl(["http://\(origin):8880/"])
        try curl(["http://\(origin):2052/"])
        try curl(["http://\(origin):8443/"])
        try curl(["http://\(origin):8443/"])
        try curl(["-k", "--tls-max", "1.2", "--resolve", "www.example.test:2053:\(origin)", "https://www.example.test:2053/"])
        try curl(["http://\(origin):2082/"], seconds: 2)
        try curl(["http://\(origin):2083/"])
        usleep(300_000)
        tcpdump.stop()

        let arguments = ["origin.pcap", "--cdn-ranges", "ranges.txt", "--iptables", "rules.v4", "--nginx", "nginx.conf",
                         "--read-timeout", "1", "--format", "json"]
        let result = try Binary.run(["evidence"] + arguments, in: directory.path)
        #expect(result.status == 1, "CDN connections failed: exit 1; \(result.stderr)")
        let report = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        let rows = try #require(report["rows"] as? [[String: Any]])
        let seen = Set(rows.map { Row(source: $0["source"] as? String ?? "", port: $0["port"] as? Int ?? 0,
                                      outcome: $0["outcome"] as? String ?? "", predicts: $0["predicts"] as? String) })
        let cdn = "192.0.2.0/24"
        let expected: Set<Row> = [
            Row(source: cdn, port: 80, outcome: "answered", predicts: nil),
            Row(source: "not the CDN", port: 80, outcome: "answered", predicts: nil),
            Row(source: cdn, port: 80, outcome: "answered", predicts: "502"),
            Row(source: cdn, port: 8080, outcome: "no-syn-ack", predicts: "522"),
            Row(source: cdn, port: 8880, outcome: "reset", predicts: "521"),
            Row(source: cdn, port: 2052, outcome: "icmp-unreachable", predicts: "521"),
            Row(source: cdn, port: 8443, outcome: "reset", predicts: "521"),
            Row(source: cdn, port: 8443, outcome: "no-syn-ack", predicts: "522"),
            Row(source: cdn, port: 2053, outcome: "tls-alert", predicts: "525"),
            Row(source: cdn, port: 2082, outcome: "silence", predicts: "524"),
            Row(source: cdn, port: 2083, outcome: "reset-after-data", predicts: "520"),
        ]
        #expect(seen == expected, "missing: \(expected.subtracting(seen)); unexpected: \(seen.subtracting(expected))")
        #expect(rows.map { $0["count"] as? Int ?? 0 } == Array(repeating: 1, count: rows.count))

        func row(_ port: Int, _ outcome: String) -> [String: Any]? {
            rows.first { $0["port"] as? Int == port && $0["outcome"] as? String == outcome && $0["source"] as? String == cdn }
        }
        func explanation(_ port: Int, _ outcome: String) -> String { ((row(port, outcome)?["explanation"] as? [String]) ?? []).joined(separator: "\n") }
        // Each failure is tied to the line of rules.v4 that causes it (lines 5–9).
        #expect(explanation(8080, "no-syn-ack").contains("explained: rules.v4:5"))
        #expect(explanation(8080, "no-syn-ack").contains("firewall.cdn-dropped"))
        #expect(explanation(8880, "reset").contains("explained: rules.v4:6"))
        #expect(explanation(2052, "icmp-unreachable").contains("explained: rules.v4:7"))
        #expect(explanation(8443, "no-syn-ack").contains("rules.v4:8"), "\(explanation(8443, "no-syn-ack"))")
        #expect(explanation(8443, "no-syn-ack").contains("firewall.cdn-rate-limited"))
        // The one SYN the limit let through found nothing listening: the configuration has no 8443.
        #expect(explanation(8443, "reset").contains("no server in the configuration given listens on port 8443"))
        func summary(_ port: Int, _ outcome: String) -> String { row(port, outcome)?["summary"] as? String ?? "" }
        #expect(summary(8080, "no-syn-ack").contains("retransmission"))
        #expect(summary(2053, "tls-alert").contains("protocol_version"))
        #expect(explanation(2082, "silence").contains("524"))

        // The same capture as pcapng: the same rows.
        let pcapng = directory.appendingPathComponent("origin.pcapng")
        _ = try TestTools.run("editcap", ["-F", "pcapng", capture.path, pcapng.path], timeout: 30)
        let again = try Binary.run(["evidence", pcapng.path] + arguments.dropFirst(), in: directory.path)
        let againRows = try #require((try JSONSerialization.jsonObject(with: Data(again.stdout.utf8)) as? [String: Any])?["rows"] as? [[String: Any]])
        #expect(againRows.count == rows.count)
        #expect(String(describing: againRows.map { [$0["source"], $0["port"], $0["outcome"], $0["count"], $0["first"]] as [Any?] })
                == String(describing: rows.map { [$0["source"], $0["port"], $0["outcome"], $0["count"], $0["first"]] as [Any?] }))

        // tshark's view: the number of TCP streams that began with a SYN, per port, is ours.
        let shark = try TestTools.run("tshark", ["-r", capture.path, "-Y", "tcp.flags.syn == 1 && tcp.flags.ack == 0", "-T", "fields",
                                                 "-e", "tcp.stream", "-e", "tcp.dstport"], timeout: 60)
        var streamsByPort: [Int: Set<String>] = [:]
        for line in shark.stdout.split(separator: "\n") {
            let fields = line.split(separator: "\t")
            guard fields.count == 2, let port = Int(fields[1]), port != 9 else { continue }
            streamsByPort[port, default: []].insert(String(fields[0]))
        }
        var oursByPort: [Int: Int] = [:]
        for row in rows { oursByPort[row["port"] as? Int ?? 0, default: 0] += row["count"] as? Int ?? 0 }
        #expect(streamsByPort.mapValues(\.count) == oursByPort)

        // The text report says the same for people.
        let text = try Binary.run(["evidence"] + arguments.dropLast(2), in: directory.path)
        #expect(text.stdout.contains("no SYN-ACK"))
        #expect(text.stdout.contains("explained: rules.v4:5"))
    }

    /// Not a capture, a truncated one, and a capture with no traffic to the web ports: each says
    /// what is wrong with which file, and the others are still read.
    @Test func badCapturesAreNamedAndTheRunGoesOn() throws {
        let directory = try TestTools.temporaryDirectory("originaudit-evidence-bad")
        defer { try? FileManager.default.removeItem(at: directory) }
        let text = directory.appendingPathComponent("notes.pcap")
        try "not a capture\n".write(to: text, atomically: false, encoding: .utf8)
        // A pcap header (Ethernet) and one record that claims more bytes than follow.
        var truncated = Data([0xD4, 0xC3, 0xB2, 0xA1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF, 0, 0, 1, 0, 0, 0])
        truncated += Data([0, 0, 0, 0, 0, 0, 0, 0, 60, 0, 0, 0, 60, 0, 0, 0]) + Data(repeating: 0, count: 10)
        let cut = directory.appendingPathComponent("cut.pcap")
        try truncated.write(to: cut)
        // A valid capture holding one UDP packet: no attempt to any web port.
        var udp = Data([0xD4, 0xC3, 0xB2, 0xA1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF, 0, 0, 101, 0, 0, 0])
        let packet: [UInt8] = [0x45, 0, 0, 28, 0, 0, 0, 0, 64, 17, 0, 0, 192, 0, 2, 10, 10, 98, 0, 1, 0x30, 0x39, 0, 53, 0, 8, 0, 0]
        udp += Data([0, 0, 0, 0, 0, 0, 0, 0, UInt8(packet.count), 0, 0, 0, UInt8(packet.count), 0, 0, 0]) + Data(packet)
        let quiet = directory.appendingPathComponent("quiet.pcap")
        try udp.write(to: quiet)

        let result = try Binary.run(["evidence", text.path, cut.path, quiet.path, "--cdn-ranges", "/dev/null", "--format", "json"])
        // /dev/null holds no ranges: a usage error, before any capture is read.
        #expect(result.status == 2)
        let ranges = directory.appendingPathComponent("ranges.txt")
        try OriginLab.cdnRanges.write(to: ranges, atomically: false, encoding: .utf8)
        let run = try Binary.run(["evidence", text.path, cut.path, quiet.path, "--cdn-ranges", ranges.path, "--format", "json"])
        #expect(run.status == 0, "\(run.stderr)")
        let report = try #require(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
        let captures = try #require(report["captures"] as? [[String: Any]])
        #expect(captures.count == 3)
        let errors = captures.map { $0["error"] as? String ?? "" }
        #expect(errors[0].contains("not a readable pcap or pcapng capture"))
        #expect(errors[1].contains("truncated"))
        #expect(errors[2].isEmpty)
        #expect(captures[2]["packets"] as? Int == 1)
        let notes = report["notes"] as? [String] ?? []
        #expect(notes.contains { $0.contains("no connection attempt (SYN)") })
        let none = try Binary.run(["evidence", text.path, "--cdn-ranges", ranges.path])
        #expect(none.status == 2)
    }
}
