import Foundation
import Synchronization
import OriginAuditCore
import Firewall
import WebServer
import Certificates
import AuditRules

/// What to audit: paths to walk, files whose format the user named, and how to read them.
public struct ScanRequest: Sendable {
    public var paths: [String]
    /// Files given with a per-format flag (`--iptables F`): their format is not sniffed.
    public var explicit: [(kind: InputKind, path: String, familyHint: AddressFamily?)]
    public var tree: SourceTree
    public var defines: [String]
    public var caFiles: [String]
    /// Live mode: what listens on this machine.
    public var sockets: HostSockets?
    /// The modules compiled into the running httpd (live mode, from `apache2ctl -M`).
    public var apacheStaticModules: [String]?

    public init(paths: [String], explicit: [(kind: InputKind, path: String, familyHint: AddressFamily?)] = [],
                tree: SourceTree, defines: [String] = [], caFiles: [String] = []) {
        self.paths = paths
        self.explicit = explicit
        self.tree = tree
        self.defines = defines
        self.caFiles = caFiles
    }
}

/// What the rest of the audit needs from reading the inputs.
public struct LoadedInputs: Sendable {
    public var model: OriginModel
    public var findings: [Finding]
    public var notes: [String]
    /// How many files were recognised; zero means nothing could be analysed (exit 2).
    public var recognised: Int
    /// How long reading and each loader took.
    public var timings = PhaseTimings()
    /// Files read only through a lone fragment that no main configuration includes: they are not
    /// serving configuration, so nothing in them can stop a server from starting.
    public var unincludedFiles: Set<String> = []
}

/// Discovers, classifies and loads inputs, runs the rules and applies the project's settings.
public enum AuditRunner {
    /// A file read and recognised, with its format.
    typealias ClassifiedInput = (kind: InputKind, hostPath: String, familyHint: AddressFamily?, bytes: [UInt8])

    /// Directories never descended into while walking.
    static let skippedDirectories: Set<String> = [".git", ".build", ".svn", ".hg", "node_modules"]

