import ArgumentParser
import Audit
import CShim
import Foundation
import OriginAuditCore
import Reporters

enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
    case text, json, sarif, github, html
}

/// The report format of the commands that print one answer (`probe`, `firewall`): the same
/// `--format` spelling as `scan`.
enum AnswerFormat: String, ExpressibleByArgument, CaseIterable {
    case text, json
}

/// `firewall`'s formats: an answer's, and the HTML page of the matrix.
enum FirewallFormat: String, ExpressibleByArgument, CaseIterable {
    case text, json, html
}

enum FailOn: String, ExpressibleByArgument, CaseIterable {
    case error, warning, info, never

    var threshold: Severity? {
        switch self {
        case .error: .error
        case .warning: .warning
        case .info: .info
        case .never: nil
        }
    }
}

enum ColorChoice: String, ExpressibleByArgument, CaseIterable {
    case auto, always, never
}

extension TLSMode: ExpressibleByArgument {}

/// Options that shape the profile, shared by `scan` and the commands that evaluate one thing.
struct ProfileArguments: ParsableArguments {
    @Option(help: "Whose edge addresses must reach the origin: \(CDNProfile.embeddedNames.joined(separator: ", ")), none.")
    var cdn: String?

    @Option(name: .customLong("cdn-ranges"), help: ArgumentHelp("A file of CIDRs, one per line (# comments), to use as the CDN's addresses.", valueName: "file"))
    var cdnRanges: String?

    @Option(name: .customLong("tls-mode"), help: "The CDN's encryption mode towards the origin: off, flexible, full, strict, origin-pull (default full).")
    var tlsMode: TLSMode?

    @Option(name: .customLong("hostname"), help: ArgumentHelp("A proxied hostname (repeatable; default: every name the configuration serves).", valueName: "name"))
    var hostnames: [String] = []

    @Option(help: ArgumentHelp("The instant certificates are judged at: RFC 3339, a date, or an offset like +30d (default now).", valueName: "time"))
    var at: String?

    @Option(name: .customLong("expiry-warning-days"), help: "Certificates expiring within this many days are reported (default 30).")
    var expiryWarningDays: Double?

    @Option(name: .customLong("public-interface"), help: ArgumentHelp("An interface the CDN's traffic arrives on (repeatable; wildcards as iptables/nft write them: eth+, wan*). Default: live mode uses the default routes' interfaces; otherwise a firewall verdict that depends on the interface is given for each interface the rules tell apart.", valueName: "name"))
    var publicInterfaces: [String] = []

    @Option(name: .customLong("origin-address"), help: ArgumentHelp("An address of this origin the CDN connects to (repeatable; IPv4 or IPv6). It decides firewall rules on destination addresses (-d, ip daddr). Default: live mode uses the host's own addresses; otherwise a verdict that depends on the address is given for each address class the rules tell apart.", valueName: "address"))
    var originAddresses: [String] = []

    var options: ProfileOptions {
        var options = ProfileOptions(cdn: cdn, cdnRangesFile: cdnRanges, tlsMode: tlsMode, hostnames: hostnames, at: at, expiryWarningDays: expiryWarningDays)
        options.publicInterfaces = publicInterfaces
        options.originAddresses = originAddresses
        return options
    }
}

/// What to read and how: paths, per-format files, root, project file, live mode. Shared by
/// `scan` and `firewall`, so both read inputs the same way.
struct InputArguments: ParsableArguments {
    @Argument(help: "Files and directories to audit.")
    var paths: [String] = []

    @Option(help: ArgumentHelp("Every path named inside the scanned tree (includes, certificates, symlink targets, .originaudit.yml keys) resolves under this directory and never leaves it; paths typed on the command line are read as given.", valueName: "dir"))
    var root: String?

    @Option(help: ArgumentHelp("Project settings file (default: .originaudit.yml in the first directory scanned).", valueName: "file"))
    var config: String?

