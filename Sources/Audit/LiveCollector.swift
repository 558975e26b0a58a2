import Foundation
import OriginAuditCore
import AuditRules
import WebServer

/// Live mode: collects, read-only, what this machine runs — firewall dumps, web-server
/// configuration, listening sockets — so the normal pipeline can audit it. Every command is a
/// read-only dump (`iptables-save`, `nft -j list ruleset`, `nginx -T`, …) run without a shell,
/// with no standard input and a time limit; a missing command is skipped with a note.
/// Nothing is changed on the machine.
public struct LiveCollector: Sendable {
    /// Where the dumps are written for the pipeline to read.
    public let directory: URL
    public var timeout: TimeInterval = 20

    public init(directory: URL) { self.directory = directory }

    /// What was collected: inputs for the scan request, notes on what was skipped, the sockets.
    public struct Collected: Sendable {
        public var explicit: [(kind: InputKind, path: String, familyHint: AddressFamily?)] = []
        public var notes: [String] = []
        /// What could not be collected: a missing program (input.unresolved, info) or one that
        /// failed, usually for want of privileges (input.unreadable, warning).
        public var findings: [Finding] = []
        public var sockets: HostSockets?
        /// The modules compiled into the running httpd, from `apache2ctl -M`.
        public var apacheStaticModules: [String]?
        /// The name-based virtual hosts httpd itself sees, from `apache2ctl -S`: a check on the
        /// audit's own reading.
        public var apacheVirtualHosts: [(port: UInt16, name: String)]?
        /// The interfaces of the IPv4 and IPv6 default routes (`/proc/net/route`, `/proc/net/ipv6_route`).
        public var defaultRouteInterfaces: [String] = []
        /// The host's own addresses (`/proc/net/fib_trie`'s local IPv4 hosts, `/proc/net/if_inet6`'s
        /// global IPv6 ones), on the default routes' interfaces when IPv6 says which; not loopback.
        public var hostAddresses: [IPAddress] = []
    }

    /// A read-only dump command and where its output goes.
    struct Dump: Sendable {
        var program: String
        var arguments: [String]
        var file: String
        var kind: InputKind
        var family: AddressFamily?
        /// What the dump shows, for messages.
        var what: String
        /// Output that means "nothing configured" rather than a ruleset.
        var isEmpty: @Sendable (String) -> Bool = { $0.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty }
        /// The program writes files as a side effect (nginx -T: its pid file): run isolated.
        var writesFiles = false
    }

    static let dumps: [Dump] = [
        // An empty iptables-save is a statement, not a gap: no table is loaded, nothing filters.
        Dump(program: "iptables-save", arguments: [], file: "iptables.v4", kind: .iptablesSave, family: .ipv4,
             what: "the IPv4 iptables ruleset", isEmpty: { _ in false }),
        Dump(program: "ip6tables-save", arguments: [], file: "iptables.v6", kind: .iptablesSave, family: .ipv6,
             what: "the IPv6 iptables ruleset", isEmpty: { _ in false }),
        Dump(program: "ipset", arguments: ["save"], file: "ipset.save", kind: .ipset, what: "the ipsets"),
        Dump(program: "nft", arguments: ["-j", "list", "ruleset"], file: "ruleset.json", kind: .nftJSON, what: "the nftables ruleset",
             isEmpty: { text in
                 // An empty ruleset still prints the metainfo object.
                 !text.contains("\"table\"")
             }),
        Dump(program: "nginx", arguments: ["-T"], file: "nginx-T.conf", kind: .nginxDump, what: "nginx's configuration", writesFiles: true),
    ]

    /// A web server's own tool, run where what it writes cannot reach the machine; when that
    /// cannot be arranged, the notes say the run may have left files behind.
    private func isolated(_ program: String, _ arguments: [String], into collected: inout Collected) -> CommandRunner.Result {
        let (result, isolated) = CommandRunner.runIsolated(program, arguments, timeout: timeout)
        let command = ([(program as NSString).lastPathComponent] + arguments).joined(separator: " ")
        if !isolated {
            collected.notes.append("live: \(command) ran without a private mount namespace (that needs root and unshare): like the server itself, it may have created its pid file or run directory")
        }
        return result
    }

