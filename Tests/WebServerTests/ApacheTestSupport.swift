import Foundation
import OriginAuditCore
import TestSupport
@testable import WebServer

/// Helpers shared by the Apache tests: temporary config trees, loading them, and reading what
/// the real httpd says about the same tree.
enum ApacheFixture {
    /// A tree whose report paths are absolute, like httpd's own messages.
    static let absoluteTree = SourceTree(root: nil, base: URL(fileURLWithPath: "/nonexistent-base"))

    /// Writes `files` (relative path → content) under a fresh directory and returns it.
    static func write(_ files: [String: String]) throws -> URL {
        let directory = try TestTools.temporaryDirectory("originaudit-apache")
        for (path, content) in files {
            let url = directory.appendingPathComponent(path)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try content.write(to: url, atomically: true, encoding: .utf8)
        }
        return directory
    }

    static func load(_ main: URL, role: ConfigRole = .main, defines: [String] = [],
                     environment: [String: String] = [:]) -> LoadResult<WebServerConfig> {
        ApacheLoader.load(hostPath: main.path, role: role, tree: absoluteTree, defines: defines, environment: environment)
    }

    static func read(_ main: URL, defines: [String] = []) -> (directives: [ApacheDirective], reader: ApacheConfigReader) {
        ApacheLoader.read(hostPath: main.path, role: .main, tree: absoluteTree, defines: defines, environment: [:])
    }

    static var apache2: String? { TestTools.locate("apache2") }

    /// A header that makes a standalone config acceptable to `apache2 -t` (an MPM, a ServerName).
    static func header(_ root: URL) -> String {
        """
        ServerRoot \(root.path)
        LoadModule mpm_event_module /usr/lib/apache2/modules/mod_mpm_event.so
        ServerName localhost
        PidFile \(root.path)/httpd.pid
        ErrorLog \(root.path)/error.log
        """
    }

    /// Runs `apache2 -t` on a standalone config and returns the innermost "line N of FILE"
    /// httpd names, or nil when it accepts the file.
    /// `main` as a file of its own, included by a runnable wrapper: what `apache2 -t` says of the
    /// wrapper, and the parse errors the loader reports for `main`.
    static func judgeMain(_ main: String) throws -> (oracle: (file: String, line: Int, message: String)?, ours: [Finding]) {
        let root = try write(["main.conf": main])
        defer { try? FileManager.default.removeItem(at: root) }
        let wrapper = root.appendingPathComponent("wrapper.conf")
        try (header(root) + "\nInclude \(root.appendingPathComponent("main.conf").path)\n").write(to: wrapper, atomically: true, encoding: .utf8)
        let oracle = try httpdSyntaxError(wrapper, root: root)
        let ours = load(root.appendingPathComponent("main.conf")).findings.filter { $0.ruleId == "input.parse-error" }
        return (oracle, ours)
    }

    static func httpdSyntaxError(_ main: URL, root: URL, defines: [String] = []) throws -> (file: String, line: Int, message: String)? {
        let arguments = ["-t", "-d", root.path, "-f", main.path] + defines.flatMap { ["-D", $0] }
        let result = try TestTools.run("apache2", arguments, timeout: 20)
        if result.status == 0 { return nil }
        let text = result.stderr + result.stdout
        // "Syntax error on line 7 of /a: Syntax error on line 4 of /b: message" — the last is innermost.
        let pattern = /Syntax error on line (\d+) of ([^:]+):/
        let matches = text.matches(of: pattern)
        guard let last = matches.last else { return ("", 0, text) }
        let message = String(text[last.range.upperBound...]).trimmingCharacters(in: .whitespacesAndNewlines)
        // Inside a macro, httpd names the macro's pseudo-file; the loader names the `Use` line.
        if let macro = text.firstMatch(of: /Syntax error on line \d+ of macro '[^']*' \(defined on line \d+ of "[^"]*"\) used on line (\d+) of "([^"]*)"/) {
            return (String(macro.output.2), Int(macro.output.1) ?? 0, message)
        }
        return (String(last.output.2), Int(last.output.1) ?? 0, message)
    }
}

