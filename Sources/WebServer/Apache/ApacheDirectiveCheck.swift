import OriginAuditCore

/// httpd's second phase (`ap_walk_config`) checks every directive before the server starts: the
/// name must belong to a loaded module ("Invalid command 'X', perhaps misspelled or defined by a
/// module not included in the server configuration"), the section it stands in must allow it
/// ("not allowed here", "cannot occur within <VirtualHost> section"), and it must have as many
/// arguments as it takes ("takes one argument", "must be On or Off"). A failure is
/// `apache2 -t`'s refusal: the server does not start (521). The walk runs after the whole
/// configuration is read, so a module loaded anywhere counts.
///
/// The facts come from `Rules/webserver/apache-directives.yml`, learnt from Debian's apache2 by
/// `Scripts/make-apache-directives`. A name the table lacks is httpd's refusal too when every
/// loaded module is one the table describes; otherwise it may belong to a module the audit does
/// not know, and the report says it was not checked.
enum ApacheDirectiveCheck {
    /// Where a directive stands, as the table names it.
    enum Context: String, Sendable, CaseIterable {
        case server, virtualhost, directory, location, files, limit, `if`
    }

    /// What the table says about one directive.
    struct Shape: Sendable {
        var name: String
        var modules: [String]
        /// Contexts where it is accepted when it stands directly in them.
        var allowed: Set<Context>
        /// Contexts that refuse it wherever they enclose it ("cannot occur within").
        var neverWithin: Set<Context>
        /// Accepted argument counts (upper bound Int.max: "or more"); nil for a flag.
        var counts: [ClosedRange<Int>]?
    }

    struct Table: Sendable {
        /// Lowercased name (sections with their `<`) → shape.
        var directives: [String: Shape]
        /// Modules whose directives the table holds, the built-in ones included.
        var modules: Set<String>
        /// Modules Debian ships that could not be learnt (they do not load here).
        var notLearnt: Set<String>
    }

    static let table: Table = {
        guard let file = EmbeddedRules.files.first(where: { $0.path == "webserver/apache-directives.yml" }) else {
            return Table(directives: [:], modules: [], notLearnt: [])
        }
        return parse(file.contents)
    }()

    /// Reads the table's lines: `  - "NAME | MODULES | CONTEXTS | COUNTS"` under `directives:`,
    /// `  - "MODULE | reason"` under `not-learnt:`.
    static func parse(_ text: String) -> Table {
        var table = Table(directives: [:], modules: Set(ApacheConfigReader.builtInModules), notLearnt: [])
        var section = ""
        for line in text.split(separator: "\n") {
            if !line.hasPrefix(" ") && line.hasSuffix(":") { section = String(line.dropLast()); continue }
            let trimmed = line.drop { $0 == " " }
            guard trimmed.hasPrefix("- \""), trimmed.hasSuffix("\"") else { continue }
            let fields = trimmed.dropFirst(3).dropLast().split(separator: "|", omittingEmptySubsequences: false)
                .map { $0.trimmingCharacters(in: .whitespaces) }
            if section == "not-learnt" {
                if let module = fields.first { table.notLearnt.insert(module) }
                continue
            }
            guard section == "directives", fields.count == 4 else { continue }
            var shape = Shape(name: fields[0], modules: fields[1].split(separator: ",").map(String.init),
                              allowed: [], neverWithin: [], counts: nil)
            for token in fields[2].split(separator: ",") {
                if token.hasPrefix("!") {
                    if let context = Context(rawValue: String(token.dropFirst())) { shape.neverWithin.insert(context) }
                } else if let context = Context(rawValue: String(token)) {
                    shape.allowed.insert(context)
                }
            }
            if fields[3] != "flag" {
                var counts: [ClosedRange<Int>] = []
                for part in fields[3].split(separator: ",") {
                    if part.hasSuffix("+"), let low = Int(part.dropLast()) { counts.append(low...Int.max) }
                    else if let dash = part.firstIndex(of: "-"), let low = Int(part[..<dash]),
                            let high = Int(part[part.index(after: dash)...]), low <= high { counts.append(low...high) }
                    else if let single = Int(part) { counts.append(single...single) }
                }
                shape.counts = counts
            }
            table.directives[fields[0].lowercased()] = shape
            table.modules.formUnion(shape.modules.filter { $0 != "core" })
        }
        return table
    }

    /// Words that mark this check's findings (what the differential test compares with httpd).
    static let findingMarkers = ["Invalid command", "not allowed here", "cannot occur within", " takes ", "must be On or Off"]

