import Foundation
import Testing
import TestSupport

/// A scanned repository is written by whoever opened the pull request: it can read nothing
/// outside the root, leak no key, crash nothing and hang nothing. Each test is an attack.
@Suite struct HostileInputTests {
    /// A fresh scratch area: `repo/` is the scanned tree (the root), `outside/` is the host.
    struct Scratch {
        let base: URL
        var repo: URL { base.appendingPathComponent("repo") }
        var outside: URL { base.appendingPathComponent("outside") }

        init() throws {
            base = try TestTools.temporaryDirectory("hostile")
            try FileManager.default.createDirectory(at: base.appendingPathComponent("repo"), withIntermediateDirectories: true)
            try FileManager.default.createDirectory(at: base.appendingPathComponent("outside"), withIntermediateDirectories: true)
        }

        func write(_ relative: String, _ text: String, in directory: URL? = nil) throws {
            let url = (directory ?? repo).appendingPathComponent(relative)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try text.write(to: url, atomically: true, encoding: .utf8)
        }

        func link(_ relative: String, to target: String) throws {
            let url = repo.appendingPathComponent(relative)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try FileManager.default.createSymbolicLink(atPath: url.path, withDestinationPath: target)
        }

        func remove() { try? FileManager.default.removeItem(at: base) }
    }

    static let firewall = "*filter\n:INPUT ACCEPT [0:0]\nCOMMIT\n"
    /// What a secret looks like: a line no report may ever contain.
    static let secretLine = "root:$6$SECRETHASHTHATMUSTNOTLEAK:19000:0:99999:7:::"

    /// The process ended on its own (no signal) with one of the documented exit codes.
    static func exitedNormally(_ result: ProcessResult) -> Bool { [0, 1, 2].contains(result.status) }

    // MARK: - Confinement: one rule for paths