    /// Walks and classifies every input, then hands each format to its loader.
    public static func load(_ request: ScanRequest) -> LoadedInputs {
        let tree = request.tree
        var findings: [Finding] = []
        var notes: [String] = []
        var classified: [ClassifiedInput] = []
        var seen = Set<String>()
        var skippedUnknown: [String] = []
        var timings = PhaseTimings()

        func unreadable(_ hostPath: String, _ failure: ReadFailure) {
            let display = tree.displayPath(hostPath)
            let reason = failure == .missing ? tree.explainMissing(hostPath) : failure.description
            findings.append(Finding(ruleId: InputDiagnostics.unreadable, message: "\(display) \(reason)",
                                    location: SourceLocation(file: display), key: display))
        }
        func readFile(_ hostPath: String) -> [UInt8]? {
            switch tree.read(hostPath) {
            case .success(let bytes): return bytes
            case .failure(let failure): unreadable(hostPath, failure); return nil
            }
        }

        for entry in request.explicit {
            let hostPath = tree.hostPath(entry.path)
            guard seen.insert(tree.realPath(hostPath)).inserted, let bytes = readFile(hostPath) else { continue }
            // Key material named as another format is never parsed: every parser quotes the
            // lines it cannot read, and these lines are the key.
            if entry.kind != .certificate && entry.kind != .privateKey, let label = PEMBlock.scan(bytes).first?.label {
                let display = tree.displayPath(hostPath)
                let what = label.hasSuffix("PRIVATE KEY") ? "a private key" : "PEM data (\(label.lowercased()))"
                findings.append(Finding(
                    ruleId: "input.parse-error",
                    message: "\(display) holds \(what), not \(entry.kind.label): not parsed, and none of its content is shown",
                    location: SourceLocation(file: display, line: 1, column: 1), key: "\(display) pem as \(entry.kind.rawValue)"))
                continue
            }
            classified.append((entry.kind, hostPath, entry.familyHint, bytes))
        }
        // Files named one by one come before directory walks, so that a file both named and
        // found by walking is treated as named (an unrecognised named file is a finding).
        let named = request.paths.map { tree.hostPath($0) }
        for hostPath in named where !tree.isDirectory(hostPath) {
            guard seen.insert(tree.realPath(hostPath)).inserted, let bytes = readFile(hostPath) else { continue }
            let kind = InputClassifier.classify(name: hostPath, bytes: bytes)
            if kind == .unknown {
                let display = tree.displayPath(hostPath)
                findings.append(Finding(
                    ruleId: InputDiagnostics.unknownFormat,
                    message: "\(display) is not a recognised format (iptables-save, ipset, nftables, nginx, Apache, PEM/DER certificate or key); name its format with a flag such as --nginx or --iptables",
                    location: SourceLocation(file: display), key: display))
                continue
            }
            classified.append((kind, hostPath, familyHint(kind, hostPath), bytes))
        }
        for directory in named where tree.isDirectory(directory) {
            // Reading and sniffing thousands of files is independent work: all cores, file order kept.
            // One file reached under two names (a link beside its target) is read once.
            let walked = walk(directory, tree: tree)
            let realPaths = ConcurrentSlots<String>.fill(count: walked.count) { tree.realPath(walked[$0]) }
            let files = zip(walked, realPaths).filter { seen.insert($0.1!).inserted }.map(\.0)
            let sniffed = ConcurrentSlots<(Result<[UInt8], ReadFailure>, InputKind, AddressFamily?)>.fill(count: files.count) { index in
                let read = tree.read(files[index])
                guard case .success(let bytes) = read else { return (read, .unknown, nil) }
                let kind = InputClassifier.classify(name: files[index], bytes: bytes)
                if kind == .nginxMain || kind == .nginxFragment || kind == .nginxDump { NginxLoader.warmUp() }
                return (read, kind, familyHint(kind, files[index]))
            }
            for (file, entry) in zip(files, sniffed) {
                guard let (read, kind, family) = entry else { continue }
                switch read {
                case .failure(let failure): unreadable(file, failure)
                case .success(let bytes):
                    if kind == .unknown { skippedUnknown.append(file); continue }
                    classified.append((kind, file, family, bytes))
                }
            }
        }
        timings.lap("read and recognise \(classified.count) files")
        // The web-server loaders read their files by name (and the files those include): each
        // file read above is handed to that read instead of being read a second time, and its
        // bytes go once the loader has parsed it. What no loader read is forgotten after them.
        for index in classified.indices where classified[index].kind.isWebServer {
            tree.handOver(classified[index].hostPath, classified[index].bytes)
            classified[index].bytes = []
        }
        // The firewall, the web servers and the certificate and key files found above are
        // independent: loaded side by side (each loader also spreads its own files over the
        // cores). Only the certificate files that a web server names and the walk did not find
        // wait for the web servers.
        let firewallInputs = classified.filter { $0.kind.isFirewall }.map { entry in
            FirewallInput(kind: firewallKind(entry.kind), familyHint: entry.familyHint,
                          displayPath: tree.displayPath(entry.hostPath), bytes: entry.bytes)
        }
        let firewallJob = Background { FirewallLoader.load(firewallInputs) }
        // The files found above were read already: handed over, not read again.
        var found: [CertificateReference] = []
        var read: [String: [UInt8]] = [:]
        for entry in classified where entry.kind == .certificate || entry.kind == .privateKey {
            found.append(CertificateReference(hostPath: entry.hostPath, role: entry.kind == .certificate ? .certificate : .key))
            if read[entry.hostPath] == nil { read[entry.hostPath] = entry.bytes }
        }
        let caFiles = request.caFiles.map { tree.hostPath($0) }
        // The loader's from here: it frees each file's bytes as it parses the file.
        let contents = CertificateLoader.ReadFiles(consume read)
        let foundJob = Background { [found] in CertificateLoader.load(found, tree: tree, extraCAFiles: caFiles, contents: contents) }
        // The firewall and certificate loaders hold their files' bytes from here: the copies
        // above are dropped, so the firewall's are freed when its loader ends (not when every
        // loader has), and each certificate or key file's once it is parsed.
        for index in classified.indices { classified[index].bytes = [] }
        let (web, webMilliseconds) = timed { loadWebServers(classified, skippedUnknown: skippedUnknown, request: request) }
        tree.forgetHandedOver()
        let firewall = firewallJob.value
        let foundCertificates = foundJob.value
        timings.lap("firewall (\(firewallJob.milliseconds) ms), web-server (\(webMilliseconds) ms) and certificate (\(foundJob.milliseconds) ms, \(foundCertificates.model.files.count) files) loaders, side by side")

        // Certificates and keys every web server names, where the walk did not find them, read
        // from the hosts in runs side by side (10,000 hosts' TLS settings, cold in the cache).
        // (The files found, as a set, only when some server may name one: a certificate store of
        // 10,000 files and no web server needs none.)
        let hosts = web.model.virtualHosts
        let foundPaths = hosts.isEmpty || found.isEmpty ? Set<String>() : Set(found.map(\.hostPath))
        let unfound = ConcurrentRuns.map(count: hosts.count, minimum: 2_048) { range in
            var unfound: [CertificateReference] = []
            func add(_ path: ConfigPath?, _ role: CertificateReference.Role) {
                guard let path, let hostPath = path.hostPath, foundPaths.isEmpty || !foundPaths.contains(hostPath) else { return }
                unfound.append(CertificateReference(hostPath: hostPath, role: role, referencedAt: path.location))
            }
            for host in hosts[range] {
                guard let tls = host.tls else { continue }
                tls.certificateFiles.forEach { add($0, .certificate) }
                tls.keyFiles.forEach { add($0, .key) }
                add(tls.chainFile, .chain)
                add(tls.clientVerification?.caFile, .clientCA)
            }
            return unfound
        }
        var certificates = foundCertificates
        if !unfound.isEmpty {
            // Its trust store is not used: the one built with the files found has the --ca-files.
            let rest = CertificateLoader.load(unfound, tree: tree)
            certificates.model = CertificateInventory(files: foundCertificates.model.files.merging(rest.model.files) { first, _ in first },
                                                      missing: rest.model.missing, trust: foundCertificates.model.trust)
            certificates.findings += rest.findings
            certificates.files += rest.files
        }
        timings.lap("certificate loader, files named and not found (\(unfound.count) references)")
        findings += firewall.findings + web.findings + certificates.findings
        notes += firewall.notes + web.notes + certificates.notes
        let files = firewall.files + web.files + certificates.files

        // The rules and reports never look at the files again.
        tree.forgetResolutions()
        let allFiles = uniqueSorted(files)
        let model = OriginModel(firewall: firewall.model, webServer: web.model, certificates: certificates.model,
                                files: allFiles, sockets: request.sockets)
        return LoadedInputs(model: model, findings: findings, notes: notes, recognised: classified.count, timings: timings,
                            unincludedFiles: web.fragmentFiles)
    }

