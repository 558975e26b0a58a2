import Foundation
import OriginAuditCore

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
        public var sockets: HostSockets?
    }

    /// A read-only dump command and where its output goes.
    struct Dump: Sendable {
        var program: String
        var arguments: [String]
        var file: String
        var kind: InputKind
        var family: AddressFamily?
        /// Output that means "nothing configured" rather than a ruleset.
        var isEmpty: @Sendable (String) -> Bool = { $0.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty }
    }

    static let dumps: [Dump] = [
        // An empty iptables-save is a statement, not a gap: no table is loaded, nothing filters.
        Dump(program: "iptables-save", arguments: [], file: "iptables.v4", kind: .iptablesSave, family: .ipv4, isEmpty: { _ in false }),
        Dump(program: "ip6tables-save", arguments: [], file: "iptables.v6", kind: .iptablesSave, family: .ipv6, isEmpty: { _ in false }),
        Dump(program: "ipset", arguments: ["save"], file: "ipset.save", kind: .ipset),
        Dump(program: "nft", arguments: ["-j", "list", "ruleset"], file: "ruleset.json", kind: .nftJSON,
             isEmpty: { text in
                 // An empty ruleset still prints the metainfo object.
                 !text.contains("\"table\"")
             }),
        Dump(program: "nginx", arguments: ["-T"], file: "nginx-T.conf", kind: .nginxDump),
    ]

    public func collect() -> Collected {
        var collected = Collected()
        try? FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        for dump in Self.dumps {
            let command = ([dump.program] + dump.arguments).joined(separator: " ")
            guard let program = CommandRunner.locate(dump.program) else {
                collected.notes.append("live: \(dump.program) is not installed here; skipped")
                continue
            }
            let result = CommandRunner.run(program, dump.arguments, timeout: timeout)
            guard result.status == 0 else {
                let reason = result.timedOut ? "timed out after \(Int(timeout)) s" : "failed (exit \(result.status)): \(result.stderr.split(separator: "\n").first ?? "")"
                let privilege = result.stderr.contains("Permission denied") || result.stderr.contains("Operation not permitted") ? " — run as root to read it" : ""
                collected.notes.append("live: \(command) \(reason)\(privilege)")
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
        if let apachectl = CommandRunner.locate("apache2ctl") ?? CommandRunner.locate("apachectl") {
            let result = CommandRunner.run(apachectl, ["-V"], timeout: timeout)
            if let main = Self.apacheMainFile(fromVersionOutput: result.stdout), FileManager.default.fileExists(atPath: main) {
                collected.explicit.append((.apacheMain, main, nil))
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
        return collected
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

    public static func locate(_ name: String) -> String? {
        let path = (ProcessInfo.processInfo.environment["PATH"] ?? "") + ":/usr/sbin:/sbin:/usr/bin:/bin:/usr/local/sbin"
        for directory in path.split(separator: ":") where !directory.isEmpty {
            let candidate = "\(directory)/\(name)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }

    public static func run(_ program: String, _ arguments: [String], timeout: TimeInterval) -> Result {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: program)
        process.arguments = arguments
        var environment = ProcessInfo.processInfo.environment
        environment["LC_ALL"] = "C"
        process.environment = environment
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        // A handle of its own on /dev/null: the shared `FileHandle.nullDevice` can be closed by
        // another Process in this one, and its descriptor reused for some unrelated file.
        let nothing = FileHandle(forReadingAtPath: "/dev/null")
        defer { try? nothing?.close() }
        process.standardInput = nothing
        do { try process.run() } catch {
            return Result(status: -1, stdout: "", stderr: "\(error.localizedDescription)", timedOut: false)
        }
        let collector = Collector()
        let group = DispatchGroup()
        for (pipe, isOut) in [(out, true), (err, false)] {
            group.enter()
            DispatchQueue.global().async {
                let data = pipe.fileHandleForReading.readDataToEndOfFile()
                collector.store(data, isOut: isOut)
                group.leave()
            }
        }
        let deadline = Date().addingTimeInterval(timeout)
        var timedOut = false
        while process.isRunning {
            if Date() >= deadline { timedOut = true; process.terminate(); break }
            usleep(5_000)
        }
        process.waitUntilExit()
        group.wait()
        return Result(status: process.terminationStatus, stdout: collector.out, stderr: collector.err, timedOut: timedOut)
    }

    private final class Collector: @unchecked Sendable {
        private let lock = NSLock()
        private var outData = Data(), errData = Data()
        func store(_ data: Data, isOut: Bool) { lock.lock(); if isOut { outData = data } else { errData = data }; lock.unlock() }
        var out: String { lock.lock(); defer { lock.unlock() }; return String(decoding: outData, as: UTF8.self) }
        var err: String { lock.lock(); defer { lock.unlock() }; return String(decoding: errData, as: UTF8.self) }
    }
}