    @Option(name: .customLong("iptables"), help: ArgumentHelp("An iptables-save (IPv4) file.", valueName: "file")) var iptables: [String] = []
    @Option(name: .customLong("ip6tables"), help: ArgumentHelp("An ip6tables-save (IPv6) file.", valueName: "file")) var ip6tables: [String] = []
    @Option(name: .customLong("nft"), help: ArgumentHelp("An nftables ruleset (nft -j list ruleset, or nft list ruleset).", valueName: "file")) var nft: [String] = []
    @Option(name: .customLong("ipset"), help: ArgumentHelp("An ipset save file.", valueName: "file")) var ipset: [String] = []
    @Option(name: .customLong("nginx"), help: ArgumentHelp("An nginx main configuration, or nginx -T output.", valueName: "file")) var nginx: [String] = []
    @Option(name: .customLong("apache"), help: ArgumentHelp("An Apache main configuration (apache2.conf, httpd.conf).", valueName: "file")) var apache: [String] = []
    @Option(name: .customLong("cert"), help: ArgumentHelp("A certificate or key file (PEM or DER).", valueName: "file")) var certs: [String] = []
    @Option(name: .customLong("define"), help: ArgumentHelp("An Apache -D name for <IfDefine>.", valueName: "name")) var defines: [String] = []
    @Option(name: .customLong("ca-file"), help: ArgumentHelp("Extra trusted CA certificates (PEM).", valueName: "file")) var caFiles: [String] = []

    @Flag(help: "Audit this machine as it runs: firewall dumps, nginx -T, Apache's configuration, listening ports (read-only; root sees everything).")
    var live = false

    @Option(help: ArgumentHelp("With --live: also write what was collected into this new (or empty) directory, so that `originaudit scan DIR` later gives the same findings: the files read laid out under their absolute paths (private keys replaced by stand-ins holding the public key and the file's mode), the dumps, sockets, modules and routes in DIR/.originaudit-live/ with a manifest, and a .originaudit.yml.", valueName: "dir"))
    var save: String?

    /// Everything read, and the settings it was read with.
    struct Prepared {
        var project: ProjectConfig
        var profile: Profile
        var loaded: LoadedInputs
        var request: ScanRequest
    }

    /// Reads the project file, builds the profile, collects live dumps when asked, and loads every
    /// input. Usage problems exit with 2.
    func prepare(_ profileArguments: ProfileArguments, disabled: [String] = []) -> Prepared {
        let now = Date()
        let cwd = SourceTree.normalise(FileManager.default.currentDirectoryPath)
        // The project file: --config, or .originaudit.yml in the first directory scanned.
        var configPath = config
        if configPath == nil {
            let first = paths.first ?? "."
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: first, isDirectory: &isDirectory), isDirectory.boolValue {
                let candidate = (first as NSString).appendingPathComponent(".originaudit.yml")
                if FileManager.default.fileExists(atPath: candidate) { configPath = candidate }
            }
        }
        var project = ProjectConfig()
        var configFindings: [Finding] = []
        if let configPath {
            // Typed (or found in a directory typed): read as given, never blocking on a FIFO.
            guard case .success(let bytes) = SourceTree(root: nil).read(configPath), let text = String(validating: bytes, as: UTF8.self) else {
                failUsage("--config \(configPath): cannot be read")
            }
            var display = configPath.hasPrefix(cwd + "/") ? String(configPath.dropFirst(cwd.count + 1)) : configPath
            while display.hasPrefix("./") { display.removeFirst(2) }
            let directory = SourceTree.normalise(((configPath.hasPrefix("/") ? configPath : cwd + "/" + configPath) as NSString).deletingLastPathComponent)
            (project, configFindings) = ProjectConfig.parse(text, file: display, directory: directory)
        }
        project.disabled.formUnion(disabled)