    public func collect() -> Collected {
        var collected = Collected()
        try? FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        for dump in Self.dumps {
            let command = ([dump.program] + dump.arguments).joined(separator: " ")
            guard let program = CommandRunner.locate(dump.program) else {
                collected.findings.append(Finding(
                    ruleId: InputDiagnostics.unresolved,
                    message: "live: \(dump.program) is not installed here, so \(dump.what) was not collected (if the machine has none, this is expected)",
                    location: SourceLocation(file: "live: \(dump.program)"), key: "live \(dump.program) missing"))
                continue
            }
            let result = dump.writesFiles ? isolated(program, dump.arguments, into: &collected) : CommandRunner.run(program, dump.arguments, timeout: timeout)
            guard result.status == 0 else {
                let reason = result.timedOut ? "timed out after \(Int(timeout)) s" : "failed (exit \(result.status)): \(result.stderr.split(separator: "\n").first ?? "")"
                let privilege = result.stderr.contains("Permission denied") || result.stderr.contains("Operation not permitted") ? " — run as root to read it" : ""
                collected.findings.append(Finding(
                    ruleId: InputDiagnostics.unreadable,
                    message: "live: \(command) \(reason)\(privilege); \(dump.what) is not audited",
                    location: SourceLocation(file: "live: \(dump.program)"), key: "live \(dump.program) failed"))
                continue
            }
            if dump.isEmpty(result.stdout) {
                collected.notes.append("live: \(command) printed no ruleset or configuration")
                continue
            }
            let file = directory.appendingPathComponent(dump.file)
            do {
                try result.stdout.write(to: file, atomically: true, encoding: .utf8)
                collected.explicit.append((dump.kind, file.path, dump.family))
            } catch {
                collected.notes.append("live: could not keep the output of \(dump.program): \(error.localizedDescription)")
            }
        }
        // Apache: its main configuration file, found the way apache2ctl reports it.
        let apachectl = CommandRunner.locate("apache2ctl") ?? CommandRunner.locate("apachectl")
        if apachectl == nil {
            collected.findings.append(Finding(
                ruleId: InputDiagnostics.unresolved,
                message: "live: apache2ctl (apachectl) is not installed here, so Apache's configuration was not collected (if the machine runs no Apache, this is expected)",
                location: SourceLocation(file: "live: apache2ctl"), key: "live apache2ctl missing"))
        }
        if let apachectl {
            let result = isolated(apachectl, ["-V"], into: &collected)
            if let main = Self.apacheMainFile(fromVersionOutput: result.stdout), FileManager.default.fileExists(atPath: main) {
                collected.explicit.append((.apacheMain, main, nil))
                // Which modules are compiled in decides <IfModule> for them; -M lists them.
                let modules = isolated(apachectl, ["-M"], into: &collected)
                if modules.status == 0, let statics = Self.staticModules(fromModuleList: modules.stdout) {
                    collected.apacheStaticModules = statics
                } else {
                    collected.notes.append("live: \(apachectl) -M failed (exit \(modules.status)): \(modules.stderr.split(separator: "\n").first ?? ""); Debian's compiled-in modules are assumed")
                }
                let hosts = isolated(apachectl, ["-S"], into: &collected)
                if hosts.status == 0 {
                    collected.apacheVirtualHosts = Self.virtualHosts(fromDump: hosts.stdout)
                } else {
                    collected.notes.append("live: \(apachectl) -S failed (exit \(hosts.status)); the audit's reading of the virtual hosts is not checked against httpd's")
                }
            } else {
                collected.notes.append("live: \(apachectl) -V did not name a readable main configuration; Apache skipped")
            }
        }
        var sockets = HostSockets()
        var readAny = false
        for (path, family) in [("/proc/net/tcp", AddressFamily.ipv4), ("/proc/net/tcp6", .ipv6)] {
            if let text = try? String(contentsOfFile: path, encoding: .utf8) {
                sockets.tcp += HostSockets.parseProcTCP(text, family: family)
                readAny = true
            }
        }
        if let text = try? String(contentsOfFile: "/proc/net/unix", encoding: .utf8) {
            sockets.unixPaths = HostSockets.parseProcUnix(text)
            readAny = true
        }
        if readAny { collected.sockets = sockets } else { collected.notes.append("live: /proc/net is not readable; listening ports unknown") }
        collected.defaultRouteInterfaces = Self.defaultRouteInterfaces(
            ipv4: try? String(contentsOfFile: "/proc/net/route", encoding: .utf8),
            ipv6: try? String(contentsOfFile: "/proc/net/ipv6_route", encoding: .utf8))
        collected.hostAddresses = Self.hostAddresses(
            fibTrie: try? String(contentsOfFile: "/proc/net/fib_trie", encoding: .utf8),
            ifInet6: try? String(contentsOfFile: "/proc/net/if_inet6", encoding: .utf8),
            interfaces: collected.defaultRouteInterfaces)
        return collected
    }