/// A copy of Debian's /etc/apache2 in a temporary directory, driven with `apache2ctl`,
/// `a2enmod` and `a2ensite` through APACHE_CONFDIR so the real /etc/apache2 is never touched.
struct DebianApacheCopy {
    let directory: URL
    var confdir: String { directory.appendingPathComponent("apache2").path }
    var mainFile: URL { directory.appendingPathComponent("apache2/apache2.conf") }

    var environment: [String: String] {
        var environment = ProcessInfo.processInfo.environment
        environment["APACHE_CONFDIR"] = confdir
        environment["PATH"] = (environment["PATH"] ?? "") + ":/usr/sbin:/sbin"
        return environment
    }

    /// Why Debian's apache2 package (apache2ctl, /etc/apache2) cannot be copied here, or nil.
    static var missing: String? { Oracle.missing(programs: ["apache2ctl"], files: ["/etc/apache2/apache2.conf"]) }

    init() throws {
        directory = try TestTools.temporaryDirectory("originaudit-apache-debian")
        try TestTools.run("/bin/cp", ["-a", "/etc/apache2", directory.path], timeout: 20)
        // Debian's mod_qos build on this system fails to load (an unresolved pcre symbol), so
        // httpd itself cannot start with it: keep it out of the oracle's configurations.
        try ctl("a2dismod", ["-q", "-f", "qos"])
        // A global ServerName keeps httpd from guessing one from DNS.
        try "ServerName oracle.invalid\n".write(toFile: confdir + "/conf-enabled/zz-servername.conf", atomically: true, encoding: .utf8)
    }

    @discardableResult
    func ctl(_ tool: String, _ arguments: [String]) throws -> ProcessResult {
        try TestTools.run(tool, arguments, environment: environment, timeout: 30)
    }

    func remove() { try? FileManager.default.removeItem(at: directory) }

    /// The variables `apache2ctl` exports from this copy's envvars.
    var envvars: [String: String] {
        var values = ApacheLoader.parseEnvvars((try? String(contentsOfFile: confdir + "/envvars", encoding: .utf8)) ?? "")
        values["APACHE_CONFDIR"] = confdir
        return values
    }

    func load(defines: [String] = []) -> LoadResult<WebServerConfig> {
        ApacheLoader.load(hostPath: mainFile.path, role: .main, tree: ApacheFixture.absoluteTree, defines: defines)
    }

    /// `apache2ctl -t -D DUMP_INCLUDES`, as (depth, line of the Include, file).
    func httpdIncludes() throws -> [ApacheIncludeRecord] {
        HttpdOutput.includes(try ctl("apache2ctl", ["-t", "-D", "DUMP_INCLUDES"]).stdout)
    }

    /// `apache2ctl -M`, module names in load order.
    func httpdModules() throws -> [String] {
        HttpdOutput.modules(try ctl("apache2ctl", ["-M"]).stdout)
    }

    /// `apache2ctl -S`: one entry per name-based vhost, "addr:port name file:line".
    func httpdVirtualHosts() throws -> [String] {
        HttpdOutput.virtualHosts(try ctl("apache2ctl", ["-S"]).stdout)
    }
}

/// Reading what httpd prints for `-D DUMP_INCLUDES`, `-M` and `-S`.
enum HttpdOutput {
    static func includes(_ output: String) -> [ApacheIncludeRecord] {
        var records: [ApacheIncludeRecord] = []
        for line in output.split(separator: "\n") {
            guard let match = line.firstMatch(of: /^( +)\((\*|\d+)\) (.+)$/) else { continue }
            let depth = (match.output.1.count - 2) / 2
            records.append(ApacheIncludeRecord(depth: depth, includedFromLine: Int(match.output.2) ?? 0,
                                               hostPath: String(match.output.3)))
        }
        return records
    }

