import Foundation
import Testing
import TestSupport

/// An origin and a CDN edge in two network namespaces joined by a veth pair, for showing with
/// real servers and the real kernel what the tool predicts.
///
/// - origin: 10.98.0.1, where the test loads firewall rules and starts nginx or Apache.
/// - edge: sources from 192.0.2.10 (the "CDN", documentation range) by default, and can send
///   from 203.0.113.77 (a visitor going around the CDN).
///
/// Every server started here is a `SessionProcess`; `close()` stops them all and deletes both
/// namespaces, whatever the test's outcome.
final class OriginLab: @unchecked Sendable {
    static let origin = "10.98.0.1"
    static let edgeAddress = "192.0.2.10"
    static let visitorAddress = "203.0.113.77"
    /// The CDN's ranges in these tests, as a `cdnRanges` file: the documentation ranges.
    static let cdnRanges = "# The test's CDN: documentation ranges\n192.0.2.0/24\n198.51.100.0/24\n"

    /// Why the lab cannot run here, or nil when it can.
    static let unavailableReason: String? = {
        Oracle.missing(programs: ["ip", "iptables-restore", "ip6tables-restore", "nginx", "curl", "unshare", "mount"], namespaces: true)
    }()

    let originNamespace: String
    let edgeNamespace: String
    let directory: URL
    private var servers: [SessionProcess] = []
    private let lock = NSLock()

    init() throws {
        let tag = "\(getpid() % 100_000)-\(UInt32.random(in: 0...0xFFFFF))"
        originNamespace = "oa-lab-o-\(tag)"
        edgeNamespace = "oa-lab-e-\(tag)"
        directory = try TestTools.temporaryDirectory("originaudit-lab")
        do { try setUp(tag: tag) } catch { close(); throw error }
    }

    deinit { close() }

    @discardableResult
    func must(_ arguments: [String], stdin: String? = nil, timeout: TimeInterval = 20) throws -> ProcessResult {
        let result = try TestTools.run(arguments[0], Array(arguments.dropFirst()), stdin: stdin, timeout: timeout)
        guard result.status == 0 else { throw LabFailure("\(arguments.joined(separator: " ")) failed (\(result.status)): \(result.stderr)") }
        return result
    }

    private func setUp(tag: String) throws {
        let short = String(tag.replacingOccurrences(of: "-", with: "").suffix(10))
        let originLink = "lo\(short)", edgeLink = "le\(short)"
        try must(["ip", "netns", "add", originNamespace])
        try must(["ip", "netns", "add", edgeNamespace])
        try must(["ip", "link", "add", originLink, "type", "veth", "peer", "name", edgeLink])
        try must(["ip", "link", "set", originLink, "netns", originNamespace])
        try must(["ip", "link", "set", edgeLink, "netns", edgeNamespace])
        let o = ["ip", "netns", "exec", originNamespace], e = ["ip", "netns", "exec", edgeNamespace]
        try must(o + ["ip", "link", "set", "lo", "up"])
        try must(e + ["ip", "link", "set", "lo", "up"])
        try must(o + ["ip", "addr", "add", "\(Self.origin)/24", "dev", originLink])
        try must(o + ["ip", "link", "set", originLink, "up"])
        try must(o + ["ip", "route", "add", "192.0.2.0/24", "dev", originLink])
        try must(o + ["ip", "route", "add", "203.0.113.0/24", "dev", originLink])
        try must(e + ["ip", "addr", "add", "\(Self.edgeAddress)/32", "dev", edgeLink])
        try must(e + ["ip", "addr", "add", "\(Self.visitorAddress)/32", "dev", edgeLink])
        try must(e + ["ip", "link", "set", edgeLink, "up"])
        try must(e + ["ip", "route", "add", "10.98.0.0/24", "dev", edgeLink, "src", Self.edgeAddress])
    }

    /// Loads an iptables-save ruleset (and an IPv6 one) into the origin's namespace.
    func loadFirewall(v4: String, v6: String? = nil) throws {
        try must(["ip", "netns", "exec", originNamespace, "iptables-restore"], stdin: v4)
        if let v6 { try must(["ip", "netns", "exec", originNamespace, "ip6tables-restore"], stdin: v6) }
    }