    /// The interfaces of the default routes: `/proc/net/route` lines with destination and mask
    /// 00000000, `/proc/net/ipv6_route` lines with a ::/0 destination (not `lo`, which carries the
    /// kernel's unreachable default). In the order met, without repeats.
    static func defaultRouteInterfaces(ipv4: String?, ipv6: String?) -> [String] {
        var names: [String] = []
        func add(_ name: Substring) {
            let text = String(name)
            if text != "lo", !names.contains(text) { names.append(text) }
        }
        for line in (ipv4 ?? "").split(separator: "\n").dropFirst() {
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            // Iface Destination Gateway Flags RefCnt Use Metric Mask …; flag 0x1 = RTF_UP.
            guard fields.count >= 8, fields[1] == "00000000", fields[7] == "00000000",
                  let flags = UInt32(fields[3], radix: 16), flags & 1 != 0 else { continue }
            add(fields[0])
        }
        for line in (ipv6 ?? "").split(separator: "\n") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            // dst dst_len src src_len next_hop metric refcnt use flags iface; flag 0x200 = RTF_REJECT.
            guard fields.count >= 10, fields[0] == String(repeating: "0", count: 32), fields[1] == "00",
                  let flags = UInt32(fields[8], radix: 16), flags & 0x1 != 0, flags & 0x200 == 0 else { continue }
            add(fields[9])
        }
        return names
    }

    /// The host's own unicast addresses: `/proc/net/fib_trie`'s `/32 host LOCAL` leaves (the line
    /// before names the address), and `/proc/net/if_inet6`'s global-scope addresses (on
    /// `interfaces` when given). Loopback, link-local and multicast addresses are left out.
    static func hostAddresses(fibTrie: String?, ifInet6: String?, interfaces: [String]) -> [IPAddress] {
        var addresses: [IPAddress] = []
        func add(_ address: IPAddress) {
            let text = address.description
            let local = address.family == .ipv4 ? text.hasPrefix("127.") || text.hasPrefix("169.254.") : text == "::1" || text.hasPrefix("fe80:") || text.hasPrefix("ff")
            if !local, !addresses.contains(address) { addresses.append(address) }
        }
        var previous: Substring = ""
        for line in (fibTrie ?? "").split(separator: "\n") {
            let trimmed = line.drop { $0 == " " || $0 == "|" || $0 == "-" || $0 == "+" }
            if trimmed.hasPrefix("/32 host LOCAL"), let address = IPAddress(previous) { add(address) }
            previous = trimmed.split(separator: " ").first ?? ""
        }
        for line in (ifInet6 ?? "").split(separator: "\n") {
            // address ifindex prefixlen scope flags name; scope 00 = global.
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard fields.count >= 6, fields[0].count == 32, fields[3] == "00",
                  interfaces.isEmpty || interfaces.contains(String(fields[5])) else { continue }
            let hex = Array(fields[0])
            let groups = stride(from: 0, to: 32, by: 4).map { String(hex[$0..<$0 + 4]) }
            if let address = IPAddress(groups.joined(separator: ":")) { add(address) }
        }
        return addresses
    }

    /// The `(static)` modules of `apache2ctl -M` (" core_module (static)"); nil when the output
    /// lists no module at all.
    static func staticModules(fromModuleList text: String) -> [String]? {
        var listed = 0
        var statics: [String] = []
        for line in text.split(separator: "\n") {
            let words = line.split(separator: " ")
            guard words.count == 2, words[0].hasSuffix("_module") else { continue }
            listed += 1
            if words[1] == "(static)" { statics.append(String(words[0])) }
        }
        return listed == 0 ? nil : statics
    }

    /// The virtual hosts of `apache2ctl -S`: `port 80 namevhost www.example.test (file:line)`
    /// lines, and `*:8080   c.test (file:line)` for a port with one virtual host.
    static func virtualHosts(fromDump text: String) -> [(port: UInt16, name: String)] {
        var hosts: [(port: UInt16, name: String)] = []
        for line in text.split(separator: "\n") {
            let words = line.split(separator: " ", omittingEmptySubsequences: true)
            guard words.count >= 3, words.last?.hasPrefix("(") == true || words.last?.hasSuffix(")") == true else { continue }
            if words.count == 5, words[0] == "port", words[2] == "namevhost", let port = UInt16(words[1]) {
                hosts.append((port, String(words[3])))
            } else if words.count == 3, let colon = words[0].lastIndex(of: ":"), let port = UInt16(words[0][words[0].index(after: colon)...]),
                      words[2].hasPrefix("(") {
                hosts.append((port, String(words[1])))
            }
        }
        return hosts
    }

    /// httpd's own list of virtual hosts (`apache2ctl -S`) against the audit's reading of the same
    /// files: a note for each one the audit did not find.
    public static func missingVirtualHosts(_ listed: [(port: UInt16, name: String)], in model: WebServerModel) -> [String] {
        var read = Set<String>()
        for server in model.servers where server.software == .apache {
            for host in server.virtualHosts {
                for listener in host.listeners {
                    for name in host.names { if case .exact(let exact) = name.value { read.insert("\(listener.port ?? 0) \(exact.lowercased())") } }
                }
            }
        }
        return listed.filter { !read.contains("\($0.port) \($0.name.lowercased())") }.map {
            "live: apache2ctl -S lists \($0.name) on port \($0.port), which the audit did not find in the configuration it read: findings about it may be missing"
        }
    }

    /// `HTTPD_ROOT` + `SERVER_CONFIG_FILE` from `apache2ctl -V`.
    static func apacheMainFile(fromVersionOutput text: String) -> String? {
        func define(_ name: String) -> String? {
            guard let line = text.split(separator: "\n").first(where: { $0.contains("-D \(name)=") }),
                  let start = line.firstIndex(of: "\""), let end = line.lastIndex(of: "\""), start < end else { return nil }
            return String(line[line.index(after: start)..<end])
        }
        guard let file = define("SERVER_CONFIG_FILE") else { return nil }
        if file.hasPrefix("/") { return file }
        guard let root = define("HTTPD_ROOT") else { return nil }
        return (root as NSString).appendingPathComponent(file)
    }
}