    /// Directives httpd executes while reading; the reader handles them (and their errors).
    static let readPhase: Set<String> = ["include", "includeoptional", "define", "undefine", "serverroot", "loadmodule",
                                         "loadfile"]

    /// mod_macro's directives are read-phase too, but only once mod_macro is loaded: the reader
    /// leaves them in the tree when it is not, and then they are httpd's "Invalid command".
    static let macroDirectives: Set<String> = ["use", "undefmacro", "<macro"]

    /// The section a directive's children stand in, as the table names contexts; nil for a
    /// section whose effect on its children the table does not describe (`<Proxy>`,
    /// `<RequireAll>`, a third-party section): their children's places are not judged.
    static func context(ofSection lowercasedName: String) -> Context? {
        switch lowercasedName {
        case "virtualhost": .virtualhost
        case "directory", "directorymatch": .directory
        case "location", "locationmatch": .location
        case "files", "filesmatch": .files
        case "limit", "limitexcept": .limit
        case "if", "elseif", "else": .if
        default: nil
        }
    }

    /// Checks every directive; `judgeNames` is false when the modules loaded are not known (a
    /// lone fragment without its tree's module list): then only places and counts are judged.
    static func check(_ directives: [ApacheDirective], modules: Set<String>, judgeNames: Bool = true) -> (findings: [Finding], notes: [String]) {
        var walker = Walker(modules: modules, judgeNames: judgeNames)
        walker.walk(directives, chain: [], judged: true)
        var notes: [String] = []
        if !walker.unchecked.isEmpty {
            let names = walker.unchecked.sorted()
            let shown = names.prefix(12).joined(separator: ", ") + (names.count > 12 ? ", … (\(names.count) in all)" : "")
            notes.append("Apache: directives of modules outside the audit's table (\(walker.unknownModules.sorted().joined(separator: ", "))) were not checked: \(shown)")
        }
        return (walker.findings, notes)
    }

    private struct Walker {
        let modules: Set<String>
        let judgeNames: Bool
        var findings: [Finding] = []
        var unchecked: Set<String> = []
        /// Loaded modules the table does not describe (third-party ones, or ones not learnt).
        let unknownModules: Set<String>
        let anyMPM: Bool

        init(modules: Set<String>, judgeNames: Bool) {
            self.modules = modules
            self.judgeNames = judgeNames
            unknownModules = modules.filter { !ApacheDirectiveCheck.table.modules.contains($0) && !$0.hasPrefix("mpm_") }
            anyMPM = modules.contains { $0.hasPrefix("mpm_") }
        }

        mutating func walk(_ directives: [ApacheDirective], chain: [Context], judged: Bool) {
            for directive in directives {
                check(directive, chain: chain, judged: judged)
                if let children = directive.children {
                    let inner = ApacheDirectiveCheck.context(ofSection: directive.lowercasedName)
                    walk(children, chain: chain + (inner.map { [$0] } ?? []), judged: judged && inner != nil)
                }
            }
        }

        private mutating func refuse(_ directive: ApacheDirective, _ message: String, remediation: String, key: String) {
            findings.append(Finding(ruleId: "input.parse-error", message: "\(message): httpd refuses to start",
                                    location: directive.errorLocation, predicts: "521", remediation: remediation,
                                    key: "\(key) \(directive.name)"))
        }