    /// Starts a real nginx in the origin's namespace on `configuration` (which sets no `pid`,
    /// `error_log` or `daemon`), and waits until it listens on `port`.
    @discardableResult
    func startNginx(configuration: URL, port: UInt16) throws -> SessionProcess {
        let scratch = try scratchDirectory("nginx")
        return try start(["nginx", "-c", configuration.path, "-g", "daemon off; pid \(scratch.path)/nginx.pid; error_log \(scratch.path)/error.log;"],
                  name: "nginx", scratch: scratch, port: port)
    }

    /// Why Apache cannot run in the lab here, or nil when it can.
    static let apacheUnavailableReason: String? = {
        if let reason = unavailableReason { return reason }
        guard TestTools.locate("apache2") != nil else { return "apache2 is not installed" }
        for module in ["mpm_prefork", "authz_core", "authz_host", "alias", "rewrite", "remoteip", "dir"]
        where !FileManager.default.fileExists(atPath: "\(apacheModules)/mod_\(module).so") {
            return "Apache's mod_\(module) is not installed"
        }
        return nil
    }()

    /// Where the tests' Apache configurations load their modules from (by path, no Debian envvars).
    static let apacheModules = "/usr/lib/apache2/modules"

    /// The start of a self-contained apache2.conf: the modules loaded by path, one small
    /// prefork server, the global ServerName www.example.test.
    static func apacheHeader(modules: [String]) -> String {
        modules.map { "LoadModule \($0)_module \(apacheModules)/mod_\($0).so" }.joined(separator: "\n") + """

            StartServers 1
            MinSpareServers 1
            MaxSpareServers 1
            ServerName www.example.test
            """
    }

    /// Starts a real Apache (`apache2 -f configuration -DFOREGROUND`) in the origin's namespace and
    /// waits until it listens on `port`. Like `startNginx`, the runtime files are given on the
    /// command line (`-c`, read after the configuration): pid file, error log, mutexes and runtime
    /// directory in the lab's own folder, and the unprivileged user the children run as.
    @discardableResult
    func startApache(configuration: URL, port: UInt16) throws -> SessionProcess {
        let scratch = try scratchDirectory("apache")
        let settings = ["PidFile \(scratch.path)/httpd.pid", "ErrorLog \(scratch.path)/error.log", "DefaultRuntimeDir \(scratch.path)",
                        "Mutex file:\(scratch.path) default", "User nobody", "Group nogroup"]
        let server = try start(["apache2", "-f", configuration.path, "-DFOREGROUND"] + settings.flatMap { ["-c", $0] },
                               name: "apache2", scratch: scratch, port: port)
        // httpd reads its configuration twice at start and opens the listeners in the first
        // round: a listening port does not mean the configuration is read for good. A test that
        // changes the files next (LiveSaveTests adds a virtual host httpd would refuse) must wait
        // for the second round, which ends with "configured -- resuming normal operations" (each
        // MPM has its own message number: AH00163 prefork, AH00489 event, AH00292 worker).
        let log = scratch.appendingPathComponent("error.log")
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline {
            if ((try? String(contentsOf: log, encoding: .utf8)) ?? "").contains("resuming normal operations") { return server }
            if server.exitStatus() != nil { break }
            usleep(20_000)
        }
        let errors = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
        throw LabFailure("apache2 listened on \(port) but did not finish starting within 10 s: \(errors)")
    }

