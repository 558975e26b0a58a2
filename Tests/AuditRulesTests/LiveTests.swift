import Foundation
import Testing
import OriginAuditCore
@testable import Audit
@testable import WebServer
import TestSupport

/// Live mode reads the kernel's own socket tables; a real listener is the oracle.
@Suite struct LiveTests {
    @Test func procNetTCPShowsARealListener() throws {
        // A listener on an ephemeral port of 127.0.0.1, and a unix socket, held open by python3.
        let directory = try TestTools.temporaryDirectory("live")
        defer { try? FileManager.default.removeItem(at: directory) }
        let socketPath = directory.appendingPathComponent("app.sock").path
        let script = """
        import socket, sys, time
        s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen()
        u = socket.socket(socket.AF_UNIX); u.bind(sys.argv[1]); u.listen()
        s6 = socket.socket(socket.AF_INET6); s6.bind(("::1", 0)); s6.listen()
        print(s.getsockname()[1], s6.getsockname()[1], flush=True)
        time.sleep(30)
        """
        let listener = try SessionProcess(try TestTools.which("python3"), ["-c", script, socketPath], environment: [:],
                                          stdout: directory.appendingPathComponent("ports"), stderr: directory.appendingPathComponent("listener.err"))
        defer { listener.stop() }
        var line = ""
        for _ in 0..<200 where !line.hasSuffix("\n") {
            line = (try? String(contentsOf: directory.appendingPathComponent("ports"), encoding: .utf8)) ?? ""
            usleep(25_000)
        }
        let ports = line.split(separator: " ").compactMap { UInt16($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
        try #require(ports.count == 2, "listener did not start: \(line)")

        let collected = LiveCollector(directory: directory.appendingPathComponent("dumps")).collect()
        let sockets = try #require(collected.sockets)
        #expect(sockets.listens(port: ports[0], address: IPAddress("127.0.0.1")))
        #expect(sockets.tcp.contains { $0.family == .ipv6 && $0.port == ports[1] && $0.address == IPAddress("::1") })
        #expect(!sockets.listens(port: ports[0], address: IPAddress("127.0.0.2")))
        #expect(sockets.unixPaths.contains(socketPath))
    }

    @Test func apacheMainFileFromVersionOutput() {
        let text = " -D HTTPD_ROOT=\"/etc/apache2\"\n -D SERVER_CONFIG_FILE=\"apache2.conf\"\n"
        #expect(LiveCollector.apacheMainFile(fromVersionOutput: text) == "/etc/apache2/apache2.conf")
        #expect(LiveCollector.apacheMainFile(fromVersionOutput: " -D SERVER_CONFIG_FILE=\"/opt/httpd/conf/httpd.conf\"") == "/opt/httpd/conf/httpd.conf")
    }

    @Test func staticModulesFromModuleList() {
        let text = "Loaded Modules:\n core_module (static)\n so_module (static)\n ssl_module (shared)\n"
        #expect(LiveCollector.staticModules(fromModuleList: text) == ["core_module", "so_module"])
        #expect(LiveCollector.staticModules(fromModuleList: "AH00526: Syntax error on line 3") == nil)
    }

    /// `apache2ctl -S` read back, and compared with a model: a host httpd lists that the model
    /// lacks is said.
    @Test func virtualHostsFromDumpAndTheirCrossCheck() {
        let text = """
            VirtualHost configuration:
            *:80                   is a NameVirtualHost
                     default server a.test (/etc/apache2/sites-enabled/a.conf:1)
                     port 80 namevhost a.test (/etc/apache2/sites-enabled/a.conf:1)
                             alias www.a.test
                     port 80 namevhost b.test (/etc/apache2/sites-enabled/b.conf:1)
            *:8443                 c.test (/etc/apache2/sites-enabled/c.conf:1)
            ServerRoot: "/etc/apache2"
            """
        let listed = LiveCollector.virtualHosts(fromDump: text)
        #expect(listed.map { "\($0.port) \($0.name)" } == ["80 a.test", "80 b.test", "8443 c.test"])
        let at = OriginAuditCore.SourceLocation(file: "a.conf", line: 1)
        func host(_ name: String, _ port: UInt16) -> VirtualHost {
            VirtualHost(software: .apache, location: at, names: [ConfigValue(ServerName.exact(name), at: at)],
                        listeners: [Listener(address: .any(nil), port: port, location: at)])
        }
        let model = WebServerModel(servers: [WebServerConfig(software: .apache, mainFile: "apache2.conf",
                                                             virtualHosts: [host("a.test", 80), host("C.test", 8443)])])
        let notes = LiveCollector.missingVirtualHosts(listed, in: model)
        #expect(notes.count == 1 && notes[0].contains("b.test on port 80"), "\(notes)")
    }

    /// The modules Debian compiles into apache2, which the Apache reader assumes when it is not
    /// told (a scan of files), are the ones the real `apache2ctl -M` lists as static.
    @Test(.oracle("apache2ctl -M", unavailable: Oracle.missing(programs: ["apache2ctl"], files: ["/etc/apache2/apache2.conf"])))
    func assumedStaticModulesAreDebiansOwn() throws {
        // A copy of the machine's configuration, without Debian's mod_qos (its build cannot load
        // here: an unresolved pcre symbol), so that httpd can list its modules.
        let directory = try TestTools.temporaryDirectory("apache-modules")
        defer { try? FileManager.default.removeItem(at: directory) }
        try TestTools.run("/bin/cp", ["-a", "/etc/apache2", directory.path], timeout: 20)
        var environment = ProcessInfo.processInfo.environment
        environment["APACHE_CONFDIR"] = directory.appendingPathComponent("apache2").path
        environment["PATH"] = (environment["PATH"] ?? "") + ":/usr/sbin:/sbin"
        _ = try TestTools.run("a2dismod", ["-q", "-f", "qos"], environment: environment, timeout: 30)
        let result = try TestTools.run("apache2ctl", ["-M"], environment: environment, timeout: 30)
        let statics = try #require(LiveCollector.staticModules(fromModuleList: result.stdout), "apache2ctl -M failed: \(result.stderr.prefix(300))")
        #expect(Set(statics) == Set(ApacheConfigReader.builtInModules), "apache2ctl -M: \(statics)")
    }

    @Test func commandsHaveATimeLimitAndNoInput() {
        let slow = CommandRunner.run("/bin/sleep", ["5"], timeout: 0.3)
        #expect(slow.timedOut)
        // A terminal would block `read` until the time limit; /dev/null ends it at once. (Only the
        // marker words are checked: other tests' children can leak stray bytes into any pipe.)
        let reader = CommandRunner.run("/bin/sh", ["-c", "if read line; then echo got-input; else echo no-input; fi"], timeout: 5)
        #expect(!reader.timedOut)
        #expect(reader.stdout.contains("no-input") && !reader.stdout.contains("got-input"), "\(reader.stdout.prefix(200))")
    }
}
