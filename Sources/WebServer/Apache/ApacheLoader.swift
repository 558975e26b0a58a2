import Foundation
import OriginAuditCore

/// Loads Apache httpd configurations into the shared model.
///
/// Reading follows httpd's own two phases. The read phase (ApacheConfigReader) is faithful to
/// server/config.c and util.c: `\` continuations, quoting, `#` only at line start, sections
/// with case-insensitive close tags, Include/IncludeOptional (globs, directories, ServerRoot),
/// Define/UnDefine, `${VAR}`, `<IfModule>` against modules loaded so far, `<IfDefine>`,
/// `<IfVersion>`, mod_macro — checked against `apache2ctl` (DUMP_INCLUDES, -M, -S, -t). Of
/// the walk phase, every directive's name, place and number of arguments is checked against
/// the table learnt from Debian's apache2 (ApacheDirectiveCheck). The model
/// (ApacheModelBuilder) merges the main server into each `<VirtualHost>` as httpd does.
public enum ApacheLoader {
    /// Reads `hostPath` as httpd would (`role` `.main`: apache2.conf/httpd.conf; `.fragment`: a
    /// file no main config includes, read as if included in the server config) and builds the
    /// model. `defines`: `-D` names (`--define`); `environment`: variables for `${VAR}` besides
    /// Define — they win over Debian's `envvars`, which the loader reads itself (statically,
    /// `export NAME=value` lines only; the script is never run).
    /// `staticModules`: the modules compiled into this httpd (live mode reads them from
    /// `apache2ctl -M`); nil assumes Debian's build.
    public static func load(hostPath: String, role: ConfigRole, tree: SourceTree, defines: [String] = [],
                            environment: [String: String] = [:], staticModules: [String]? = nil) -> LoadResult<WebServerConfig> {
        let parsed = read(hostPath: hostPath, role: role, tree: tree, defines: defines, environment: environment, staticModules: staticModules)
        var builder = ApacheModelBuilder(reader: parsed.reader, mainFile: tree.displayPath(hostPath))
        let model = builder.build(parsed.directives)
        var findings = parsed.reader.findings + builder.findings
        let modulesKnown = !parsed.reader.assumeModulesLoaded
        let checked = ApacheDirectiveCheck.check(parsed.directives, modules: parsed.reader.loadedModuleNames, judgeNames: modulesKnown)
        findings += checked.findings
        if modulesKnown {
            findings += ApacheDirectiveCheck.authzFindings(parsed.directives, modules: parsed.reader.loadedModuleNames)
        }
        var notes = parsed.reader.notes + builder.notes + checked.notes
        if role == .fragment {
            notes.insert("\(tree.displayPath(hostPath)) is not included by any main Apache configuration; it was read as if included in the server config, without the main file's modules and defaults", at: 0)
        }
        return LoadResult(model: model, findings: findings, notes: notes,
                          files: parsed.reader.files)
    }

    /// The read phase alone: the directive tree and the reader holding modules, includes and
    /// findings (what the differential tests compare with httpd).
    static func read(hostPath: String, role: ConfigRole, tree: SourceTree, defines: [String],
                     environment: [String: String], staticModules: [String]? = nil) -> (directives: [ApacheDirective], reader: ApacheConfigReader) {
        let configPath = configLevelPath(hostPath, tree: tree)
        let directory = (configPath as NSString).deletingLastPathComponent
        var serverRoot = directory
        if role == .fragment {
            // sites-enabled/x.conf, conf.d/x.conf: ServerRoot is the directory above.
            let parent = (directory as NSString).lastPathComponent
            if parent.hasSuffix("-enabled") || parent.hasSuffix("-available") || parent == "conf.d" {
                serverRoot = (directory as NSString).deletingLastPathComponent
            }
        }
        var variables = envvars(tree: tree, candidates: [serverRoot + "/envvars", "/etc/apache2/envvars"])
        variables.merge(environment) { _, explicit in explicit }
        let reader = ApacheConfigReader(tree: tree, serverRoot: serverRoot, defines: defines, environment: variables, staticModules: staticModules)
        if role == .fragment {
            // A lone site file: its <IfModule>s depend on what the tree enables, if it says.
            let enabled = reader.hostPath(serverRoot + "/mods-enabled")
            let loadFiles = tree.listDirectory(enabled).filter { $0.hasSuffix(".load") }.map { enabled + "/" + $0 }
            if loadFiles.isEmpty { reader.assumeModulesLoaded = true } else { reader.preloadModules(fromLoadFiles: loadFiles) }
        }
        let directives = reader.readMain(hostPath: hostPath)
        return (directives, reader)
    }

    /// The path as the configuration itself would name it: under `--root`, without the root.
    static func configLevelPath(_ hostPath: String, tree: SourceTree) -> String {
        let path = (hostPath as NSString).standardizingPath
        if let root = tree.root?.path, root != "/", path.hasPrefix(root + "/") {
            return String(path.dropFirst(root.count))
        }
        return path
    }

    /// Debian's envvars, read statically: `[export] NAME=value` with `$NAME`/`${NAME}` expanded
    /// from earlier assignments; anything else in the script (conditionals, `unset`) is ignored.
    /// Unknown shell variables expand to nothing, as in the shell.
    static func envvars(tree: SourceTree, candidates: [String]) -> [String: String] {
        for candidate in candidates {
            let host = tree.hostPath(candidate)
            guard tree.exists(host), case .success(let bytes) = tree.read(host) else { continue }
            return parseEnvvars(String(decoding: bytes, as: UTF8.self))
        }
        return [:]
    }

    static func parseEnvvars(_ text: String) -> [String: String] {
        var values: [String: String] = [:]
        for rawLine in text.split(separator: "\n") {
            var line = rawLine.trimmingCharacters(in: .whitespaces)
            if line.hasPrefix("#") { continue }
            if line.hasPrefix("export ") { line = String(line.dropFirst(7)).trimmingCharacters(in: .whitespaces) }
            guard let eq = line.firstIndex(of: "="), line[..<eq].allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }),
                  !line[..<eq].isEmpty else { continue }
            let name = String(line[..<eq])
            var value = String(line[line.index(after: eq)...])
            if let hash = value.range(of: " #") { value = String(value[..<hash.lowerBound]) }
            values[name] = expandShell(value, values)
        }
        return values
    }

    private static func expandShell(_ value: String, _ values: [String: String]) -> String {
        var output = ""
        var chars = Array(value)
        if chars.count >= 2, chars.first == chars.last, chars.first == "\"" || chars.first == "'" {
            if chars.first == "'" { return String(chars.dropFirst().dropLast()) }
            chars = Array(chars.dropFirst().dropLast())
        }
        var i = 0
        while i < chars.count {
            if chars[i] == "$", i + 1 < chars.count {
                if chars[i + 1] == "{", let close = chars[(i + 2)...].firstIndex(of: "}") {
                    let inner = String(chars[(i + 2)..<close])
                    // `${NAME}` only; operators such as `${X##prefix}` are not evaluated.
                    if inner.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }) { output += values[inner] ?? "" }
                    i = close + 1
                    continue
                }
                var j = i + 1
                while j < chars.count && (chars[j].isLetter || chars[j].isNumber || chars[j] == "_") { j += 1 }
                if j > i + 1 {
                    output += values[String(chars[(i + 1)..<j])] ?? ""
                    i = j
                    continue
                }
            }
            if chars[i] == "\"" { i += 1; continue }
            output.append(chars[i])
            i += 1
        }
        return output
    }
}