    /// httpd places a vhost from mod_macro in a pseudo-file named after the macro; the loader
    /// places it at the `Use` line, so that form is rewritten to `file:useLine`.
    static func placeMacros(_ line: String) -> String {
        var line = line
        if let m = line.firstMatch(of: /macro '[^']*' \(defined on line \d+ of "[^"]*"\) used on line (\d+) of "([^"]*)":\d+/) {
            line.replaceSubrange(m.range, with: "\(m.output.2):\(m.output.1)")
        }
        return line
    }

    /// `-S`'s "default server NAME (file:line)" for each name-based address.
    static func defaultServers(_ output: String) -> [String] {
        var result: [String] = []
        var address = ""
        for rawLine in output.split(separator: "\n") {
            let line = placeMacros(String(rawLine))
            if let m = line.firstMatch(of: /^(\S+:\S+)\s+is a NameVirtualHost$/) {
                address = String(m.output.1)
            } else if let m = line.firstMatch(of: /^\s+default server (\S+) \((.+)\)$/) {
                result.append("\(address) \(m.output.1) \(m.output.2)")
            } else if let m = line.firstMatch(of: /^(\S+:\S+)\s+(\S+) \((.+)\)$/) {
                result.append("\(m.output.1) \(m.output.2) \(m.output.3)")
            }
        }
        return result.sorted()
    }

    static func modules(_ output: String) -> [String] {
        output.split(separator: "\n").compactMap { line in
            line.firstMatch(of: /^ (\w+) \((static|shared)\)$/).map { String($0.output.1) }
        }
    }

    /// `-S`: one entry per name-based vhost, "addr:port name file:line".
    static func virtualHosts(_ output: String) -> [String] {
        var entries: [String] = []
        var address = ""
        for rawLine in output.split(separator: "\n") {
            let line = placeMacros(String(rawLine))
            if let m = line.firstMatch(of: /^(\S+:\S+)\s+is a NameVirtualHost$/) {
                address = String(m.output.1)
            } else if let m = line.firstMatch(of: /^\s+port \S+ namevhost (\S+) \((.+)\)$/) {
                entries.append("\(address) \(m.output.1) \(m.output.2)")
            } else if let m = line.firstMatch(of: /^(\S+:\S+)\s+(\S+) \((.+)\)$/) {
                entries.append("\(m.output.1) \(m.output.2) \(m.output.3)")
            } else if let m = line.firstMatch(of: /^\s+alias (\S+)$/), let last = entries.last {
                entries[entries.count - 1] = last + " alias=" + m.output.1
            }
        }
        return entries.sorted()
    }
}

extension ApacheDirective {
    /// Start → httpd's line for every section in the tree.
    static func httpdLines(_ directives: [ApacheDirective]) -> [SourceLocation: Int] {
        var lines: [SourceLocation: Int] = [:]
        for directive in directives where directive.isSection {
            lines[directive.location] = directive.errorLocation.line
            lines.merge(httpdLines(directive.children ?? [])) { first, _ in first }
        }
        return lines
    }
}

extension VirtualHost {
    /// The same shape as `DebianApacheCopy.httpdVirtualHosts`.
    /// `httpdLine` maps the host's start line to the line httpd names (the last physical line
    /// of a continued `<VirtualHost \` … `>`).
    func httpdStyleEntries(mainServerName: String, httpdLine: [SourceLocation: Int] = [:]) -> [String] {
        let name = names.first.map { $0.value == .catchAll ? mainServerName : $0.value.description } ?? mainServerName
        let aliases = names.dropFirst().map { " alias=\($0.value)" }.joined()
        return listeners.map { listener in
            let address: String = switch listener.address {
            case .any: "*"
            case .ip(let ip): ip.family == .ipv6 ? "[\(ip)]" : ip.description
            case .hostname(let host): host
            case .unix(let path): path
            }
            return "\(address):\(listener.port.map(String.init) ?? "*") \(name) \(location.file):\(httpdLine[location] ?? location.line)\(aliases)"
        }
    }
}