/// Runs a program without a shell, with no standard input and a time limit.
public enum CommandRunner {
    public struct Result: Sendable {
        public var status: Int32
        public var stdout: String
        public var stderr: String
        public var timedOut: Bool
    }

    public static func locate(_ name: String) -> String? { Executables.locate(name) }

    /// Runs a program that writes files while only reading its configuration (`nginx -T`
    /// creates its pid file and temp directories, `apache2ctl` its run and lock directories)
    /// where those writes cannot reach the machine: in a private mount namespace whose /run, /var
    /// and /tmp are overlays onto a throwaway tmpfs (mount -n: not even mount's own
    /// /run/mount/utab). /etc is left as it is: the servers only read it, and an overlay would
    /// hide what is mounted below it (a configuration bind-mounted on /etc/nginx). Without the privilege for that (not root, no unshare) it runs as is and
    /// `isolated` is false. The script is fixed; the program and its arguments are passed as data.
    public static func runIsolated(_ program: String, _ arguments: [String], timeout: TimeInterval) -> (result: Result, isolated: Bool) {
        guard getuid() == 0, let unshare = locate("unshare") else { return (run(program, arguments, timeout: timeout), false) }
        let script = """
            [ -d /mnt ] || exit 125
            mount -n -t tmpfs originaudit /mnt || exit 125
            for d in /run /var /tmp; do
              mkdir -p /mnt/upper$d /mnt/work$d || exit 125
              mount -n -t overlay originaudit -o lowerdir=$d,upperdir=/mnt/upper$d,workdir=/mnt/work$d $d || exit 125
            done
            exec "$@"
            """
        let result = run(unshare, ["--mount", "--propagation", "private", "/bin/sh", "-c", script, "sh", program] + arguments, timeout: timeout)
        if result.status == 125 { return (run(program, arguments, timeout: timeout), false) }
        return (result, true)
    }