    /// `Array(Set(files)).sorted()`: the files as they are when they are in that order already
    /// with no repeats (one loader's sorted list: 10,000 certificates), checked in one pass.
    static func uniqueSorted(_ files: [String]) -> [String] {
        if zip(files, files.dropFirst()).allSatisfy({ $0 < $1 }) { return files }
        return Array(Set(files)).sorted()
    }

    /// What the web-server loaders read: one model of every server, and the files read only
    /// through a fragment that no main configuration includes.
    struct WebServerLoad: Sendable {
        var model = WebServerModel(servers: [])
        var findings: [Finding] = []
        var notes: [String] = []
        var files: [String] = []
        var fragmentFiles = Set<String>()
    }

    /// Loads every main configuration found, then the fragments no main configuration read.
    /// `skippedUnknown`: files the walk did not recognise (one that a configuration includes was used).
    static func loadWebServers(_ classified: [ClassifiedInput], skippedUnknown: [String], request: ScanRequest) -> WebServerLoad {
        let tree = request.tree
        var load = WebServerLoad()
        // Main files first; a file that some main file includes is not loaded again.
        var servers: [WebServerConfig] = []
        var consumed = Set<String>()
        // The same files by where they really are: a file included through a link is consumed too.
        var consumedReal = Set<String>()
        func consume(_ files: [String]) {
            consumed.formUnion(files)
            // (Relative to the tree's base path, the default: `tree.base.path` made a path string
            // from the URL for each of 2,000 files.)
            consumedReal.formUnion(files.map { tree.realPath(tree.hostPath($0)) })
        }
        var mainDirectories: [(ServerSoftware, String)] = []
        // Shallower main files first: a "main" file that another one includes was read as part of it.
        let mains = classified.filter { [.nginxMain, .nginxDump, .apacheMain].contains($0.kind) }
            .sorted { $0.hostPath.split(separator: "/").count < $1.hostPath.split(separator: "/").count }
        for entry in mains {
            if consumed.contains(tree.displayPath(entry.hostPath)) { continue }
            let result: LoadResult<WebServerConfig>
            if entry.kind == .apacheMain {
                result = ApacheLoader.load(hostPath: entry.hostPath, role: .main, tree: tree, defines: request.defines,
                                           staticModules: request.apacheStaticModules)
                mainDirectories.append((.apache, (entry.hostPath as NSString).deletingLastPathComponent))
            } else {
                result = NginxLoader.load(hostPath: entry.hostPath, role: entry.kind == .nginxDump ? .nginxDump : .main, tree: tree)
                mainDirectories.append((.nginx, (entry.hostPath as NSString).deletingLastPathComponent))
            }
            servers.append(result.model)
            load.findings += result.findings
            load.notes += result.notes
            load.files += result.files
            consume(result.files)
        }
        var unincluded: [String] = []
        for entry in classified where entry.kind == .nginxFragment || entry.kind == .apacheFragment {
            let display = tree.displayPath(entry.hostPath)
            if consumed.contains(display) || consumedReal.contains(tree.realPath(entry.hostPath)) { continue }
            // Files under a server's directory belong to that server: the nearest main
            // configuration above the file decides, its content only where no main file does.
            let owner = mainDirectories.filter { entry.hostPath.hasPrefix($0.1 + "/") }.max { $0.1.count < $1.1.count }?.0
            let software: ServerSoftware = owner ?? (entry.kind == .nginxFragment ? .nginx : .apache)
            // Beside a main configuration, a file it does not include is not live (sites-available/).
            if mainDirectories.contains(where: { $0.0 == software && entry.hostPath.hasPrefix($0.1 + "/") }) {
                unincluded.append(display)
                continue
            }
            let result = software == .nginx
                ? NginxLoader.load(hostPath: entry.hostPath, role: .fragment, tree: tree)
                : ApacheLoader.load(hostPath: entry.hostPath, role: .fragment, tree: tree, defines: request.defines,
                                    staticModules: request.apacheStaticModules)
            servers.append(result.model)
            load.findings += result.findings
            load.notes += result.notes
            load.files += result.files
            load.fragmentFiles.formUnion(result.files)
            consume(result.files)
        }
        // Files a configuration read through its includes (mime.types, fastcgi_params) were used, not skipped.
        let skipped = skippedUnknown.filter { !consumed.contains(tree.displayPath($0)) && !consumedReal.contains(tree.realPath($0)) }.count
        if skipped > 0 {
            load.notes.append("\(skipped) file\(skipped == 1 ? " was" : "s were") found while walking directories but not recognised as an input format, and skipped")
        }
        if !unincluded.isEmpty {
            load.notes.append("not analysed because no main configuration includes them: \(AuditRunner.list(unincluded.sorted()))")
        }
        load.model = WebServerModel(servers: servers)
        return load
    }

