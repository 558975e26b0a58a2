import Foundation
import OriginAuditCore
import Synchronization

/// Reads an nginx configuration into an `NginxConfigTree`: the main file (or a lone fragment, or an
/// `nginx -T` dump) and every file its `include`s name, each parsed once, independent files in
/// parallel. Relative include paths resolve against the main file's directory (nginx's conf
/// prefix); globs expand in glob(3) order; a non-glob include that names nothing is
/// input.include-missing, as nginx refuses to start then.
public enum NginxConfigReader {
    /// Reads `hostPath` in the given role.
    public static func read(hostPath: String, role: ConfigRole, tree: SourceTree) -> NginxConfigTree {
        switch role {
        case .main, .fragment:
            return readFromDisk(hostPath: hostPath, isFragment: role == .fragment, tree: tree)
        case .nginxDump:
            return readDump(hostPath: hostPath, tree: tree)
        }
    }

    /// Where file text comes from: the filesystem, or segments of one `nginx -T` dump.
    private enum TextSource: Sendable {
        case disk(SourceTree)
        case dump(bytes: [UInt8], segments: [NginxDump.Segment])
    }

    // MARK: - Reading

    private static func readFromDisk(hostPath: String, isFragment: Bool, tree: SourceTree) -> NginxConfigTree {
        let path = SourceTree.normalise(hostPath)
        let directory = (path as NSString).deletingLastPathComponent
        var prefix = directory
        var notes: [String] = []
        if isFragment {
            // A lone site file usually lives one level below nginx.conf (sites-enabled/, conf.d/).
            let parent = (directory as NSString).deletingLastPathComponent
            if tree.exists((parent as NSString).appendingPathComponent("nginx.conf")) { prefix = parent }
            notes.append("\(tree.displayPath(path)) is not included by any nginx.conf given: read as if included inside http {}, relative paths against \(tree.displayPath(prefix))")
        }
        let registry = Registry(source: .disk(tree), tree: tree, prefix: prefix, prefixIsGuess: isFragment)
        _ = registry.register(path: path, display: tree.displayPath(path), lineOffset: 0, reference: nil)
        var result = registry.run()
        result.notes = notes + result.notes
        return result
    }

    private static func readDump(hostPath: String, tree: SourceTree) -> NginxConfigTree {
        let display = tree.displayPath(hostPath)
        var bytes: [UInt8]
        switch tree.read(hostPath) {
        case .success(let read): bytes = read
        case .failure(let failure):
            return NginxConfigTree(files: [NginxConfigFile(path: hostPath, display: display, index: 0)],
                                   findings: [Finding(ruleId: "input.unreadable", message: "\(display) \(failure)",
                                                      location: SourceLocation(file: display))])
        }
        NginxDump.blankStatusLines(&bytes)
        let segments = NginxDump.split(bytes)
        guard let first = segments.first else {
            // Not a dump after all: read it as the main file.
            var result = readFromDisk(hostPath: hostPath, isFragment: false, tree: tree)
            result.notes.append("\(display) has no \"# configuration file\" markers: read as a main nginx.conf")
            return result
        }
        let prefix = tree.hostPath((first.name as NSString).deletingLastPathComponent)
        let registry = Registry(source: .dump(bytes: bytes, segments: segments), tree: tree, prefix: prefix, prefixIsGuess: false)
        for segment in segments {
            _ = registry.register(path: segment.name, display: display, lineOffset: segment.markerLine, reference: nil)
        }
        return registry.run()
    }

    /// The shared state of one read: files by path, the ones still to parse, findings. Parsing runs
    /// concurrently, one wave of newly included files after another; only this state is shared.
    private final class Registry: Sendable {
        struct State {
            var files: [NginxConfigFile] = []
            var indexByPath: [String: Int] = [:]
            var firstReference: [Int: SourceLocation] = [:]
            var pending: [Int] = []
            var findings: [Finding] = []
            /// Non-glob includes already resolved to a file (`include fastcgi_params;` in every server).
            var resolved: [String: Int] = [:]
        }

        let source: TextSource
        let tree: SourceTree
        let prefix: String
        let prefixIsGuess: Bool
        let state = Mutex(State())

        init(source: TextSource, tree: SourceTree, prefix: String, prefixIsGuess: Bool) {
            self.source = source
            self.tree = tree
            self.prefix = prefix
            self.prefixIsGuess = prefixIsGuess
        }

        func register(path: String, display: String, lineOffset: Int, reference: SourceLocation?) -> Int {
            state.withLock { Self.register(path: path, display: display, lineOffset: lineOffset, reference: reference, in: &$0) }
        }