        if live && root != nil { failUsage("--live audits this machine's own files; it cannot be combined with --root") }
        if save != nil && !live { failUsage("--save keeps what --live collects; give --live too") }
        // Refused before anything is collected: DIR must be new or empty.
        var evidence: EvidenceWriter?
        if let save {
            // What --save keeps is what live mode collects; files named besides it would not be replayed.
            var named = InputSelection()
            named.paths = paths; named.iptables = iptables; named.ip6tables = ip6tables; named.ipset = ipset
            named.nft = nft; named.nginx = nginx; named.apache = apache; named.certs = certs
            named.add(project)
            if !named.isEmpty {
                failUsage("--save keeps what --live collects from this machine; files and directories named besides it (on the command line or in the project file's inputs) cannot be saved with it — audit them separately")
            }
            do { evidence = try LiveEvidence.open(save) } catch { failUsage("\(error)") }
        }
        let inCI = ProcessInfo.processInfo.environment["CI"].map { !$0.isEmpty && $0 != "false" } == true
        // The project file is part of the scanned tree: its `root:` stays inside the root the
        // command line (or CI) sets, like every other path it names.
        let outer = SourceTree(root: (root ?? (inCI ? cwd : nil)).map { URL(fileURLWithPath: $0) })
        let rootPath = live ? nil : root ?? project.rootPath(in: outer) ?? (inCI ? cwd : nil)
        var tree = SourceTree(root: rootPath.map { URL(fileURLWithPath: $0) })
        project.resolvePaths(in: tree)

        var profile: Profile
        do {
            profile = try ProfileBuilder.build(profileArguments.options, config: project, now: now, tree: tree)
        } catch {
            failUsage("\(error)")
        }

        // Paths typed on the command line are the user's own: read as given, relative to the
        // current directory, wherever they are.
        var selection = InputSelection()
        selection.paths = paths.map { tree.addGiven($0) }
        selection.iptables = iptables.map { tree.addGiven($0) }
        selection.ip6tables = ip6tables.map { tree.addGiven($0) }
        selection.ipset = ipset.map { tree.addGiven($0) }
        selection.nft = nft.map { tree.addGiven($0) }
        selection.nginx = nginx.map { tree.addGiven($0) }
        selection.apache = apache.map { tree.addGiven($0) }
        selection.certs = certs.map { tree.addGiven($0) }
        let givenCAFiles = caFiles.map { tree.addGiven($0) }
        selection.add(project)
        var liveNotes: [String] = []
        var collected: LiveCollector.Collected?
        let liveDirectory = FileManager.default.temporaryDirectory.appendingPathComponent("originaudit-live-\(getpid())")
        // A directory saved by --save is read as live mode read the machine it came from.
        let saved = live ? [] : selection.paths.filter { tree.isDirectory($0) && LiveEvidence.manifestPath(in: $0) != nil }
        if saved.count > 1 { failUsage("\(saved.joined(separator: ", ")): one saved live collection at a time") }
        if live || !saved.isEmpty {
            let result: LiveCollector.Collected
            if let directory = saved.first {
                guard tree.root?.path == directory else {
                    failUsage("\(directory) holds a saved live collection, whose files name paths on the audited host: scan it with --root \(directory) (its .originaudit.yml says root: .)")
                }
                do {
                    let replay = try LiveEvidence.load(directory, tree: &tree)
                    result = replay.collected
                    liveNotes.append(replay.summary)
                } catch { failUsage("\(error)") }
            } else {
                if evidence != nil { tree.readLog = ReadLog() }
                result = LiveCollector(directory: liveDirectory).collect()
                for entry in result.explicit where entry.path.hasPrefix(liveDirectory.path) {
                    tree.aliases[entry.path] = "live: " + (entry.path as NSString).lastPathComponent
                }
            }
            liveNotes += result.notes
            collected = result
            // The CDN's traffic arrives where the default routes leave, unless the user said otherwise.
            if profile.publicInterfaces.isEmpty, !result.defaultRouteInterfaces.isEmpty {
                profile.publicInterfaces = result.defaultRouteInterfaces
                liveNotes.append("live: the CDN's traffic is taken to arrive on \(result.defaultRouteInterfaces.joined(separator: ", ")) (the default routes' interfaces); give --public-interface to say otherwise")
            }
            // …and goes to one of the host's own addresses.
            if profile.originAddresses.isEmpty, !result.hostAddresses.isEmpty {
                profile.originAddresses = result.hostAddresses
                liveNotes.append("live: the CDN's traffic is taken to go to \(result.hostAddresses.map(\.description).joined(separator: ", ")) (this host's own addresses); give --origin-address to say otherwise")
            }
        }
        var request = selection.request(tree: tree, defines: defines + project.defines, caFiles: givenCAFiles + project.caFiles)
        if let collected {
            request.explicit += collected.explicit
            request.sockets = collected.sockets
            request.apacheStaticModules = collected.apacheStaticModules
            if paths.isEmpty && project.inputs["paths"] == nil { request.paths = [] }
            request.paths.removeAll { saved.contains(tree.hostPath($0)) }
        }
        var loaded = AuditRunner.load(request)
        // Loading freed more than it keeps (the nginx parse trees, the firewall's intermediate
        // rules, the files read): glibc keeps freed memory in each thread's arena, so the rules
        // would grow the process on top of it. Given back here: about 1 ms of CPU; bench-nginx
        // tree 167 -> 150 MB, whole estate 167-172 -> 161-170 MB.
        oa_release_free_memory()
        if let evidence, let collected, let log = tree.readLog {
            var settings = ProjectConfig()
            settings.cdn = profileArguments.cdn ?? project.cdn
            settings.cdnRangesFile = profileArguments.cdnRanges ?? project.cdnRangesFile
            settings.tlsMode = profileArguments.tlsMode ?? project.tlsMode
            settings.hostnames = profileArguments.hostnames.isEmpty ? project.hostnames : profileArguments.hostnames
            settings.publicInterfaces = profile.publicInterfaces
            settings.originAddresses = profile.originAddresses
            settings.expiryWarningDays = profileArguments.expiryWarningDays ?? project.expiryWarningDays
            settings.defines = defines + project.defines
            settings.caFiles = givenCAFiles + project.caFiles
            settings.disabled = project.disabled
            settings.severityOverrides = project.severityOverrides
            do {
                liveNotes += try LiveEvidence.save(collected, liveDirectory: liveDirectory, log: log,
                                                   certificateFiles: Set(loaded.model.certificates.files.keys), settings: settings, into: evidence)
                liveNotes.append("saved: what this scan collected is in \(evidence.path); `originaudit scan \(evidence.path)` audits it again")
            } catch {
                try? FileManager.default.removeItem(at: liveDirectory)
                failUsage("\(error)")
            }
        }
        if live { try? FileManager.default.removeItem(at: liveDirectory) }
        loaded.findings += configFindings + (collected?.findings ?? [])
        if let listed = collected?.apacheVirtualHosts {
            liveNotes += LiveCollector.missingVirtualHosts(listed, in: loaded.model.webServer)
        }
        loaded.notes = liveNotes + loaded.notes
        if loaded.recognised == 0 && loaded.findings.allSatisfy({ !["input.unknown-format", "input.unreadable", "input.parse-error"].contains($0.ruleId) }) {
            FileHandle.standardError.write(Data("originaudit: nothing to analyse: no firewall, web-server or certificate file was found in \((paths.isEmpty ? request.paths : paths).joined(separator: ", "))\n".utf8))
        }
        return Prepared(project: project, profile: profile, loaded: loaded, request: request)
    }
}