    /// The findings that say a server will not start (a refused directive, a missing include,
    /// certificate or key): the rule ids that can, when they predict the 521 of a server that is down.
    static let startFailureRules: Set<String> = ["input.parse-error", "input.include-missing", "tls.cert-missing",
                                                 "tls.key-mismatch", "tls.key-encrypted"]

    /// A start failure in a file that nothing includes: the file is not serving configuration, so
    /// no server fails to start because of it. Kept as a warning about the file, without the 521.
    static func notStarting(_ finding: Finding) -> Finding {
        let startWords = ["refuses to start", "will not start", "won't start", "does not start", "cannot start"]
        guard startFailureRules.contains(finding.ruleId),
              finding.predicts?.contains("521") == true || startWords.contains(where: finding.message.contains) else { return finding }
        var result = finding
        result.severity = min(result.severity ?? .warning, .warning)
        result.predicts = nil
        result.message += " — once a main configuration includes this file; none here does, so it is not serving configuration and no server start depends on it"
        return result
    }

    /// Runs the rules over loaded inputs and finishes the findings: catalog defaults, disabled
    /// rules, severity overrides, suppressions (an expired one stops hiding its findings and
    /// says so), report order.
    public static func finish(_ loaded: LoadedInputs, profile: Profile, config: ProjectConfig,
                              catalog: RuleCatalog) async -> AuditReport {
        // Finished in place, in the one array that holds every finding: a large estate has tens of
        // thousands, and each copy of the array (or of a set of them) costs as much as the array.
        // The rules' findings come completed from the catalog (each rule's on its own core).
        var findings = await RuleRegistry.run(loaded.model, profile: profile, disabled: config.disabled, completing: catalog)
        findings.insert(contentsOf: loaded.findings.map(catalog.complete), at: 0)
        var suppressed = 0
        var notes = loaded.notes
        var usedSuppressions = Set<Int>()
        var kept = 0
        // Each finding completed where it is (its box is the array's own: nothing is copied),
        // and the ones kept moved to the front; what they change places with is dropped.
        let checkUnincluded = !loaded.unincludedFiles.isEmpty
        for index in findings.indices {
            if !config.disabled.isEmpty && config.disabled.contains(findings[index].ruleId) { continue }
            if checkUnincluded, let file = findings[index].location?.file, loaded.unincludedFiles.contains(file) {
                findings[index] = notStarting(findings[index])
            }
            if !config.severityOverrides.isEmpty, let override = config.severityOverrides[findings[index].ruleId] {
                findings[index].severity = override
            }
            if !config.suppressions.isEmpty, let match = config.suppressions.firstIndex(where: { $0.matches(findings[index]) }) {
                usedSuppressions.insert(match)
                let suppression = config.suppressions[match]
                if let expires = suppression.expires, expires <= profile.at {
                    findings[index].message += " (a suppression of this finding expired on \(Profile.format(expires)): \(suppression.reason))"
                    findings[index].related.append(RelatedLocation(suppression.location, "expired suppression"))
                } else {
                    suppressed += 1
                    continue
                }
            }
            if kept != index { findings.swapAt(kept, index) }
            kept += 1
        }
        findings.removeSubrange(kept...)
        for (index, suppression) in config.suppressions.enumerated() where !usedSuppressions.contains(index) {
            notes.append("suppression at \(suppression.location) (\(suppression.ruleId)) matched no finding")
        }
        var ties: [Bool] = []
        let largestGroup = Finding.sortInReportOrder(&findings, ties: &ties)
        removeDuplicates(sorted: &findings, ties: ties)
        // Removing duplicates only shortens groups: none over the limit before, none after.
        if largestGroup > FindingList.defaultLimit { findings = capped(findings) }
        // Redaction rarely changes anything; only then can the order change (the sort is stable,
        // so sorting the unchanged list again would give the same list).
        if redactAll(&findings) { findings.sort(by: Finding.reportOrder) }
        notes = notes.map(KeyMaterial.redacted)
        let unimplemented = Set(catalog.rules.keys).subtracting(RuleRegistry.implementedIds)
        if !unimplemented.isEmpty {
            notes.append("\(unimplemented.count) of \(catalog.rules.count) catalog rules are not implemented in this build and were not checked (see `originaudit rules`)")
        }
        return AuditReport(
            toolVersion: ToolInfo.version, cdn: profile.cdn.name, tlsMode: profile.tlsMode, at: profile.at,
            findings: findings, files: loaded.model.files, notes: notes, suppressedCount: suppressed, catalog: catalog)
    }