        /// `register` of each path (with its display name), in order, under one hold of the lock
        /// (a glob of 2,000 site files took the lock 2,000 times while the other core waited).
        func register(paths: [String], displays: [String], reference: SourceLocation?) -> [Int] {
            state.withLock { state in
                zip(paths, displays).map { Self.register(path: $0, display: $1, lineOffset: 0, reference: reference, in: &state) }
            }
        }

        private static func register(path: String, display: String, lineOffset: Int, reference: SourceLocation?, in state: inout State) -> Int {
            if let index = state.indexByPath[path] { return index }
            let index = state.files.count
            state.files.append(NginxConfigFile(path: path, display: display, lineOffset: lineOffset, index: index))
            state.indexByPath[path] = index
            if let reference { state.firstReference[index] = reference }
            state.pending.append(index)
            return index
        }

        func add(_ finding: Finding) { state.withLock { $0.findings.append(finding) } }

        func run() -> NginxConfigTree {
            while true {
                let wave = state.withLock { state -> [(Int, NginxConfigFile)] in
                    let wave = state.pending.map { ($0, state.files[$0]) }
                    state.pending.removeAll()
                    return wave
                }
                if wave.isEmpty { break }
                let results = Mutex<[(Int, NginxFileSyntax, Bool)]>([])
                DispatchQueue.concurrentPerform(iterations: wave.count) { item in
                    let (index, file) = wave[item]
                    let parsed = parse(index: index, file: file)
                    results.withLock { $0.append((index, parsed.syntax, parsed.isRead)) }
                }
                let parsed = results.withLock { $0 }
                state.withLock { state in
                    for (index, syntax, isRead) in parsed {
                        state.files[index].syntax = syntax
                        state.files[index].isRead = isRead
                    }
                }
            }
            return state.withLock { state in
                NginxConfigTree(files: state.files, findings: state.findings, prefix: prefix)
            }
        }

        /// Parses one file, reporting its syntax errors and resolving its includes.
        private func parse(index: Int, file: NginxConfigFile) -> (syntax: NginxFileSyntax, isRead: Bool) {
            let resolve: NginxFileParser.IncludeResolver = { [self] pattern, line, column in
                resolveInclude(pattern, at: SourceLocation(file: file.display, line: line + file.lineOffset, column: column))
            }
            func parse(_ text: [UInt8], range: Range<Int>? = nil) -> NginxFileSyntax {
                let (syntax, errors) = NginxFileParser.parse(text, range: range, file: index, resolveInclude: resolve)
                for error in errors {
                    add(Finding(ruleId: "input.parse-error", message: "nginx: \(error.message)",
                                location: SourceLocation(file: file.display, line: error.line + file.lineOffset, column: error.column),
                                key: "\(file.path): \(error.message)"))
                }
                return syntax
            }
            switch source {
            case .disk(let tree):
                switch tree.read(file.path) {
                case .success(let bytes):
                    return (parse(bytes), true)
                case .failure(let failure):
                    let reference = state.withLock { $0.firstReference[index] }
                    add(Finding(ruleId: "input.unreadable", message: "\(file.display) \(failure)",
                                location: reference ?? SourceLocation(file: file.display), key: file.path))
                    return (.empty(file: index), false)
                }
            case .dump(let bytes, let segments):
                let segment = segments[index]
                return (parse(bytes, range: segment.range), true)
            }
        }

        /// The files an `include` names, registering new ones; a miss becomes a finding.
        private func resolveInclude(_ pattern: String, at location: SourceLocation) -> [Int] {
            // Only non-glob patterns are remembered: one found needs no test for glob characters.
            if case .disk = source, let index = state.withLock({ $0.resolved[pattern] }) { return [index] }
            let isGlob = SourceTree.hasGlobCharacters(pattern)
            switch source {
            case .disk(let tree):
                let full = tree.hostPath(pattern, relativeTo: prefix)
                if isGlob {
                    // glob(3) sorts whole paths (strcmp in nginx's C locale), not one directory level at a time.
                    let matches = tree.glob(full).sorted(by: ByteOrder.precedes)
                    return register(paths: matches, displays: matches.map(tree.displayPath), reference: location)
                }
                let standardized = SourceTree.normalise(full)
                if !tree.isAllowed(standardized) {
                    add(Finding(ruleId: "input.unreadable",
                                message: "include \"\(pattern)\" resolves to \(standardized), outside --root: not read",
                                location: location, key: pattern))
                    return []
                }
                guard tree.exists(standardized) else {
                    if prefixIsGuess && !pattern.hasPrefix("/") {
                        add(Finding(ruleId: "input.unresolved",
                                    message: "include \"\(pattern)\" is relative and this file was read without its nginx.conf: looked for \(tree.displayPath(standardized)), not found",
                                    location: location, key: pattern))
                    } else {
                        add(Finding(ruleId: "input.include-missing",
                                    message: "include \"\(pattern)\" names \(tree.displayPath(standardized)), which \(tree.explainMissing(standardized)): nginx refuses to start",
                                    location: location, key: pattern))
                    }
                    return []
                }
                let index = register(path: standardized, display: tree.displayPath(standardized), lineOffset: 0, reference: location)
                state.withLock { $0.resolved[pattern] = index }
                return [index]
            case .dump(_, let segments):
                let full = pattern.hasPrefix("/") ? pattern : ((segments[0].name as NSString).deletingLastPathComponent as NSString).appendingPathComponent(pattern)
                let indices = state.withLock { $0.indexByPath }
                if isGlob {
                    let names = segments.map(\.name).filter { NginxDump.pathMatches(pattern: full, path: $0) }
                    return names.sorted(by: ByteOrder.precedes).compactMap { indices[$0] }
                }
                if let index = indices[SourceTree.normalise(full)] ?? indices[full] { return [index] }
                add(Finding(ruleId: "input.unresolved",
                            message: "include \"\(pattern)\" names \(full), which is not in this nginx -T dump",
                            location: location, key: pattern))
                return []
            }
        }
    }
}

