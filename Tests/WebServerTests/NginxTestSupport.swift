import Foundation
import OriginAuditCore
import TestSupport
@testable import WebServer

/// A configuration written for a test: relative path → text; `nginx.conf` is the main file.
/// `{{DIR}}` in the text becomes the directory it is written to (for absolute include paths).
struct NginxFixture: Sendable, CustomStringConvertible {
    var name: String
    var files: [String: String]
    /// Whether the real nginx accepts it (`nginx -t`); false for configs that need modules this
    /// nginx lacks (Lua).
    var nginxAccepts = true
    var main = "nginx.conf"

    var description: String { name }

    /// Writes the files under a fresh temporary directory and returns it.
    func write() throws -> URL {
        let directory = try TestTools.temporaryDirectory("nginx-\(name)")
        for (path, text) in files {
            let url = directory.appendingPathComponent(path)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try Data(text.replacingOccurrences(of: "{{DIR}}", with: directory.path).utf8).write(to: url)
        }
        return directory
    }
}

/// A directive as the crossplane differential compares it: name, line, arguments as crossplane
/// renders them, included files by path, block.
struct ComparableDirective: Codable, Equatable, CustomStringConvertible {
    var d: String
    var l: Int
    var a: [String]
    var i: [String]?
    var b: [ComparableDirective]?

    var description: String { "\(d)@\(l) \(a)\(i.map { " includes \($0)" } ?? "")\(b.map { " {\($0.count)}" } ?? "")" }
}

struct CrossplaneResult: Codable {
    var status: String
    var errors: [[String: String?]]?
    var files: [String: [ComparableDirective]]
}

enum NginxTestTools {
    static func load(_ directory: URL, main: String = "nginx.conf", role: ConfigRole = .main, root: URL? = nil) -> LoadResult<WebServerConfig> {
        NginxLoader.load(hostPath: directory.appendingPathComponent(main).path, role: role, tree: SourceTree(root: root, base: directory))
    }

    static func readTree(_ hostPath: String, role: ConfigRole = .main, root: URL? = nil) -> NginxConfigTree {
        NginxConfigReader.read(hostPath: hostPath, role: role, tree: SourceTree(root: root, base: URL(fileURLWithPath: "/")))
    }

    /// Our tree in crossplane's shape: per file path, with crossplane's rendering of arguments (text
    /// as written between the quotes, only `\<quote>` unescaped) and of `if` (parentheses removed).
    static func crossplaneView(_ tree: NginxConfigTree) -> [String: [ComparableDirective]] {
        func view(_ directives: [NginxDirective]) -> [ComparableDirective] {
            directives.map { directive in
                var args = directive.args.map(crossplaneText)
                if directive.name == "if" { args = stripIfParentheses(args) }
                return ComparableDirective(d: directive.name, l: directive.line, a: args,
                                           i: directive.includes.map { $0.map { tree.files[$0].path } },
                                           b: directive.block.map(view))
            }
        }
        var result: [String: [ComparableDirective]] = [:]
        for file in tree.files where file.isRead { result[file.path] = view(file.directives) }
        return result
    }

    static func crossplaneText(_ argument: NginxArgument) -> String {
        guard argument.quote != .none, let raw = argument.rawText else { return argument.raw }
        let quote = Character(Unicode.Scalar(argument.quote.rawValue))
        var out = ""
        var iterator = raw.makeIterator()
        while let c = iterator.next() {
            if c == "\\", let next = iterator.next() {
                if next == quote { out.append(next) } else { out.append(c); out.append(next) }
            } else {
                out.append(c)
            }
        }
        return out
    }

    private static func stripIfParentheses(_ input: [String]) -> [String] {
        var args = input
        guard let first = args.first, let last = args.last, first.hasPrefix("("), last.hasSuffix(")") else { return args }
        args[0] = String(args[0].dropFirst()).trimmingLeadingSpaces()
        args[args.count - 1] = String(args[args.count - 1].dropLast()).trimmingTrailingSpaces()
        let start = args[0].isEmpty ? 1 : 0
        let end = args.count - (args[args.count - 1].isEmpty ? 1 : 0)
        return start < end ? Array(args[start..<end]) : []
    }