    /// At most `limit` items, then "and N more": notes stay readable on a large estate.
    static func list(_ items: [String], limit: Int = 10) -> String {
        items.count <= limit ? items.joined(separator: ", ") : items.prefix(limit).joined(separator: ", ") + " and \(items.count - limit) more"
    }

    /// Each finding `redacted` in place, in slices side by side on a large report (every text of
    /// every finding is searched); whether any changed.
    static func redactAll(_ findings: inout [Finding]) -> Bool {
        let slices = findings.count < 4096 ? 1 : 8
        return findings.withUnsafeMutableBufferPointer { buffer in
            // Each slice writes only its own findings, whose boxes no other holds: no two threads
            // touch one finding.
            let all = SliceAccess(buffer: buffer)
            let changed = ConcurrentSlots<Bool>.fill(count: slices) { slice in
                var any = false
                let size = (all.buffer.count + slices - 1) / slices
                for index in slice * size..<min(all.buffer.count, (slice + 1) * size) {
                    if let clean = redacted(all.buffer[index]) { all.buffer[index] = clean; any = true }
                }
                return any
            }
            return changed.contains(true)
        }
    }

    private struct SliceAccess: @unchecked Sendable {
        let buffer: UnsafeMutableBufferPointer<Finding>
    }

    /// A finding with any PEM armour its text quotes (a key pasted into a directive) cut out, or
    /// nil when its text quotes none (`KeyMaterial.redacted` then returns the same string, whose
    /// comparison stops at the shared storage).
    static func redacted(_ finding: Finding) -> Finding? {
        // Each text looked at in place first (nearly always none quotes a key): the finding's
        // strings are not copied, so their counts of references, shared with the other
        // slices' findings, are not changed from two threads.
        guard KeyMaterial.hasBeginMarker(finding.message)
            || finding.remediation.map(KeyMaterial.hasBeginMarker) == true
            || finding.related.contains(where: { KeyMaterial.hasBeginMarker($0.message) }) else { return nil }
        let message = KeyMaterial.redacted(finding.message)
        let remediation = finding.remediation.map(KeyMaterial.redacted)
        var related = finding.related
        var changed = message != finding.message || remediation != finding.remediation
        // Rebuilt only where a text changes (a finding's related places are otherwise left alone).
        for index in related.indices {
            let clean = KeyMaterial.redacted(related[index].message)
            if clean != related[index].message {
                related[index].message = clean
                changed = true
            }
        }
        guard changed else { return nil }
        var finding = finding
        finding.message = message
        finding.remediation = remediation
        finding.related = related
        return finding
    }

