import OriginAuditCore

/// A directive or section as httpd's configuration tree holds it after reading: includes
/// spliced in, `<IfModule>`/`<IfDefine>` resolved, macros expanded, `${VAR}` substituted.
/// `<If>`/`<ElseIf>`/`<Else>` stay sections: their bodies apply only to some requests.
struct ApacheDirective: Sendable {
    /// As written; a section's name without the `<`.
    var name: String
    /// Directive names are case-insensitive; computed once, as every consumer compares it.
    let lowercasedName: String
    var args: [String]
    var location: SourceLocation
    /// Where httpd reports an error in this directive: the last physical line of a continued
    /// directive (its line counter has moved on), the same place otherwise.
    var errorLocation: SourceLocation
    /// Non-nil for sections.
    var children: [ApacheDirective]?

    init(name: String, args: [String], location: SourceLocation, errorLocation: SourceLocation? = nil,
         children: [ApacheDirective]? = nil) {
        self.name = name
        lowercasedName = name.lowercased()
        self.args = args
        self.location = location
        self.errorLocation = errorLocation ?? location
        self.children = children
    }

    var isSection: Bool { children != nil }
}

/// One file httpd reads, in the order `apache2ctl -t -D DUMP_INCLUDES` lists them.
struct ApacheIncludeRecord: Sendable, Hashable {
    /// 0 for the main file, 1 for what it includes, and so on.
    var depth: Int
    /// The line of the `Include` in the including file (httpd's counter), 0 for the main file.
    var includedFromLine: Int
    var hostPath: String
}

/// The read phase of httpd (`ap_build_config` and the directives it executes while reading:
/// Include, Define, LoadModule, ServerRoot, the `<If*>` conditionals, mod_macro). It never
/// stops at an error: each one becomes a finding at the line httpd would name, and reading goes on.
final class ApacheConfigReader {
    /// Modules compiled into Debian's apache2 (`apache2ctl -M` lists them as static).
    static let builtInModules = ["core_module", "so_module", "watchdog_module", "http_module",
                                 "log_config_module", "logio_module", "version_module", "unixd_module"]
    /// httpd's limit on nested includes (AP_MAX_INCLUDE_DEPTH).
    static let maxIncludeDepth = 128
    /// Ours on nested sections (httpd has none): the model walks sections recursively.
    static let maxSectionDepth = 256
    /// httpd's MAX_STRING_LEN: mod_macro substitutes each body line, with its newline, in a
    /// buffer of this size, and refuses the configuration ("cannot substitute, buffer size too
    /// small") when a substitution would fill it — `apache2 -t` accepts 8,190 bytes, refuses 8,191.
    static let macroLineBuffer = 8192
    /// Ours on what one `Use` line may expand to, nested uses included: the bound of a `${VAR}`
    /// line. httpd has none: macros each using the one before twice expand 2^n times (n = 16
    /// took `apache2 -t` 7 s and 0.2 GB here, n = 20 took 173 s and 4.4 GB).
    static let maxUseExpansion = ApacheSyntax.maxExpandedLength
    /// Ours on all macro expansion of one read (a file of many such `Use` lines).
    static let maxMacroExpansion = 16 * ApacheSyntax.maxExpandedLength

    struct Macro {
        var name: String
        var parameters: [String]
        var body: [ApacheLine]
        var location: SourceLocation
    }

    let tree: SourceTree
    /// The ServerRoot as the configuration names it (an absolute path, before `--root` mapping).
    private(set) var serverRoot: String
    private var defines: Set<String> = []
    private var variables: [String: String] = [:]
    private let environment: [String: String]
    private(set) var modules: [ConfigValue<String>] = []
    private var moduleNames: Set<String> = []
    private var moduleSources: Set<String> = []
    private var macros: [String: Macro] = [:]
    private var activeFiles: [String] = []
    private var activeMacros: [String] = []
    /// Bytes the outermost `Use` being expanded may still produce (nested uses included), and
    /// whether it already passed them (its remaining uses then expand to nothing).
    private var useBudget = 0
    private var useOverflowed = false
    /// Bytes every macro expansion of this read produced.
    private var macroBytes = 0