    /// Spawns with posix_spawn so that the child itself opens /dev/null as its standard input
    /// (a FileHandle handed to Foundation's Process can be closed and its descriptor reused by
    /// another thread before the child starts), reads both outputs to the end, and kills the
    /// child when the time limit passes.
    public static func run(_ program: String, _ arguments: [String], timeout: TimeInterval) -> Result {
        var outPipe: [Int32] = [-1, -1], errPipe: [Int32] = [-1, -1]
        guard pipe(&outPipe) == 0 else { return failure("pipe: \(String(cString: strerror(errno)))") }
        guard pipe(&errPipe) == 0 else {
            close(outPipe[0]); close(outPipe[1])
            return failure("pipe: \(String(cString: strerror(errno)))")
        }
        // Other children spawned meanwhile must not inherit these ends (a held write end would
        // keep our read from ever seeing the end of the output).
        for fd in outPipe + errPipe { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, outPipe[1], 1)
        posix_spawn_file_actions_adddup2(&actions, errPipe[1], 2)
        var environment = ProcessInfo.processInfo.environment
        environment["LC_ALL"] = "C"
        let argv = ([program] + arguments).map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { argv.forEach { free($0) }; envp.forEach { free($0) } }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, program, &actions, nil, argv, envp)
        close(outPipe[1]); close(errPipe[1])
        guard spawned == 0 else {
            close(outPipe[0]); close(errPipe[0])
            return failure(String(cString: strerror(spawned)))
        }
        let collector = Collector()
        let group = DispatchGroup()
        for (fd, isOut) in [(outPipe[0], true), (errPipe[0], false)] {
            group.enter()
            DispatchQueue.global().async {
                var data = Data()
                var buffer = [UInt8](repeating: 0, count: 65_536)
                while true {
                    let count = read(fd, &buffer, buffer.count)
                    if count > 0 { data.append(contentsOf: buffer[0..<count]) }
                    else if count < 0 && errno == EINTR { continue }
                    else { break }
                }
                close(fd)
                collector.store(data, isOut: isOut)
                group.leave()
            }
        }
        let deadline = Date().addingTimeInterval(timeout)
        var status: Int32 = 0
        var timedOut = false
        while true {
            let done = waitpid(pid, &status, WNOHANG)
            if done == pid || done < 0 { break }
            if Date() >= deadline {
                timedOut = true
                kill(pid, SIGKILL)
                waitpid(pid, &status, 0)
                break
            }
            usleep(5_000)
        }
        group.wait()
        // WEXITSTATUS/WIFEXITED are macros: exit status in bits 8–15 when the low 7 bits are 0.
        let exitCode: Int32 = (status & 0x7F) == 0 ? (status >> 8) & 0xFF : 128 + (status & 0x7F)
        return Result(status: exitCode, stdout: collector.out, stderr: collector.err, timedOut: timedOut)
    }

    private static func failure(_ reason: String) -> Result {
        Result(status: -1, stdout: "", stderr: reason, timedOut: false)
    }

    private final class Collector: @unchecked Sendable {
        private let lock = NSLock()
        private var outData = Data(), errData = Data()
        func store(_ data: Data, isOut: Bool) { lock.lock(); if isOut { outData = data } else { errData = data }; lock.unlock() }
        var out: String { lock.lock(); defer { lock.unlock() }; return String(decoding: outData, as: UTF8.self) }
        var err: String { lock.lock(); defer { lock.unlock() }; return String(decoding: errData, as: UTF8.self) }
    }
}