    /// A new folder of the lab's for one server's runtime files.
    private func scratchDirectory(_ name: String) throws -> URL {
        lock.lock(); let count = servers.count; lock.unlock()
        let scratch = directory.appendingPathComponent("\(name)-\(count)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        return scratch
    }

    /// Starts a program (found on PATH) in the origin's namespace as a session of its own and
    /// waits until something listens on `port` there.
    @discardableResult
    func start(_ command: [String], name: String, scratch: URL, port: UInt16) throws -> SessionProcess {
        let program = try TestTools.which(command[0])
        let server = try SessionProcess(try TestTools.which("ip"), ["netns", "exec", originNamespace, program] + command.dropFirst(),
                                        environment: ["PATH": "/usr/sbin:/usr/bin:/sbin:/bin"],
                                        stdout: scratch.appendingPathComponent("\(name).out"), stderr: scratch.appendingPathComponent("\(name).err"))
        lock.lock(); servers.append(server); lock.unlock()
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline {
            if server.exitStatus() != nil {
                let errors = (try? String(contentsOf: scratch.appendingPathComponent("\(name).err"), encoding: .utf8)) ?? ""
                let log = (try? String(contentsOf: scratch.appendingPathComponent("error.log"), encoding: .utf8)) ?? ""
                throw LabFailure("\(name) exited at start: \(errors)\(log)")
            }
            if listening(port: port, pid: server.pid) { return server }
            usleep(20_000)
        }
        throw LabFailure("\(name) did not listen on \(port) within 10 s")
    }

    /// Whether a socket listens on `port` in the namespace of process `pid` (its /proc/PID/net
    /// view is its own namespace's).
    private func listening(port: UInt16, pid: pid_t) -> Bool {
        let hex = String(format: ":%04X ", port)
        for table in ["tcp", "tcp6"] {
            guard let text = try? String(contentsOfFile: "/proc/\(pid)/net/\(table)", encoding: .utf8) else { continue }
            // st 0A is LISTEN.
            if text.split(separator: "\n").contains(where: { $0.contains(hex) && $0.split(separator: " ").dropFirst(3).first == "0A" }) { return true }
        }
        return false
    }

    /// What the edge gets for one HTTP request to the origin: curl's exit code (0, 7 refused,
    /// 28 timed out), the status and the Location header.
    struct Answer: CustomStringConvertible {
        var curlExit: Int32
        var status: Int
        var location: String
        var body: String
        var description: String { "curl exit \(curlExit), status \(status), location \(location.isEmpty ? "-" : location)" }
    }

    func request(port: UInt16, path: String = "/", host: String = "www.example.test", headers: [String] = [],
                 from source: String = OriginLab.edgeAddress, https: Bool = false, timeout: Int = 3) throws -> Answer {
        var arguments = ["ip", "netns", "exec", edgeNamespace, "curl", "-s", "-o", "-", "--max-time", "\(timeout)",
                         "--interface", source, "-w", "\n%{http_code} %{redirect_url}", "-H", "Host: \(host)"]
        for header in headers { arguments += ["-H", header] }
        if https { arguments += ["-k", "--resolve", "\(host):\(port):\(Self.origin)", "https://\(host):\(port)\(path)"] }
        else { arguments.append("http://\(Self.origin):\(port)\(path)") }
        let result = try TestTools.run(arguments[0], Array(arguments.dropFirst()), timeout: TimeInterval(timeout + 10))
        let lines = result.stdout.split(separator: "\n", omittingEmptySubsequences: false)
        let last = lines.last.map(String.init) ?? ""
        let parts = last.split(separator: " ", maxSplits: 1).map(String.init)
        return Answer(curlExit: result.status, status: Int(parts.first ?? "") ?? 0, location: parts.count > 1 ? parts[1] : "",
                      body: lines.dropLast().joined(separator: "\n"))
    }

    /// Stops every server (whole process groups) and deletes the namespaces and files.
    func close() {
        lock.lock(); let running = servers; servers = []; lock.unlock()
        for server in running { server.stop() }
        _ = try? TestTools.run("ip", ["netns", "delete", originNamespace], timeout: 10)
        _ = try? TestTools.run("ip", ["netns", "delete", edgeNamespace], timeout: 10)
        try? FileManager.default.removeItem(at: directory)
    }
}

struct LabFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// A scan through the binary, as a user runs it: the rule ids of its JSON report.
enum ScanIds {
    static func of(_ arguments: [String], in directory: String) throws -> (ids: Set<String>, findings: [[String: Any]], output: String) {
        let result = try Binary.run(["scan"] + arguments + ["--format", "json", "--fail-on", "never"], in: directory)
        guard result.status == 0, let data = result.stdout.data(using: .utf8),
              let json = try JSONSerialization.jsonObject(with: data) as? [String: Any],
              let findings = json["findings"] as? [[String: Any]] else {
            throw LabFailure("scan failed (\(result.status)): \(result.stderr)\(result.stdout.prefix(500))")
        }
        return (Set(findings.compactMap { $0["ruleId"] as? String }), findings, result.stdout)
    }
}