    private(set) var findings: [Finding] = []
    private(set) var notes: [String] = []
    /// Display paths of every file read, in reading order.
    private(set) var files: [String] = []
    private(set) var includes: [ApacheIncludeRecord] = []
    private var reportedUnresolved: Set<String> = []
    /// Variables whose Define expanded past `ApacheSyntax.maxExpandedLength`: lines using them are skipped too.
    private var oversizedVariables: Set<String> = []
    /// The line of the Include httpd executed last, at any depth: what DUMP_INCLUDES prints
    /// next to each file (so files after a nested include show the nested Include's line).
    private var lastIncludeLine = 0

    /// `staticModules`: the modules compiled into the httpd binary (nil: Debian's).
    init(tree: SourceTree, serverRoot: String, defines: [String], environment: [String: String], staticModules: [String]? = nil) {
        self.tree = tree
        self.serverRoot = serverRoot
        // `-D` names and `Define`s live in one table in httpd: UnDefine removes either.
        self.defines = Set(defines)
        self.environment = environment
        let builtIn = SourceLocation(file: "(built-in)")
        for name in staticModules ?? Self.builtInModules { registerModule(name, at: builtIn) }
    }

    /// For a lone fragment whose tree has no module list: `<IfModule X>` is taken as true (and
    /// `<IfModule !X>` as false), said once in the notes.
    var assumeModulesLoaded = false
    private var notedAssumption = false

    /// Registers the modules a Debian tree enables (`mods-enabled/*.load`), read statically, for
    /// a fragment read without its main file.
    func preloadModules(fromLoadFiles hostPaths: [String]) {
        for hostPath in hostPaths {
            guard case .success(let bytes) = tree.read(hostPath) else { continue }
            let display = tree.displayPath(hostPath)
            for line in ApacheSyntax.lines(bytes) where line.text[0] != UInt8(ascii: "#") {
                let words = ApacheSyntax.words(line.text)
                if words.count >= 2 && words[0].lowercased() == "loadmodule" {
                    registerModule(words[1], at: SourceLocation(file: display, line: line.line, column: line.column))
                }
            }
        }
    }

    /// Whether `<Macro>`/`Use` mean anything yet: mod_macro must be loaded before them.
    var macrosAvailable: Bool { assumeModulesLoaded || moduleNames.contains("macro_module") }

    /// The modules loaded so far, by name.
    var loadedModuleNames: Set<String> { moduleNames }

    /// Every name `<IfDefine>` sees: `-D` flags and `Define`s so far.
    var definedNames: Set<String> { defines }

    // MARK: - Files

    /// Reads a file as the main configuration (depth 0) and returns its top-level directives.
    func readMain(hostPath: String) -> [ApacheDirective] {
        readFile(hostPath: hostPath, depth: 0, requestedBy: nil) ?? []
    }

    private func readFile(hostPath: String, depth: Int, requestedBy: SourceLocation?) -> [ApacheDirective]? {
        let display = tree.displayPath(hostPath)
        if activeFiles.contains(hostPath) {
            let chain = (activeFiles + [hostPath]).map(tree.displayPath).joined(separator: " → ")
            findings.append(Finding(ruleId: "input.parse-error",
                                    message: "include cycle: \(chain); httpd would recurse until its nesting limit and refuse to start",
                                    location: requestedBy, key: "include-cycle \(display)"))
            return nil
        }
        // httpd reads the main file and up to 128 nested includes below it (AP_MAX_INCLUDE_DEPTH;
        // measured with apache2 -t: 128 levels start, 129 do not).
        if activeFiles.count > Self.maxIncludeDepth {
            findings.append(Finding(ruleId: "input.parse-error",
                                    message: "Exceeded maximum include depth of \(Self.maxIncludeDepth) at \(display): httpd refuses to start",
                                    location: requestedBy, key: "include-depth \(display)"))
            return nil
        }
        let bytes: [UInt8]
        switch tree.read(hostPath) {
        case .success(let data): bytes = data
        case .failure(let failure):
            findings.append(Finding(ruleId: "input.unreadable", message: "\(display) \(failure)",
                                    location: requestedBy ?? SourceLocation(file: display), key: "unreadable \(display)"))
            return nil
        }
        files.append(display)
        includes.append(ApacheIncludeRecord(depth: depth, includedFromLine: depth == 0 ? 0 : lastIncludeLine, hostPath: hostPath))
        activeFiles.append(hostPath)
        defer { activeFiles.removeLast() }
        return readLines(ApacheSyntax.lines(bytes), file: display, depth: depth, useSite: nil)
    }