struct Scan: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Audit firewall, web-server and certificate files (the default command).",
        discussion: """
        PATHs are files or directories; every file's format is recognised from its content. A \
        .originaudit.yml in the first directory scanned (or --config) sets the profile, inputs, \
        disabled rules, severity overrides and suppressions. When the environment variable CI is \
        set and --root is not given, the root is the current directory and nothing outside it is read.

        Paths: what you type on the command line (PATHs, --iptables, --ca-file, --cdn-ranges, \
        --config, --rules …) is read as given, relative to the current directory. Every path named \
        inside the scanned tree — includes, certificate files, symlink targets, and every path in \
        .originaudit.yml — resolves under --root (an absolute symlink target is a path on the audited \
        host; `..` stops at the root) and never leaves it.

        Saved live scans: --live --save DIR writes what the scan collected into DIR (new or \
        empty; nothing is overwritten; files 0600, directories 0700): the files it read under their \
        absolute paths, private keys replaced by stand-ins (type, size, public key, the file's mode \
        and owner — never the key), the dumps, sockets, modules and routes in DIR/.originaudit-live/ \
        with manifest.json (tool version, host, time), and a .originaudit.yml (root: . and the \
        profile). `originaudit scan DIR` replays it: the manifest's inputs, not every file in DIR, \
        giving the live scan's findings.

        Limits: files up to 64 MiB; FIFOs, sockets and devices are never opened for reading; YAML \
        nesting up to 64 levels; Apache ${VAR} expansion up to 1 MiB per line, one mod_macro Use up \
        to 1 MiB (16 MiB for all), a macro line under httpd's 8,192 bytes; includes 128 levels deep \
        in Apache, 1,000 in nginx; at most 100 findings per file and rule, then one that counts the rest; no report quotes text inside PEM armour, and \
        control characters and bidi overrides from inputs are escaped in text output.
        """
    )

    @OptionGroup var inputs: InputArguments
    @OptionGroup var profile: ProfileArguments

    @Option(help: ArgumentHelp("A directory of rule YAML files that add to or override the embedded catalog.", valueName: "dir"))
    var rules: String?
    @Option(name: .customLong("disable"), help: ArgumentHelp("A rule id not to run (repeatable).", valueName: "id")) var disabled: [String] = []
    @Option(help: "Report format: text, json, sarif, github, html (one self-contained page: verdict per hostname, reachability matrix, findings; use with --output).") var format: OutputFormat = .text
    @Option(help: ArgumentHelp("Write the report to this file instead of standard output.", valueName: "file")) var output: String?
    @Option(name: .customLong("fail-on"), help: "Exit 1 when a finding is at or above this severity: error, warning, info, never (default error).") var failOn: FailOn?
    @Option(help: "Colour in text output: auto (only on a terminal), always, never.") var color: ColorChoice = .auto
    @Flag(help: "Print how long each phase took, to standard error.") var timings = false

    func run() async throws {
        var catalog = RuleCatalog.embedded
        if let rules {
            let errors = catalog.merge(directory: URL(fileURLWithPath: rules))
            if !errors.isEmpty { failUsage("--rules \(rules): " + errors.map(\.description).joined(separator: "; ")) }
        }
        var clock = PhaseTimings()
        let prepared = inputs.prepare(profile, disabled: disabled)
        clock.lap("inputs (below)")
        let report = await AuditRunner.finish(prepared.loaded, profile: prepared.profile, config: prepared.project, catalog: catalog)
        clock.lap("rules and settings (\(report.findings.count) findings)")
        // The rules freed what they worked with on the way (chain verifications, their shared
        // results); the report allocates afresh: given back first, as after loading (the
        // certificate estate's peak, at the end of the report, 0.3 MB lower).
        oa_release_free_memory()

        let colour: Bool
        switch color {
        case .always: colour = true
        case .never: colour = false
        case .auto: colour = output == nil && isatty(STDOUT_FILENO) == 1 && ProcessInfo.processInfo.environment["NO_COLOR"] == nil
        }
        // Written as it is made: a large report is never held whole beside the findings.
        let write: (_ sink: (UnsafeRawBufferPointer) throws -> Void) throws -> Void
        switch format {
        case .json: write = { try JSONReporter.write(report, to: $0) }
        case .text: write = { try TextReporter.write(report, style: .init(enabled: colour), to: $0) }
        case .sarif: write = { try SARIFReporter.write(report, to: $0) }
        case .github: write = { try GitHubReporter.write(report, to: $0) }
        case .html: write = { try whole(HTMLPage.scan(prepared, report: report), to: $0) }
        }
        do { try emit(to: output, write) } catch { failUsage("\(error)") }
        clock.lap("\(format.rawValue) report")
        if timings {
            FileHandle.standardError.write(Data((clock.summary + "\n  inputs:\n" + prepared.loaded.timings.summary + "\n").utf8))
        }

        let threshold = (failOn ?? prepared.project.failOn.flatMap(FailOn.init(rawValue:)) ?? .error).threshold
        let code: Int32
        if prepared.loaded.recognised == 0 {
            code = 2
        } else if let threshold, let worst = report.worstSeverity, worst >= threshold {
            code = 1
        } else {
            code = 0
        }
        // The model and the report hold millions of small objects on a large estate: freeing them
        // one by one once the report is written took 150 ms of one core (10,000 vhosts). The
        // process ends holding them instead, and the kernel takes the memory back at once.
        withExtendedLifetime((prepared, report)) { Foundation.exit(code) }
    }
}