    /// `FindingList.capped(findings)`, which returns its input as it is when no file and rule id
    /// has more findings than the limit: counted here first without building its string keys.
    /// (Its key joins file and rule id with a NUL; with no NUL in a rule id, two keys are equal
    /// exactly when file and rule id are, so these counts are its counts.) In report order one
    /// file's findings are together, so each file's rule ids are counted in a short list.
    static func capped(_ findings: [Finding]) -> [Finding] {
        let limit = FindingList.defaultLimit
        guard findings.count > limit else { return findings }
        var file: String?
        var counts: [(ruleId: String, count: Int)] = []
        for index in findings.indices {
            let ruleId = findings[index].ruleId
            if ruleId.utf8.contains(0) { return FindingList.capped(findings) }
            let place = findings[index].location?.file ?? ""
            if place != file {
                file = place
                counts.removeAll(keepingCapacity: true)
            }
            if let seen = counts.firstIndex(where: { $0.ruleId == ruleId }) {
                counts[seen].count += 1
                if counts[seen].count > limit { return FindingList.capped(findings) }
            } else {
                counts.append((ruleId, 1))
            }
        }
        return findings
    }

    /// The same finding reported twice (a file loaded from two contexts) is shown once: removed
    /// in place from findings in report order, keeping the first. Equal findings sort together
    /// (report order compares place, rule id and message, which they share) and the sort is
    /// stable, so the one kept is the one that came first before sorting. Only findings that tie
    /// in report order are compared (every field). `ties`, when given, tells for each finding
    /// whether it ties with the one before it (`Finding.sortInReportOrder` finds that from its
    /// keys); otherwise neighbours are compared in report order.
    static func removeDuplicates(sorted findings: inout [Finding], ties: [Bool]? = nil) {
        var kept = 0
        // The kept findings from `tie` on tie with each other in report order.
        var tie = 0
        var tied: Set<Finding>?
        for index in findings.indices {
            var duplicate = false
            // (A finding that ties with the one before it ties with every finding since `tie`.)
            if kept > tie && (ties.map { $0[index] } ?? !Finding.reportOrder(findings[tie], findings[index])) {
                let finding = findings[index]
                if tied == nil && kept - tie <= 8 {
                    duplicate = findings[tie..<kept].contains(finding)
                } else {
                    if tied == nil { tied = Set(findings[tie..<kept]) }
                    duplicate = !tied!.insert(finding).inserted
                }
            } else {
                tie = kept
                tied = nil
            }
            if duplicate { continue }
            // Moved, not copied: what it changes places with is a dropped duplicate.
            if kept != index { findings.swapAt(kept, index) }
            kept += 1
        }
        findings.removeSubrange(kept...)
    }