    // MARK: - Lines and sections

    private struct Frame {
        var name: String
        var args: [String]
        var location: SourceLocation
        var httpdLine: Int
        var children: [ApacheDirective] = []
        /// A true conditional: its children belong to the enclosing frame.
        var transparent: Bool
    }

    /// Builds the directives of one source (a file or a macro expansion), which must close
    /// every section it opens, as each `ap_build_config` call must.
    private func readLines(_ lines: [ApacheLine], file: String, depth: Int, useSite: SourceLocation?) -> [ApacheDirective] {
        var stack = [Frame(name: "", args: [], location: SourceLocation(file: file), httpdLine: 0, transparent: false)]
        var index = 0
        while index < lines.count {
            let line = lines[index]
            index += 1
            if line.text[0] == UInt8(ascii: "#") { continue }
            let at = useSite ?? SourceLocation(file: file, line: line.line, column: line.column)
            let errorAt = useSite ?? SourceLocation(file: file, line: line.httpdLine, column: line.column)
            var usesOversized = false
            let resolved = ApacheSyntax.resolveVariables(line.text, lookup: lookupVariable, unknown: { name in
                if oversizedVariables.contains(name) { usesOversized = true } else { reportUnresolved(name, at: at) }
            })
            guard let text = resolved, !usesOversized else {
                // Past the bound: the line is not read (a Define's name is remembered as too long).
                let words = ApacheSyntax.words(line.text)
                if words.first?.lowercased() == "define", words.count > 1 { oversizedVariables.insert(words[1]) }
                findings.append(Finding(
                    ruleId: "input.unresolved",
                    message: "this line's ${…} values expand past \(ApacheSyntax.maxExpandedLength) bytes: httpd expands them in full (each doubling doubles its memory, until it aborts), the audit reads no further and skips the line",
                    location: at, key: "\(at.file):\(at.line) expansion too long"))
                continue
            }
            var words = ApacheSyntax.words(text)
            guard !words.isEmpty else { continue }
            let command = words.removeFirst()

            if command.hasPrefix("</") {
                closeSection(command, line: line.text, stack: &stack, at: errorAt)
                continue
            }
            if command.hasPrefix("<") {
                var name = String(command.dropFirst())
                if name.hasSuffix(">") { name.removeLast() }
                var closed = false
                if let last = words.last, last.hasSuffix(">") {
                    closed = true
                    words[words.count - 1].removeLast()
                    if words[words.count - 1].isEmpty { words.removeLast() }
                } else if command.hasSuffix(">") {
                    closed = true
                }
                openSection(name: name, args: words, closed: closed, lines: lines, index: &index,
                            stack: &stack, at: at, errorAt: errorAt, httpdLine: errorAt.line)
                continue
            }
            switch command.lowercased() {
            case "include", "includeoptional":
                guard let pattern = words.first else {
                    parseError("\(command) takes one argument", at: errorAt)
                    continue
                }
                lastIncludeLine = line.httpdLine
                let included = include(pattern, optional: command.lowercased() == "includeoptional",
                                       depth: depth + 1, at: errorAt)
                stack[stack.count - 1].children.append(contentsOf: included)
            case "define":
                guard let name = words.first else {
                    parseError("Define takes one or two arguments", at: errorAt)
                    continue
                }
                defines.insert(name)
                if words.count > 1 { variables[name] = words[1] }
            case "undefine":
                if let name = words.first {
                    defines.remove(name)
                    variables[name] = nil
                }
            case "loadmodule":
                if let name = words.first, !moduleNames.contains(name), words.count > 1 {
                    // httpd loads the file while reading. Where the module directory is in the
                    // tree but the file is not, it cannot start; a tree without the directory
                    // (a configuration repository) says nothing about it.
                    let file = hostPath(serverRootRelative(words[1]))
                    let directory = String(file[..<(file.lastIndex(of: "/") ?? file.startIndex)])
                    if !directory.isEmpty && tree.isDirectory(directory) && !tree.exists(file) {
                        findings.append(Finding(ruleId: "input.parse-error",
                                                message: "Cannot load \(serverRootRelative(words[1])) into server: No such file or directory (\(name)): httpd refuses to start",
                                                location: errorAt, predicts: "521", key: "loadmodule \(name)"))
                    }
                }
                if let name = words.first { registerModule(name, at: at) }
                stack[stack.count - 1].children.append(ApacheDirective(name: command, args: words, location: at, errorLocation: errorAt))
            case "serverroot":
                if let root = words.first { serverRoot = normalise(root.hasPrefix("/") ? root : serverRoot + "/" + root) }
            case "use" where macrosAvailable:
                let expanded = use(words, at: at, errorAt: errorAt, depth: depth)
                stack[stack.count - 1].children.append(contentsOf: expanded)
            case "undefmacro" where macrosAvailable:
                if let name = words.first { macros[name.lowercased()] = nil }
            default:
                stack[stack.count - 1].children.append(ApacheDirective(name: command, args: words, location: at, errorLocation: errorAt))
            }
        }
        if stack.count > 1 && stack[1].transparent {
            // A true conditional's body is read by its own build call, which takes the end of
            // the file for its end: httpd accepts the file, whatever is still open inside
            // (`</VirtualHost> </IfModule>` on one line leaves the <IfModule> open; apache2 -t: Syntax OK).
            while stack.count > 1 { popFrame(&stack) }
        } else if stack.count > 1 {
            // httpd lists every open section and names the outermost one's line.
            let open = stack.dropFirst().reversed().map { "\($0.location.file):\($0.httpdLine): <\($0.name)> was not closed." }
            let outer = stack[1]
            parseError(open.joined(separator: " "),
                       at: SourceLocation(file: outer.location.file, line: outer.httpdLine, column: outer.location.column))
            while stack.count > 1 { popFrame(&stack) }
        }
        return stack[0].children
    }