    /// Typed on the command line: read as given, relative to the current directory, even outside
    /// --root (`--ca-file /etc/ssl/company-ca.pem` was re-rooted into `./etc/ssl/…`).
    @Test func commandLinePathsAreReadAsGiven() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        try scratch.write("rules.v4", Self.firewall)
        try scratch.write("ranges.txt", "198.51.100.0/24\n", in: scratch.outside)
        try TestTools.run("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=company CA", "-days", "30",
                                      "-keyout", scratch.outside.appendingPathComponent("ca.key").path,
                                      "-out", scratch.outside.appendingPathComponent("ca.pem").path])
        let result = try Binary.run(["scan", "rules.v4", "--root", ".", "--format", "json",
                                     "--ca-file", scratch.outside.appendingPathComponent("ca.pem").path,
                                     "--cdn-ranges", "../outside/ranges.txt"], in: scratch.repo.path)
        #expect(Self.exitedNormally(result))
        #expect(!result.stdout.contains("ca.pem"), "the CA file typed on the command line was not read: \(result.stdout)")
        #expect(result.stdout.contains("\"cdn\" : \"custom\"") || result.stdout.contains("\"cdn\": \"custom\""))
    }

    /// Named inside the tree (`.originaudit.yml` included): resolved under the root; the host's
    /// file is never read and never quoted.
    @Test func projectFilePathsStayUnderTheRoot() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let secret = scratch.outside.appendingPathComponent("shadow")
        try scratch.write("shadow", Self.secretLine + "\n", in: scratch.outside)
        try scratch.write("rules.v4", Self.firewall)
        for value in [secret.path, "../outside/shadow", "../../../../../../../" + secret.path] {
            try scratch.write(".originaudit.yml", "cdnRanges: \(value)\n")
            for environment in [["CI": "true"], [:]] {
                let arguments = environment.isEmpty ? ["scan", ".", "--root", "."] : ["scan", "."]
                let result = try Binary.run(arguments, in: scratch.repo.path, environment: environment)
                #expect(!(result.stdout + result.stderr).contains("SECRETHASH"), "\(value): \(result.stderr)")
                #expect(result.status == 2 && result.stderr.contains("does not exist"), "\(value) was read: \(result.stderr)")
            }
        }
        // inputs: and root: too.
        try scratch.write(".originaudit.yml", "root: /\ninputs:\n  iptables: [\(secret.path)]\n")
        let result = try Binary.run(["scan", "."], in: scratch.repo.path, environment: ["CI": "true"])
        #expect(!(result.stdout + result.stderr).contains("SECRETHASH"))
        #expect(result.stdout.contains("does not exist"), "\(result.stdout)")
    }

    /// A file that is not a list of ranges is not quoted, even when the user typed it.
    @Test func rangesFileContentIsNotQuoted() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        try scratch.write("shadow", Self.secretLine + "\n", in: scratch.outside)
        try scratch.write("rules.v4", Self.firewall)
        let result = try Binary.run(["scan", "rules.v4", "--cdn-ranges", "../outside/shadow"], in: scratch.repo.path)
        #expect(result.status == 2)
        #expect(result.stderr.contains("shadow:1"))
        #expect(!result.stderr.contains("SECRETHASH"), "\(result.stderr)")
    }

    /// Debian's `sites-enabled/default -> /etc/nginx/sites-available/default`, copied into a
    /// root: the absolute target is a path on the audited host, so it is read under the root.
    @Test func absoluteSymlinkResolvesUnderTheRoot() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        try scratch.write("etc/nginx/nginx.conf", "events {}\nhttp {\n    include /etc/nginx/sites-enabled/*;\n}\n")
        try scratch.write("etc/nginx/sites-available/default", "server {\n    listen 8081;\n    server_name linked.example;\n}\n")
        try scratch.link("etc/nginx/sites-enabled/default", to: "/etc/nginx/sites-available/default")
        // The host's own /etc/nginx/sites-available/default (Debian's, where nginx is installed) is not what is read.
        let result = try Binary.run(["scan", "repo", "--root", "repo", "--format", "json"], in: scratch.base.path)
        #expect(Self.exitedNormally(result))
        #expect(!result.stdout.contains("outside --root"), "\(result.stdout)")
        #expect(result.stdout.contains("linked.example"), "the linked site was not audited: \(result.stdout)")
    }

    /// A link that climbs out of the root with `..` stops at the root, as `..` stops at `/`; a
    /// link to a host file that is not in the root is said with its target; a loop is a loop.
    @Test func linksNeverLeaveTheRootAndAreExplained() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        try scratch.write("shadow", Self.secretLine + "\n", in: scratch.outside)
        try scratch.write("etc/nginx/nginx.conf", """
            events {}
            http {
                server {
                    listen 443 ssl;
                    server_name a.example;
                    ssl_certificate /etc/ssl/linked.pem;
                    ssl_certificate_key /etc/ssl/loop.key;
                }
            }

            """)
        try scratch.link("etc/ssl/linked.pem", to: "/etc/letsencrypt/live/a.example/fullchain.pem")
        try scratch.link("etc/ssl/loop.key", to: "loop2.key")
        try scratch.link("etc/ssl/loop2.key", to: "loop.key")
        try scratch.link("etc/ssl/climb.pem", to: "../../../../../../../../" + scratch.outside.appendingPathComponent("shadow").path)
        let result = try Binary.run(["scan", ".", "--root", ".", "--format", "json", "--cert", "etc/ssl/climb.pem"], in: scratch.repo.path)
        #expect(Self.exitedNormally(result))
        #expect(!result.stdout.contains("SECRETHASH"))
        #expect(result.stdout.contains("symbolic link to /etc/letsencrypt/live/a.example/fullchain.pem"), "\(result.stdout)")
        #expect(result.stdout.contains("symbolic link loop"), "\(result.stdout)")
        // The fix names the file involved, not a placeholder.
        #expect(!result.stdout.contains("/etc/ssl/example/") && result.stdout.contains("ls -l \(scratch.repo.path)/etc/ssl/linked.pem"),
                "\(result.stdout)")
    }

    /// The path rule and every limit are stated where users look: `scan --help` and the README.
    @Test func helpAndReadmeStateThePathRuleAndTheLimits() throws {
        let words = { (text: String) in text.split(whereSeparator: \.isWhitespace).joined(separator: " ") }
        let help = words(try Binary.run(["scan", "--help"], in: FileManager.default.temporaryDirectory.path).stdout)
        let readme = words(try String(contentsOf: TestTools.packageRoot.appendingPathComponent("README.md"), encoding: .utf8))
        for sentence in ["is read as given, relative to the current directory", "resolves under --root", "never leaves it"] {
            #expect(help.contains(sentence), "scan --help should say: \(sentence)")
        }
        for limit in ["64 MiB", "FIFOs", "64 levels", "1 MiB per line", "Use up to 1 MiB", "8,192 bytes", "128 levels", "100 findings"] {
            #expect(help.contains(limit), "scan --help should state the limit \(limit)")
        }
        for statement in ["read as given, relative to the current directory", "resolved under `--root` and never leaving it",
                          "files up to 64 MiB", "FIFOs, sockets and devices are never opened", "nests at most 64 levels",
                          "stops at 1 MiB per line", "`Use` of mod_macro stops at 1 MiB", "8,191 bytes or more is refused",
                          "includes nest 128 levels in Apache", "at most 100 findings per file"] {
            #expect(readme.contains(statement), "README should say: \(statement)")
        }
    }

    /// A configuration typed on the command line, outside --root: the certificate it names beside
    /// it is outside the root and not read — said so (input.unreadable, a warning predicting no
    /// outage), not "does not exist" (tls.cert-missing, an error predicting 521); a link that
    /// leads elsewhere is named with its real target.
    @Test func aCertificateOutsideTheRootIsSaidToBeOutside() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        try scratch.write("nginx.conf", "events {}\nhttp { server { listen 443 ssl; server_name o.example; ssl_certificate certs/x.pem; ssl_certificate_key certs/x.key; } }\n",
                          in: scratch.outside)
        try scratch.write("real/x.pem", "not read\n", in: scratch.outside)
        try FileManager.default.createDirectory(at: scratch.outside.appendingPathComponent("certs"), withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: scratch.outside.appendingPathComponent("certs/x.pem").path,
                                                   withDestinationPath: "../real/x.pem")
        let result = try Binary.run(["scan", "--nginx", "../outside/nginx.conf", "--root", ".", "--format", "json"], in: scratch.repo.path)
        #expect(Self.exitedNormally(result))
        let findings = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])["findings"] as? [[String: Any]]
        let about = { (name: String) in (findings ?? []).filter { ($0["message"] as? String)?.contains(name) == true } }
        #expect(!about("x.pem").isEmpty && !about("x.key").isEmpty, "\(result.stdout)")
        for finding in about("x.pem") + about("x.key") {
            #expect(finding["ruleId"] as? String == "input.unreadable", "\(finding)")
            #expect(finding["severity"] as? String == "warning", "\(finding)")
            #expect(finding["predicts"] as? String == nil, "\(finding)")
            #expect((finding["message"] as? String)?.contains("outside --root and was not read") == true, "\(finding)")
        }
        let real = URL(fileURLWithPath: scratch.outside.appendingPathComponent("real/x.pem").path).resolvingSymlinksInPath().path
        #expect(about("x.pem").contains { ($0["message"] as? String)?.contains("symbolic link to \(real)") == true }, "\(result.stdout)")
        #expect(!result.stdout.contains("does not exist") && !result.stdout.contains("tls.cert-missing"), "\(result.stdout)")
    }

    /// `ssl_certificate /dev/urandom` gave a finding with no line: it is reported at the directive.
    @Test func aDeviceNamedAsACertificateIsReportedAtItsDirective() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        try scratch.write("nginx.conf", "events {}\nhttp {\n    server {\n        listen 443 ssl;\n        ssl_certificate /dev/urandom;\n        ssl_certificate_key /dev/zero;\n    }\n}\n")
        let result = try Binary.run(["scan", "--nginx", "nginx.conf", "--format", "json"], in: scratch.repo.path)
        #expect(Self.exitedNormally(result))
        let object = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]
        let unreadable = (object?["findings"] as? [[String: Any]] ?? []).filter { ($0["message"] as? String ?? "").contains("/dev/urandom") }
        #expect(!unreadable.isEmpty, "\(result.stdout)")
        for finding in unreadable {
            let location = finding["location"] as? [String: Any]
            #expect(location?["file"] as? String == "nginx.conf" && location?["line"] as? Int == 5, "\(finding)")
        }
    }

    /// The walker does not follow directory links (one nginx.conf reached three ways was audited
    /// three times), and files read through includes are not "not recognised, skipped".
    @Test func walkerReadsEachFileOnceAndCountsIncludesAsUsed() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        try scratch.write("etc/nginx/nginx.conf", "events {}\nhttp {\n    include mime.types;\n    server {\n        listen 8081;\n        server_name w.example;\n    }\n}\n")
        try scratch.write("etc/nginx/mime.types", "types {\n    text/html html;\n}\n")
        try scratch.link("etc/nginx-again", to: "nginx")
        try scratch.link("etc/nginx/self", to: ".")
        let result = try Binary.run(["scan", ".", "--root", ".", "--format", "json"], in: scratch.repo.path)
        #expect(Self.exitedNormally(result))
        let unproxied = result.stdout.components(separatedBy: "\"origin.unproxied-port\"").count - 1
        #expect(unproxied == 1, "\(result.stdout)")
        #expect(!result.stdout.contains("not recognised as an input format"), "\(result.stdout)")
    }

    // MARK: - Secrets never appear in output

    /// A private key given as any other format is one finding that quotes none of it, in every
    /// output format; a key pasted into a directive is not echoed either.
    @Test func keyMaterialNeverReachesAReport() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let key = scratch.repo.appendingPathComponent("key.pem")
        try TestTools.run("openssl", ["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", key.path])
        let keyText = try String(contentsOf: key, encoding: .utf8)
        let bodyLines = keyText.split(separator: "\n").filter { !$0.hasPrefix("-----") }.map(String.init)
        #expect(bodyLines.count > 10)
        let pasted = keyText.split(separator: "\n").prefix(3).joined(separator: " ")
        try scratch.write("site/nginx.conf", "events {}\nhttp {\n    server {\n        listen 443 ssl;\n        ssl_certificate \"\(pasted)\";\n        ssl_certificate_key \"\(pasted)\";\n    }\n}\n")
        try scratch.write(".originaudit.yml", "cdnRanges: key.pem\n")
        try scratch.write("none.yml", "# no settings\n")
        var runs: [[String]] = []
        for flag in ["--iptables", "--ip6tables", "--nft", "--ipset", "--nginx", "--apache"] {
            for format in ["text", "json", "sarif", "github", "html"] { runs.append(["scan", flag, "key.pem", "--format", format, "--config", "none.yml"]) }
        }
        for format in ["text", "json", "sarif", "github", "html"] { runs.append(["scan", "site", "--root", ".", "--format", format, "--config", "none.yml"]) }
        runs.append(["scan", "site", "--cdn-ranges", "key.pem", "--config", "none.yml"])
        runs.append(["scan", ".", "--root", "."])
        for arguments in runs {
            let result = try Binary.run(arguments, in: scratch.repo.path)
            #expect(Self.exitedNormally(result), "\(arguments)")
            let output = result.stdout + result.stderr
            let leaked = bodyLines.filter { output.contains($0) || output.contains(String($0.prefix(24))) }
            #expect(leaked.isEmpty, "\(arguments) printed \(leaked.count) lines of the key")
            if arguments[1].hasPrefix("--") {
                #expect(output.contains("holds a private key"), "\(arguments): \(output.prefix(600))")
            }
        }
    }

    // MARK: - No crash, no hang, bounded output

    /// Nesting thousands deep overflowed the YAML library's stack (SIGSEGV, no output).
    @Test func deeplyNestedYAMLIsRefusedNotCrashedOn() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        try scratch.write("rules.v4", Self.firewall)
        try scratch.write("none.yml", "# no settings\n")
        let deep = String(repeating: "[", count: 5000) + String(repeating: "]", count: 5000) + "\n"
        let dashes = (0..<3000).map { String(repeating: " ", count: $0) + "- " }.joined(separator: "\n") + "x\n"
        for document in [deep, "inputs: " + deep, String(repeating: "- ", count: 5000) + "x\n", dashes] {
            try scratch.write(".originaudit.yml", document)
            let result = try Binary.run(["scan", "."], in: scratch.repo.path)
            #expect(Self.exitedNormally(result), "status \(result.status)")
            #expect(result.stdout.contains("nests deeper than"), "\(result.stdout.prefix(400))")
            try scratch.write("rules/deep.yml", document)
            let rules = try Binary.run(["scan", "rules.v4", "--rules", "rules", "--config", "none.yml"], in: scratch.repo.path)
            #expect(rules.status == 2 && rules.stderr.contains("nests deeper than"), "status \(rules.status): \(rules.stderr)")
        }
    }

    /// `mkfifo p.conf; originaudit scan --nginx p.conf` blocked forever in open(2).
    @Test func fifosNamedAnywhereNeverBlock() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let fifo = scratch.repo.appendingPathComponent("p.conf").path
        #expect(mkfifo(fifo, 0o600) == 0)
        for flag in ["--nginx", "--nft", "--iptables", "--apache", "--cert", "--ca-file", "--cdn-ranges", "--config"] {
            var arguments = ["scan", flag, "p.conf"]
            if ["--ca-file", "--cdn-ranges", "--config"].contains(flag) { arguments += ["--nginx", "p.conf"] }
            let started = Date()
            let result = try Binary.run(arguments, in: scratch.repo.path)
            #expect(Date().timeIntervalSince(started) < 60, "\(flag) blocked")
            #expect(Self.exitedNormally(result), "\(flag): status \(result.status)")
        }
    }

    /// A million garbage lines gave 921,610 findings and 808 MB of JSON: the first 100 per file
    /// and kind, then one finding that counts the rest.
    @Test func findingsAreCappedPerFileAndKind() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let garbage = (0..<5000).map { "garbage line \($0)" }.joined(separator: "\n")
        try scratch.write("rules.v4", "*filter\n:INPUT ACCEPT [0:0]\n\(garbage)\nCOMMIT\n")
        let result = try Binary.run(["scan", "--iptables", "rules.v4", "--format", "json"], in: scratch.repo.path)
        #expect(Self.exitedNormally(result))
        let parseErrors = result.stdout.components(separatedBy: "\"input.parse-error\"").count - 1
        #expect(parseErrors == 101, "\(parseErrors) parse errors reported")
        #expect(result.stdout.contains("4900 more input.parse-error findings in rules.v4 are not shown"))
    }

    // MARK: - Terminal safety

    /// Text from configurations and certificate subjects reached the terminal raw: a title
    /// sequence, colours, a right-to-left override.
    @Test func controlSequencesFromInputsAreEscapedInText() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let hostile = "evil\u{1B}]0;TITLE\u{07}\u{1B}[31mred\u{202E}txt.example"
        try scratch.write("etc/nginx/nginx.conf", "events {}\nhttp {\n    server {\n        listen 8081;\n        server_name \"\(hostile)\";\n    }\n}\n")
        let scan = try Binary.run(["scan", ".", "--root", ".", "--color", "never"], in: scratch.repo.path)
        #expect(Self.exitedNormally(scan))
        #expect(scan.stdout.contains("evil\\e]0;TITLE\\x07\\e[31mred\\u{202E}txt.example"), "\(scan.stdout)")
        #expect(!scan.stdout.contains("\u{1B}") && !scan.stdout.contains("\u{202E}") && !scan.stdout.contains("\u{07}"))

        let key = scratch.repo.appendingPathComponent("k.pem").path, cert = scratch.repo.appendingPathComponent("c.pem").path
        try TestTools.run("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-utf8", "-days", "3",
                                      "-subj", "/CN=gpj.\u{202E}exe.example/O=\u{1B}]0;TITLE\u{07}", "-keyout", key, "-out", cert])
        let output = try Binary.run(["cert", "c.pem"], in: scratch.repo.path)
        #expect(output.stdout.contains("exe.example"), "\(output.stdout)")
        #expect(!output.stdout.contains("\u{1B}") && !output.stdout.contains("\u{202E}") && !output.stdout.contains("\u{07}"), "\(output.stdout)")
    }

    // MARK: - probe on slow or hostile servers

    /// A loopback server that answers each connection with `chunks`, pausing between them.
    final class ScriptedServer {
        let process: SessionProcess
        let port: Int
        let directory: URL

        init(_ chunks: [String], pause: Double) throws {
            directory = try TestTools.temporaryDirectory("probe-server")
            let script = """
            import json, socket, sys, time
            s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("127.0.0.1", 0)); s.listen(8)
            open(sys.argv[1], "w").write(str(s.getsockname()[1]))
            chunks = [c.encode("utf-8") for c in json.load(open(sys.argv[2]))]
            while True:
                c, _ = s.accept()
                c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                c.recv(4096)
                for chunk in chunks:
                    c.sendall(chunk); time.sleep(\(pause))
                c.close()
            """
            try script.write(to: directory.appendingPathComponent("server.py"), atomically: true, encoding: .utf8)
            let portFile = directory.appendingPathComponent("port")
            let chunkFile = directory.appendingPathComponent("chunks.json")
            try JSONSerialization.data(withJSONObject: chunks).write(to: chunkFile)
            process = try SessionProcess("/usr/bin/python3", [directory.appendingPathComponent("server.py").path, portFile.path, chunkFile.path],
                                         environment: [:], stdout: directory.appendingPathComponent("out"), stderr: directory.appendingPathComponent("err"))
            var found = 0
            for _ in 0..<200 {
                if let text = try? String(contentsOf: portFile, encoding: .utf8), let number = Int(text) { found = number; break }
                usleep(25_000)
            }
            port = found
        }

        func stop() {
            process.stop()
            try? FileManager.default.removeItem(at: directory)
        }
    }

    /// `HTTP/1.1 ` then `200 OK` 50 ms later was "520: the answer is not HTTP"; `probe
    /// 127.0.0.1:PORT` read the port as part of the name; the status line is escaped.
    @Test func probeReadsASplitStatusLineAndAcceptsHostPort() throws {
        let split = try ScriptedServer(["HTTP/1.1 ", "200 OK\r\nContent-Length: 0\r\n\r\n"], pause: 0.05)
        defer { split.stop() }
        #expect(split.port > 0)
        let result = try Binary.run(["probe", "127.0.0.1:\(split.port)", "--tls-mode", "flexible", "--format", "json"])
        #expect(result.status == 0, "\(result.stdout) \(result.stderr)")
        #expect(result.stdout.contains("\"predicts\" : \"200\"") || result.stdout.contains("\"predicts\": \"200\""), "\(result.stdout)")
        #expect(try Binary.run(["probe", "127.0.0.1:\(split.port)", "--port", "1", "--tls-mode", "flexible"]).status == 2)
        #expect(try Binary.run(["probe", "127.0.0.1:notaport", "--tls-mode", "flexible"]).status == 2)

        let hostile = try ScriptedServer(["HTTP/1.1 200 \u{1B}]0;TITLE\u{07}\u{202E}KO\r\n\r\n"], pause: 0)
        defer { hostile.stop() }
        let text = try Binary.run(["probe", "127.0.0.1:\(hostile.port)", "--tls-mode", "flexible"])
        #expect(text.stdout.contains("\\e]0;TITLE\\x07\\u{202E}KO"), "\(text.stdout)")
        #expect(!text.stdout.contains("\u{1B}") && !text.stdout.contains("\u{202E}"))
    }

    // MARK: - Keep finding them

    /// The CI smoke of Scripts/fuzz: every parser's target, 2,000 inputs each from the fixtures;
    /// a crash kills the fuzzer (a signal, not exit 0), an input that uses more than 10 s of
    /// processor time or 1 GiB exits 1, one that never returns exits 3. The seed and the number
    /// of inputs are fixed, so a run repeats whatever the machine's load (exploring other seeds is
    /// Scripts/fuzz's job); 20 s per target caps a very loaded run, and the fuzzer's own timers
    /// (30 s of processor time, 120 s blocked) end it well before this test's limit, so it
    /// reports rather than being killed. On a failure the work directory (the input) is kept.
    @Test func fuzzSmoke() throws {
        let fuzzer = URL(fileURLWithPath: Binary.path).deletingLastPathComponent().appendingPathComponent("Fuzz").path
        try #require(FileManager.default.isExecutableFile(atPath: fuzzer), "Fuzz is built by swift build --build-tests")
        let work = try TestTools.temporaryDirectory("fuzz-smoke")
        let result = try TestTools.run(fuzzer, ["all", "20", "--executions", "2000", "--seed", "20261204",
                                                "--work", work.path, "--repository", TestTools.packageRoot.path], timeout: 600)
        #expect(result.status == 0, "\(result.stdout)\(result.stderr) (inputs kept in \(work.path))")
        if result.status == 0 { try? FileManager.default.removeItem(at: work) }
        for target in ["iptables", "ip6tables", "ipset", "nft-text", "nft-json", "nginx", "apache", "pem", "yaml"] {
            #expect(result.stdout.contains("\(target): ") && result.stdout.contains("no crash, no hang"), "\(target): \(result.stdout)")
        }
        print(result.stdout)
    }
}