/// `nginx -T` output: `# configuration file /path:` then the file's text and one added newline, per file.
enum NginxDump {
    struct Segment: Sendable {
        var name: String
        /// Byte range of the file's text within the dump.
        var range: Range<Int>
        /// The 1-based line of the marker: the file's line N is the dump's line `markerLine + N`.
        var markerLine: Int
    }

    static let marker = Array("# configuration file ".utf8)
    static let statusPrefix = Array("nginx: ".utf8)

    /// `nginx -T 2>&1` mixes nginx's own status lines ("nginx: the configuration file … syntax is
    /// ok") into the dump, possibly inside a file's text; they are blanked (spaces, so lines and
    /// offsets stay) rather than read as directives.
    static func blankStatusLines(_ bytes: inout [UInt8]) {
        var lineStart = 0
        while lineStart < bytes.count {
            var lineEnd = lineStart
            while lineEnd < bytes.count && bytes[lineEnd] != 0x0A { lineEnd += 1 }
            let line = bytes[lineStart..<lineEnd]
            if line.starts(with: statusPrefix) {
                let text = String(decoding: line, as: UTF8.self)
                if text.contains("configuration file") && (text.hasSuffix("syntax is ok") || text.hasSuffix("test is successful")
                                                           || text.hasSuffix("test failed") || text.contains("[warn]")) {
                    for index in lineStart..<lineEnd where bytes[index] != 0x0D { bytes[index] = 0x20 }
                }
            }
            lineStart = lineEnd + 1
        }
    }

    /// Cuts a dump at its markers (a marker is a whole line naming an absolute path and ending in `:`).
    static func split(_ bytes: [UInt8]) -> [Segment] {
        var markers: [(name: String, lineStart: Int, textStart: Int, line: Int)] = []
        var lineStart = 0, line = 1
        while lineStart < bytes.count {
            var lineEnd = lineStart
            while lineEnd < bytes.count && bytes[lineEnd] != 0x0A { lineEnd += 1 }
            var contentEnd = lineEnd
            if contentEnd > lineStart && bytes[contentEnd - 1] == 0x0D { contentEnd -= 1 }
            if contentEnd - lineStart > marker.count + 2, bytes[lineStart..<(lineStart + marker.count)].elementsEqual(marker),
               bytes[lineStart + marker.count] == UInt8(ascii: "/"), bytes[contentEnd - 1] == UInt8(ascii: ":") {
                let name = String(decoding: bytes[(lineStart + marker.count)..<(contentEnd - 1)], as: UTF8.self)
                markers.append((name, lineStart, min(lineEnd + 1, bytes.count), line))
            }
            lineStart = lineEnd + 1
            line += 1
        }
        var segments: [Segment] = []
        for (i, m) in markers.enumerated() {
            var end = i + 1 < markers.count ? markers[i + 1].lineStart : bytes.count
            // nginx writes one newline after each file's text.
            if end > m.textStart && bytes[end - 1] == 0x0A { end -= 1 }
            segments.append(Segment(name: m.name, range: m.textStart..<max(end, m.textStart), markerLine: m.line))
        }
        return segments
    }

    /// glob(3) semantics on a whole path: components match one by one, `*` never crosses `/`,
    /// and a leading dot must be matched explicitly.
    static func pathMatches(pattern: String, path: String) -> Bool {
        let p = pattern.split(separator: "/", omittingEmptySubsequences: false)
        let n = path.split(separator: "/", omittingEmptySubsequences: false)
        guard p.count == n.count else { return false }
        for (pc, nc) in zip(p, n) {
            if nc.hasPrefix(".") && !pc.hasPrefix(".") && SourceTree.hasGlobCharacters(pc) { return false }
            if !SourceTree.fnmatch(String(pc), String(nc)) { return false }
        }
        return true
    }
}