    private func popFrame(_ stack: inout [Frame]) {
        let frame = stack.removeLast()
        if frame.transparent {
            stack[stack.count - 1].children.append(contentsOf: frame.children)
        } else {
            stack[stack.count - 1].children.append(
                ApacheDirective(name: frame.name, args: frame.args, location: frame.location,
                                errorLocation: SourceLocation(file: frame.location.file, line: frame.httpdLine, column: frame.location.column),
                                children: frame.children))
        }
    }

    private func closeSection(_ command: String, line: [UInt8], stack: inout [Frame], at: SourceLocation) {
        guard stack.count > 1 else {
            parseError("\(command) without matching <\(command.dropFirst(2)) section", at: at)
            return
        }
        if stack[stack.count - 1].transparent {
            // A true conditional's body ends only at a line that is exactly `</Name>` (any
            // case); anything else on it — a comment, a space — and httpd sees a stray close tag.
            let expected = Array("</\(stack[stack.count - 1].name)>".lowercased().utf8)
            if line.count == expected.count && line.map({ $0 | (($0 >= 0x41 && $0 <= 0x5A) ? 0x20 : 0) }) == expected {
                popFrame(&stack)
                return
            }
            if command.lowercased() == String(decoding: expected, as: UTF8.self) || command.lowercased() + ">" == String(decoding: expected, as: UTF8.self) {
                parseError("\(command) without matching <\(command.dropFirst(2)) section", at: at)
                popFrame(&stack)
                return
            }
        }
        guard command.hasSuffix(">") else {
            parseError("\(command)> directive missing closing '>'", at: at)
            return
        }
        let name = command.dropFirst(2).dropLast()
        let top = stack[stack.count - 1]
        if name.lowercased() == top.name.lowercased() {
            popFrame(&stack)
            return
        }
        if top.transparent {
            // The body of a true conditional is read by its own build call: a close tag for a
            // section opened outside it has no match there.
            parseError("\(command) without matching <\(name)> section", at: at)
        } else {
            parseError("Expected </\(top.name)> but saw </\(name)>", at: at)
        }
        // Recover: close up to a matching open section if there is one, else drop the tag.
        if let match = stack.indices.dropFirst().last(where: { stack[$0].name.lowercased() == name.lowercased() }) {
            while stack.count > match { popFrame(&stack) }
        }
    }