    /// The address family a firewall file's name suggests (`rules.v6`); only firewall loaders
    /// use it, and on a large tree most files are not firewall files.
    static func familyHint(_ kind: InputKind, _ hostPath: String) -> AddressFamily? {
        kind.isFirewall ? InputClassifier.familyHint(name: hostPath) : nil
    }

    static func firewallKind(_ kind: InputKind) -> FirewallInputKind {
        switch kind {
        case .iptablesRules: .iptablesRules
        case .ipset: .ipset
        case .nftJSON: .nftJSON
        case .nftText: .nftText
        default: .iptablesSave
        }
    }

    /// Every file below a directory, depth-first in bytewise name order, skipping VCS and build
    /// folders and hidden files. Symbolic links to directories are not descended (one tree
    /// linked from three places is audited once; includes still follow them); links to files
    /// are listed, and the caller reads each real file once.
    static func walk(_ directory: String, tree: SourceTree) -> [String] {
        var result: [String] = []
        var stack = [directory]
        var visited = Set<String>()
        while let current = stack.popLast() {
            guard visited.insert(tree.realPath(current)).inserted else { continue }
            var subdirectories: [String] = []
            // Remembered: the loaders' include globs list the same directories (until the tree
            // forgets its resolutions, after loading).
            let names = tree.listDirectory(current, remember: true).filter { !$0.hasPrefix(".") }
            // Telling a directory from a file costs a stat (and a path resolution under the
            // root) per entry, thousands in one certificate store: on all cores, order kept.
            let entries = ConcurrentSlots<(path: String, isDirectory: Bool)>.fill(count: names.count) { index in
                // Held to the end of the run (the files found, the certificate inventory's paths):
                // in storage of its size, not the capacity appending left it (144 bytes, not 96).
                let path = (current as NSString).appendingPathComponent(names[index]).exactlySized
                return (path, tree.isDirectory(path))
            }
            for (name, entry) in zip(names, entries) {
                guard let (path, isDirectory) = entry else { continue }
                if isDirectory {
                    if !skippedDirectories.contains(name) && !tree.isSymbolicLink(path) { subdirectories.append(path) }
                } else {
                    // Listed even when it cannot be read: a link out of the root or a loop is said, not skipped silently.
                    result.append(path)
                }
            }
            stack += subdirectories.reversed()
        }
        return result
    }
}

/// Work started on a thread of its own while the caller does something else; `value` waits
/// for it. A thread of its own, not a task or a dispatch queue: the caller is synchronous and
/// blocks until the result is there, and dispatch's global queues run no more blocks at once
/// than there are cores (the loaders' own `concurrentPerform` fills them), so work queued
/// there would wait for them instead of running beside them.
final class Background<Value: Sendable>: Sendable {
    private let result = Mutex<(value: Value, milliseconds: Int)?>(nil)
    private let done = DispatchGroup()

    init(_ work: @escaping @Sendable () -> Value) {
        done.enter()
        Thread { [self] in
            let (value, milliseconds) = timed(work)
            result.withLock { $0 = (value, milliseconds) }
            done.leave()
        }.start()
    }

    /// The result, once the work is done.
    var value: Value {
        done.wait()
        return result.withLock { $0!.value }
    }

    /// How long the work took, once it is done.
    var milliseconds: Int {
        done.wait()
        return result.withLock { $0!.milliseconds }
    }
}

/// `work`'s result and how long it took, in milliseconds (for `--timings`).
func timed<Value>(_ work: () -> Value) -> (Value, Int) {
    let start = DispatchTime.now()
    let value = work()
    return (value, Int((DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1_000_000))
}