    static let crossplaneScript = """
    import crossplane, json, sys
    out = {}
    for path in sys.argv[1:]:
        p = crossplane.parse(path, check_ctx=False, check_args=False)
        files = [c['file'] for c in p['config']]
        def norm(block):
            res = []
            for s in block:
                if s['directive'] == '#': continue  # crossplane adds comments found between arguments even when asked not to
                d = {'d': s['directive'], 'l': s['line'], 'a': s['args']}
                if 'includes' in s: d['i'] = [files[i] for i in s['includes']]
                if 'block' in s: d['b'] = norm(s['block'])
                res.append(d)
            return res
        out[path] = {'status': p['status'], 'errors': [{'file': e.get('file'), 'error': e.get('error'), 'line': str(e.get('line'))} for e in p['errors']],
                     'files': {c['file']: norm(c['parsed']) for c in p['config'] if c['status'] == 'ok'}}
    print(json.dumps(out))
    """

    /// Why crossplane (the reference nginx parser, from PyPI) cannot be asked, or nil.
    static var crossplaneMissing: String? {
        guard let python = TestTools.locate("python3") else { return "python3 is not installed" }
        return (try? TestTools.run(python, ["-c", "import crossplane"], timeout: 20).status) == 0 ? nil : "crossplane is not installed (pip install crossplane)"
    }

    /// `crossplane.parse` on each main file, in one Python process.
    static func crossplane(_ mainFiles: [String]) throws -> [String: CrossplaneResult] {
        let result = try TestTools.run("python3", ["-c", crossplaneScript] + mainFiles, timeout: 120)
        guard result.status == 0 else { throw TestFailure("crossplane failed: \(result.stderr)") }
        return try JSONDecoder().decode([String: CrossplaneResult].self, from: Data(result.stdout.utf8))
    }

    /// The first difference between two directive lists, or nil.
    static func difference(_ ours: [ComparableDirective], _ theirs: [ComparableDirective], path: String = "") -> String? {
        for (index, (a, b)) in zip(ours, theirs).enumerated() {
            if a.d != b.d || a.l != b.l || a.a != b.a || a.i != b.i {
                return "\(path)[\(index)]: ours \(a) vs crossplane \(b)"
            }
            if let d = difference(a.b ?? [], b.b ?? [], path: "\(path)[\(index)] \(a.d)") { return d }
            if (a.b == nil) != (b.b == nil) { return "\(path)[\(index)]: block presence differs: \(a) vs \(b)" }
        }
        if ours.count != theirs.count {
            return "\(path): ours has \(ours.count) directives, crossplane \(theirs.count): "
                + "\(ours.dropFirst(min(ours.count, theirs.count)).first.map(\.description) ?? theirs[ours.count].description)"
        }
        return nil
    }

    /// `nginx -t` on a main file with its own prefix: (accepted, the file and line of the error it reports).
    static func nginxTest(_ mainFile: String, prefix: String) throws -> (accepted: Bool, file: String?, line: Int?, output: String) {
        let result = try TestTools.run("nginx", ["-t", "-q", "-c", mainFile, "-p", prefix + "/", "-g", "pid \(prefix)/nginx.pid;"], timeout: 30)
        let output = result.stderr
        // "... in /path/file.conf:12"
        var file: String?, line: Int?
        if let match = output.firstMatch(of: /\[emerg\].* in (\/\S+):(\d+)/) {
            file = String(match.1)
            line = Int(match.2)
        }
        return (result.status == 0, file, line, output)
    }

}

struct TestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

extension String {
    func trimmingLeadingSpaces() -> String { String(drop { $0.isWhitespace }) }
    func trimmingTrailingSpaces() -> String { String(reversed().drop { $0.isWhitespace }.reversed()) }
}