    private func openSection(name: String, args: [String], closed: Bool, lines: [ApacheLine], index: inout Int,
                             stack: inout [Frame], at: SourceLocation, errorAt: SourceLocation, httpdLine: Int) {
        let lower = name.lowercased()
        let conditional = ["ifmodule", "ifdefine", "ifversion", "iffile", "ifdirective", "ifsection"].contains(lower)
        // Without mod_macro, <Macro> is an ordinary (unknown) section, as in httpd.
        let macro = lower == "macro" && macrosAvailable
        if conditional || macro {
            if !closed { parseError("<\(name)> directive missing closing '>'", at: errorAt) }
            if args.isEmpty {
                parseError("<\(name)> directive requires additional arguments", at: errorAt)
                soak(name, lines: lines, index: &index, at: errorAt)
                return
            }
        }
        if macro {
            defineMacro(name: name, args: args, lines: lines, index: &index, at: at, errorAt: errorAt)
            return
        }
        if conditional {
            switch evaluate(lower, args: args, at: at) {
            case true:
                stack.append(Frame(name: name, args: args, location: at, httpdLine: httpdLine, transparent: true))
            case false:
                soak(name, lines: lines, index: &index, at: errorAt)
            }
            return
        }
        if stack.count > Self.maxSectionDepth {
            parseError("<\(name)> is nested more than \(Self.maxSectionDepth) sections deep; its contents were skipped", at: errorAt)
            soak(name, lines: lines, index: &index, at: errorAt)
            return
        }
        stack.append(Frame(name: name, args: args, location: at, httpdLine: httpdLine, transparent: false))
    }

    /// `ap_soak_end_container`: skips a false conditional's body, following only section tags.
    /// httpd names the conditional's own line in any error found here.
    private func soak(_ name: String, lines: [ApacheLine], index: inout Int, at: SourceLocation) {
        var open = [name]
        while index < lines.count {
            let text = lines[index].text
            index += 1
            guard text[0] == UInt8(ascii: "<") else { continue }
            let (word, rest) = ApacheSyntax.firstWord(text)
            if word.hasPrefix("</") {
                var closing = word.dropFirst(2)
                if !closing.isEmpty { closing.removeLast() }
                if closing.lowercased() != open[open.count - 1].lowercased() {
                    parseError("Expected </\(open[open.count - 1])> but saw </\(closing)>", at: at)
                }
                open.removeLast()
                if open.isEmpty { return }
            } else {
                var inner = String(word.dropFirst())
                let hasArgs = text[rest...].contains { !ApacheSyntax.isSpace($0) }
                if !hasArgs && inner.hasSuffix(">") { inner.removeLast() }
                open.append(inner)
            }
        }
        parseError("Expected </\(open[0])> before end of configuration", at: at)
    }

    // MARK: - Conditionals

    private func evaluate(_ kind: String, args: [String], at: SourceLocation) -> Bool {
        var argument = args[0]
        var negate = false
        if argument.hasPrefix("!") {
            negate = true
            argument.removeFirst()
        }
        let result: Bool
        switch kind {
        case "ifmodule":
            if assumeModulesLoaded {
                if !notedAssumption {
                    notedAssumption = true
                    notes.append("no module list was found for this fragment: every <IfModule> was read as if its module were loaded")
                }
                return !negate
            }
            result = argument.hasSuffix(".c") ? moduleSources.contains(argument) : moduleNames.contains(argument)
        case "ifdefine":
            result = definedNames.contains(argument)
        case "iffile":
            let path = serverRootRelative(argument)
            result = tree.exists(hostPath(path))
        case "ifversion":
            if let decided = Self.evaluateVersion(args) {
                return decided
            }
            notes.append("<IfVersion \(args.joined(separator: " "))> at \(at) depends on the exact httpd version; its body was read as if true")
            return true
        default:
            notes.append("<\(kind == "ifdirective" ? "IfDirective" : "IfSection") \(args.joined(separator: " "))> at \(at) depends on which modules provide it; its body was read as if true")
            return true
        }
        return result != negate
    }