        private mutating func check(_ directive: ApacheDirective, chain: [Context], judged: Bool) {
            let name = directive.lowercasedName
            if ApacheDirectiveCheck.readPhase.contains(name) { return }
            let key = directive.isSection ? "<" + name : name
            let shown = directive.isSection ? "<" + directive.name : directive.name
            if ApacheDirectiveCheck.macroDirectives.contains(key) {
                if judgeNames && !modules.contains("macro_module") {
                    refuse(directive, "Invalid command '\(shown)', perhaps misspelled or defined by a module not included in the server configuration (macro_module is not loaded)",
                           remediation: "Load the module (Debian: a2enmod macro) or remove the directive.", key: "invalid-command")
                }
                return
            }
            guard let shape = ApacheDirectiveCheck.table.directives[key] else {
                guard judgeNames else { return }
                if unknownModules.isEmpty {
                    refuse(directive, "Invalid command '\(shown)', perhaps misspelled or defined by a module not included in the server configuration (no module the audit's table describes provides it, and every loaded module is one it describes)",
                           remediation: "Correct the name, or load the module that provides it.", key: "invalid-command")
                } else {
                    unchecked.insert(shown)
                }
                return
            }
            if judgeNames && !shape.modules.contains("core") && !shape.modules.contains(where: provided) {
                // MPM directives are judged only when some MPM is loaded (httpd says "No MPM loaded" first).
                let isMPM = shape.modules.allSatisfy { $0.hasPrefix("mpm_") }
                if !isMPM || anyMPM {
                    let module = shape.modules[0]
                    refuse(directive, "Invalid command '\(shown)', perhaps misspelled or defined by a module not included in the server configuration (\(shape.modules.joined(separator: " or ")) is not loaded)",
                           remediation: "Load the module (Debian: a2enmod \(module.replacingOccurrences(of: "_module", with: ""))) or remove the directive.",
                           key: "invalid-command")
                    return
                }
            }
            // httpd's order: the section that holds it (override), the number of arguments, then
            // the handler's own check of every enclosing section.
            let sectionName = directive.isSection ? "<\(directive.name)>" : directive.name
            if judged {
                let innermost = chain.last { $0 != .virtualhost } ?? chain.last ?? .server
                if !shape.allowed.contains(innermost) && !shape.neverWithin.contains(innermost) {
                    refuse(directive, "\(sectionName) not allowed here (in \(Self.describe(innermost)))",
                           remediation: "Move \(sectionName) to a section that allows it, or remove it.", key: "not-allowed")
                    return
                }
            }
            if let problem = argumentProblem(directive, shape) {
                refuse(directive, problem, remediation: "Give \(sectionName) the arguments it takes.", key: "arguments")
                return
            }
            if judged, let enclosing = chain.first(where: { shape.neverWithin.contains($0) }) {
                refuse(directive, "\(sectionName) cannot occur within \(Self.describe(enclosing))",
                       remediation: "Move \(sectionName) out of that section.", key: "cannot-occur")
            }
        }

        private func provided(_ module: String) -> Bool {
            modules.contains(module) || (module == "evasive20_module" && modules.contains("evasive_module"))
        }

        /// httpd's own count check (`invoke_cmd`); an empty quoted argument ends the list for
        /// httpd in ways that depend on the directive, so such lines are not judged.
        private func argumentProblem(_ directive: ApacheDirective, _ shape: Shape) -> String? {
            let args = directive.args
            if args.contains(where: \.isEmpty) { return nil }
            guard let counts = shape.counts else {
                if let first = args.first, ["on", "off"].contains(first.lowercased()) { return nil }
                return "\(directive.name) must be On or Off"
            }
            if counts.contains(where: { $0.contains(args.count) }) { return nil }
            let takes = counts.map { range in
                range.upperBound == Int.max ? "\(range.lowerBound) or more" : range.count == 1 ? "\(range.lowerBound)" : "\(range.lowerBound)-\(range.upperBound)"
            }.joined(separator: " or ")
            let name = directive.isSection ? "<\(directive.name)>" : directive.name
            return "\(name) takes \(takes) argument\(takes == "1" ? "" : "s"), not \(args.count)"
        }

        static func describe(_ context: Context) -> String {
            switch context {
            case .server: "the server config"
            case .virtualhost: "<VirtualHost>"
            case .directory: "<Directory>"
            case .location: "<Location>"
            case .files: "<Files>"
            case .limit: "<Limit>"
            case .if: "<If>"
            }
        }
    }

    /// `Require` providers and the modules that register them.
    static let authzProviders: [String: String] = [
        "ip": "authz_host_module", "host": "authz_host_module", "forward-dns": "authz_host_module",
        "local": "authz_host_module", "valid-user": "authz_user_module", "user": "authz_user_module",
        "group": "authz_groupfile_module", "file-owner": "authz_owner_module", "file-group": "authz_owner_module",
    ]

    /// "Unknown Authz provider": a `Require` whose provider's module is not loaded.
    static func authzFindings(_ directives: [ApacheDirective], modules: Set<String>) -> [Finding] {
        var findings: [Finding] = []
        func walk(_ directives: [ApacheDirective]) {
            for directive in directives {
                if directive.lowercasedName == "require", modules.contains("authz_core_module"),
                   let provider = requireProvider(directive.args), let module = authzProviders[provider], !modules.contains(module) {
                    findings.append(Finding(
                        ruleId: "input.parse-error",
                        message: "Unknown Authz provider: \(provider) (\(module) is not loaded): httpd refuses to start",
                        location: directive.errorLocation, predicts: "521",
                        remediation: "Load the module (Debian: a2enmod \(module.replacingOccurrences(of: "_module", with: ""))).",
                        key: "authz-provider \(provider)"))
                }
                if let children = directive.children { walk(children) }
            }
        }
        walk(directives)
        return findings
    }

    private static func requireProvider(_ args: [String]) -> String? {
        let words = args.first?.lowercased() == "not" ? Array(args.dropFirst()) : args
        return words.first?.lowercased()
    }
}