    /// `<IfVersion>` against httpd 2.4.x for every released x (1 and up); nil when the answer
    /// depends on x or on a regular expression. Omitted parts count as 0, as mod_version says:
    /// `= 2.4` means 2.4.0 exactly.
    static func evaluateVersion(_ args: [String]) -> Bool? {
        var op = "="
        var version = args[0]
        var negate = false
        if args.count >= 2 {
            op = args[0]
            version = args[1]
        }
        if op.hasPrefix("!") {
            negate = true
            op.removeFirst()
        }
        guard ["=", "==", ">", ">=", "<", "<="].contains(op) else { return nil }
        let parts = version.split(separator: ".", omittingEmptySubsequences: false).map { Int($0) }
        guard (1...3).contains(parts.count), parts.allSatisfy({ $0 != nil }) else { return nil }
        let wanted = parts.map { $0! } + Array(repeating: 0, count: 3 - parts.count)
        func holds(_ patch: Int) -> Bool {
            let running = [2, 4, patch]
            let order = running == wanted ? 0 : (running.lexicographicallyPrecedes(wanted) ? -1 : 1)
            switch op {
            case "=", "==": return order == 0
            case ">": return order > 0
            case ">=": return order >= 0
            case "<": return order < 0
            default: return order <= 0
            }
        }
        let first = holds(1)
        // Within 2.4.x the answer can change only at the patch level the condition names.
        let samples = [1, max(1, wanted[2] - 1), max(1, wanted[2]), wanted[2] + 1, 999]
        guard samples.allSatisfy({ holds($0) == first }) else { return nil }
        return first != negate
    }

    // MARK: - Modules, variables, paths

    private func registerModule(_ name: String, at location: SourceLocation) {
        guard !moduleNames.contains(name) else { return }
        moduleNames.insert(name)
        moduleSources.insert(Self.sourceName(ofModule: name))
        modules.append(ConfigValue(name, at: location))
    }

    /// The source file name httpd records for a module (what `<IfModule mod_x.c>` tests).
    static func sourceName(ofModule name: String) -> String {
        let base = name.hasSuffix("_module") ? String(name.dropLast(7)) : name
        switch base {
        case "core": return "core.c"
        case "http": return "http_core.c"
        case "ldap": return "util_ldap.c"
        case "mpm_event", "mpm_prefork", "mpm_worker": return String(base.dropFirst(4)) + ".c"
        default: return "mod_\(base).c"
        }
    }

    private func lookupVariable(_ name: String) -> String? {
        variables[name] ?? environment[name]
    }

    private func reportUnresolved(_ name: String, at location: SourceLocation) {
        let key = "\(location.file):\(location.line):\(name)"
        guard reportedUnresolved.insert(key).inserted else { return }
        findings.append(Finding(ruleId: "input.unresolved",
                                message: "${\(name)} is not defined (no Define, no environment variable, not in envvars); httpd keeps it literally",
                                location: location, key: "var \(name)"))
    }

    private func parseError(_ message: String, at location: SourceLocation) {
        findings.append(Finding(ruleId: "input.parse-error", message: message, location: location))
    }

    /// `ap_server_root_relative`: absolute paths stay, others are joined to ServerRoot.
    func serverRootRelative(_ path: String) -> String {
        path.hasPrefix("/") ? normalise(path) : normalise(serverRoot + "/" + path)
    }

    /// Where an absolute, normalised config path is on this machine: under `--root` when there
    /// is one. The same mapping as `SourceTree.hostPath`, done lexically because the path is
    /// already normalised — it runs for every file and certificate path of every vhost.
    func hostPath(_ configPath: String) -> String {
        guard let root = tree.root?.path, root != "/" else { return configPath }
        if configPath == root || configPath.hasPrefix(root + "/") { return configPath }
        return root + configPath
    }

    /// Removes `.`, empty components and resolves `..` lexically, as `apr_filepath_merge` does.
    func normalise(_ path: String) -> String {
        var parts: [Substring] = []
        for component in path.split(separator: "/", omittingEmptySubsequences: true) {
            if component == "." { continue }
            if component == ".." { if !parts.isEmpty { parts.removeLast() }; continue }
            parts.append(component)
        }
        return "/" + parts.joined(separator: "/")
    }

    // MARK: - Include

    /// `Include`/`IncludeOptional`: a file, a directory (every entry, recursively, sorted
    /// bytewise, hidden files too) or a wildcard pattern (hidden entries only for a pattern that
    /// starts with a dot; wildcards may appear in directory components too).
    private func include(_ pattern: String, optional: Bool, depth: Int, at: SourceLocation) -> [ApacheDirective] {
        let configPath = serverRootRelative(pattern)
        var result: [ApacheDirective] = []
        var failure: String?
        if !SourceTree.hasGlobCharacters(configPath) {
            let host = hostPath(configPath)
            if !tree.exists(host) {
                if !optional {
                    failure = "Could not open configuration file \(configPath): No such file or directory"
                }
            } else {
                includePath(host, depth: depth, at: at, into: &result)
            }
        } else {
            failure = includeWildcard(configPath, optional: optional, depth: depth, at: at, into: &result)
        }
        if let failure {
            findings.append(Finding(ruleId: "input.include-missing",
                                    message: "\(failure): httpd refuses to start",
                                    location: at, key: "include \(pattern)"))
        }
        return result
    }

    private func includePath(_ host: String, depth: Int, at: SourceLocation, directoryDepth: Int = 0,
                             into result: inout [ApacheDirective]) {
        if tree.isDirectory(host) {
            // AP_MAX_INCLUDE_DIR_DEPTH: a directory symlinked into itself ends here.
            guard directoryDepth < Self.maxIncludeDepth else {
                parseError("Directory \(tree.displayPath(host)) exceeds the maximum include directory nesting level of \(Self.maxIncludeDepth). You have probably a recursion somewhere.", at: at)
                return
            }
            for entry in tree.listDirectory(host) {
                includePath(host + "/" + entry, depth: depth, at: at, directoryDepth: directoryDepth + 1, into: &result)
            }
            return
        }
        if let directives = readFile(hostPath: host, depth: depth, requestedBy: at) {
            result.append(contentsOf: directives)
        }
    }

    /// Returns httpd's error message when a non-optional pattern fails.
    private func includeWildcard(_ configPath: String, optional: Bool, depth: Int, at: SourceLocation,
                                 into result: inout [ApacheDirective]) -> String? {
        let components = configPath.split(separator: "/").map(String.init)
        guard let wild = components.firstIndex(where: { SourceTree.hasGlobCharacters($0) }) else { return nil }
        let directory = "/" + components[..<wild].joined(separator: "/")
        let pattern = components[wild]
        let rest = components[(wild + 1)...].joined(separator: "/")
        let hostDirectory = hostPath(directory)
        guard tree.isDirectory(hostDirectory) else {
            return optional ? nil : "Include/IncludeOptional: Could not open directory \(directory): No such file or directory"
        }
        let matches = tree.listDirectory(hostDirectory).filter { name in
            (pattern.hasPrefix(".") || !name.hasPrefix(".")) && SourceTree.fnmatch(pattern, name)
        }
        var matched = false
        for name in matches {
            let hostEntry = hostDirectory + "/" + name
            if rest.isEmpty {
                matched = true
                includePath(hostEntry, depth: depth, at: at, into: &result)
            } else if tree.isDirectory(hostEntry) {
                matched = true
                let deeper = directory == "/" ? "/" + name + "/" + rest : directory + "/" + name + "/" + rest
                if SourceTree.hasGlobCharacters(rest) {
                    if let failure = includeWildcard(deeper, optional: optional, depth: depth, at: at, into: &result) {
                        return failure
                    }
                } else {
                    let host = hostPath(deeper)
                    if tree.exists(host) {
                        includePath(host, depth: depth, at: at, into: &result)
                    } else if !optional {
                        return "Could not open configuration file \(deeper): No such file or directory"
                    }
                }
            }
        }
        if !matched && !optional {
            return "Include/IncludeOptional: No matches for the wildcard '\(pattern)' in '\(directory)', failing"
        }
        return nil
    }

    // MARK: - mod_macro

    private func defineMacro(name: String, args: [String], lines: [ApacheLine], index: inout Int,
                             at: SourceLocation, errorAt: SourceLocation) {
        var body: [ApacheLine] = []
        var closed = false
        while index < lines.count {
            let line = lines[index]
            index += 1
            let (word, _) = ApacheSyntax.firstWord(line.text)
            let lower = word.lowercased()
            if lower == "</macro>" || lower == "</macro" {
                closed = true
                break
            }
            body.append(line)
        }
        if !closed {
            parseError("macro '\(args[0])' (defined on line \(errorAt.line) of \"\(errorAt.file)\") not closed by </\(name)>", at: errorAt)
        }
        macros[args[0].lowercased()] = Macro(name: args[0], parameters: Array(args.dropFirst()), body: body, location: at)
    }

    private func use(_ args: [String], at: SourceLocation, errorAt: SourceLocation, depth: Int) -> [ApacheDirective] {
        guard let name = args.first else {
            parseError("Use takes at least one argument (the macro's name)", at: errorAt)
            return []
        }
        guard let macro = macros[name.lowercased()] else {
            parseError("macro '\(name)' undefined", at: errorAt)
            return []
        }
        let values = Array(args.dropFirst())
        guard values.count == macro.parameters.count else {
            parseError("macro '\(macro.name)' (defined on line \(macro.location.line) of \"\(macro.location.file)\") used with \(values.count) arguments instead of \(macro.parameters.count)", at: errorAt)
            return []
        }
        guard !activeMacros.contains(macro.name.lowercased()) else {
            parseError("recursive use of macro '\(macro.name)' is invalid", at: errorAt)
            return []
        }
        if activeMacros.isEmpty {
            useBudget = Self.maxUseExpansion
            useOverflowed = false
        }
        // The outermost use already passed the bound (reported once, at its line).
        if useOverflowed { return [] }
        // Longest parameter names first, so `$a` does not cut into `$ab`.
        let order = macro.parameters.indices.sorted { macro.parameters[$0].utf8.count > macro.parameters[$1].utf8.count }
        let names = order.map { Array(macro.parameters[$0].utf8) }, replacements = order.map { Array(values[$0].utf8) }
        var substituted: [ApacheLine] = []
        var size = 0
        for (number, line) in macro.body.enumerated() {
            guard let text = Self.substitute(line.text, names: names, values: replacements) else {
                findings.append(Finding(
                    ruleId: "input.parse-error",
                    message: "macro '\(macro.name.lowercased())' (defined on line \(macro.location.line) of \"\(macro.location.file)\") used on line \(errorAt.line) of \"\(errorAt.file)\" error while substituting: while processing line \(number + 1) of macro '\(macro.name.lowercased())' (defined on line \(macro.location.line) of \"\(macro.location.file)\") cannot substitute, buffer size too small (a substituted line must stay under \(Self.macroLineBuffer) bytes): httpd refuses to start",
                    location: errorAt, predicts: "521", key: "\(errorAt.file):\(errorAt.line) macro line too long"))
                return []
            }
            var copy = line
            copy.text = text
            substituted.append(copy)
            size += text.count + 1
        }
        guard size <= useBudget, macroBytes + size <= Self.maxMacroExpansion else {
            useOverflowed = true
            let bound = size > useBudget ? "\(Self.maxUseExpansion) bytes for this Use" : "\(Self.maxMacroExpansion) bytes of macro expansion in all"
            findings.append(Finding(
                ruleId: "input.unresolved",
                message: "this Use of macro '\(macro.name)' expands past \(bound): httpd expands macros in full, however many times they nest (each level that uses the one below twice doubles its time and memory), the audit reads no further and skips the rest of this Use",
                location: at, key: "\(at.file):\(at.line) macro expansion too long"))
            return []
        }
        useBudget -= size
        macroBytes += size
        activeMacros.append(macro.name.lowercased())
        defer { activeMacros.removeLast() }
        return readLines(substituted, file: at.file, depth: depth, useSite: at)
    }

    /// mod_macro's substitution of one body line: each parameter name found (scanning left to
    /// right) is replaced by its value. nil where httpd's buffer overflows: the line as it stands
    /// after any one replacement (the text not yet scanned included), with its newline, must
    /// stay under `macroLineBuffer` bytes.
    static func substitute(_ text: [UInt8], names: [[UInt8]], values: [[UInt8]]) -> [UInt8]? {
        guard !names.isEmpty else { return text }
        var output: [UInt8] = []
        var i = 0
        outer: while i < text.count {
            for (k, name) in names.enumerated() where !name.isEmpty && i + name.count <= text.count {
                if text[i..<(i + name.count)].elementsEqual(name) {
                    i += name.count
                    guard output.count + values[k].count + (text.count - i) + 1 < macroLineBuffer else { return nil }
                    output.append(contentsOf: values[k])
                    continue outer
                }
            }
            output.append(text[i])
            i += 1
        }
        return output
    }
}
