import OriginAuditCore

/// A directive as nginx reads it: its name, arguments, where it was written, and either its block
/// (`server { ... }`) or, for `include`, the files it pulled in (indices into `NginxConfigTree.files`).
/// A class: the tree is built once and then only read, and walking it (in every context an
/// included file appears in) should share nodes, not copy them.
public final class NginxDirective: Sendable {
    public let name: String
    public let args: [NginxArgument]
    /// Index of the file in `NginxConfigTree.files`.
    public var file: Int { Int(storedFile) }
    /// Line and column within the file's own text (1-based; columns count Unicode scalars).
    public var line: Int { Int(storedLine) }
    public var column: Int { Int(storedColumn) }
    /// The line of the `;` or `{` that ends the statement: where nginx reports a directive's errors.
    public var endLine: Int { Int(storedEndLine) }
    /// The four above, stored in 32 bits (a file is at most `SourceTree.maxFileSize` bytes): a
    /// large estate has hundreds of thousands of directives.
    private let storedFile: Int32, storedLine: Int32, storedColumn: Int32, storedEndLine: Int32
    /// The block's directives; nil for a directive ended by `;`. A `*_by_lua_block` has no block:
    /// its Lua text is the last argument, as crossplane shows it.
    public let block: [NginxDirective]?
    /// For `include`: the files it names, in the order nginx reads them (glob(3) order).
    public let includes: [Int]?
    /// The name's number in `NginxNameTable` (0: a name it does not know).
    let nameNumber: UInt16

    /// A directive as written at `line`:`column` of file number `file`.
    public convenience init(name: String, args: [NginxArgument], file: Int, line: Int, column: Int,
                            block: [NginxDirective]? = nil, includes: [Int]? = nil, endLine: Int? = nil) {
        self.init(name: name, nameNumber: NginxNameTable.shared.number(of: name), args: args, file: file, line: line,
                  column: column, block: block, includes: includes, endLine: endLine)
    }

    /// A directive whose name the lexer has already numbered.
    init(name: String, nameNumber: UInt16, args: [NginxArgument], file: Int, line: Int, column: Int,
         block: [NginxDirective]?, includes: [Int]?, endLine: Int?) {
        self.name = name
        self.nameNumber = nameNumber
        self.args = args
        storedFile = Int32(file)
        storedLine = Int32(line)
        storedColumn = Int32(column)
        storedEndLine = Int32(endLine ?? line)
        self.block = block
        self.includes = includes
    }

    /// Which of the names the loader acts on this is (`.other` for any other).
    var kind: NginxName { NginxName(rawValue: nameNumber) ?? .other }

    /// What the parser, the check and the builder know of the name.
    var traits: NginxNameTable.Traits { NginxNameTable.shared.traits[Int(nameNumber)] }

    /// Argument values, as nginx hands them to the directive.
    public var values: [String] { args.map(\.value) }

    /// The value of argument `index`, if there is one.
    public func value(_ index: Int) -> String? { index < args.count ? args[index].value : nil }
}

/// A directive while its statement is being read.
struct NginxDirectiveDraft {
    var name: String
    var nameNumber: UInt16
    var args: [NginxArgument]
    var file: Int
    var line: Int
    var column: Int
    var endLine: Int
    var block: [NginxDirective]?
    var includes: [Int]?

    var directive: NginxDirective {
        NginxDirective(name: name, nameNumber: nameNumber, args: args, file: file, line: line, column: column, block: block,
                       includes: includes, endLine: endLine)
    }
}

/// One configuration file: its path as nginx names it and its top-level directives.
public struct NginxConfigFile: Sendable {
    /// The path nginx knows it by (`/etc/nginx/sites-enabled/a`), a host path for files on disk.
    public var path: String
    /// The file shown in reports: the file itself, or the `nginx -T` dump it was cut from.
    public var display: String
    /// Lines of `display` before this file's first line (the position of its `# configuration file` marker in a dump).
    public var lineOffset: Int
    /// Its top-level directives, `include`s unexpanded (they name files by index).
    public var directives: [NginxDirective]
    /// Whether its text was read (false: unreadable; a finding says why).
    public var isRead: Bool

    /// A file known by `path`, shown as `display`.
    public init(path: String, display: String, lineOffset: Int = 0, directives: [NginxDirective] = [], isRead: Bool = false) {
        self.path = path
        self.display = display
        self.lineOffset = lineOffset
        self.directives = directives
        self.isRead = isRead
    }
}

/// Every file of one nginx configuration, the main one first, each parsed once. A file included from
/// several places appears once here and is walked in each including context by the model builder.
public struct NginxConfigTree: Sendable {
    /// Every file read, the main one (or the dump's first) at index 0.
    public var files: [NginxConfigFile]
    /// input.parse-error, input.include-missing, input.unreadable, input.unresolved raised while reading.
    public var findings: [Finding]
    /// What was not read and why (shown in reports).
    public var notes: [String]
    /// The directory relative paths resolve against (nginx's conf prefix: the main file's directory).
    public var prefix: String

    /// A read configuration: its files (main first), what reading raised, and the conf prefix.
    public init(files: [NginxConfigFile] = [], findings: [Finding] = [], notes: [String] = [], prefix: String = "/") {
        self.files = files
        self.findings = findings
        self.notes = notes
        self.prefix = prefix
    }

    /// Where a directive was written, as reports show it.
    public func location(of directive: NginxDirective) -> SourceLocation {
        SourceLocation(file: files[directive.file].display, line: directive.line + files[directive.file].lineOffset,
                       column: directive.column)
    }
}

/// What the parser knows of nginx's directive table, for the structural errors nginx reports.
enum NginxGrammar {
    /// Directive names that are blocks wherever they appear; a `;` after one is "has no opening {".
    /// (`server` is not among them: inside `upstream` it is a simple directive.)
    static let blockDirectives: Set<String> = [
        "http", "events", "location", "upstream", "if", "limit_except", "map", "geo",
        "split_clients", "charset_map", "stream", "mail",
    ]
    /// Blocks whose contents nginx hands to a custom handler line by line: a `{` inside is an error.
    static let dataBlocks: Set<String> = ["types", "map", "geo", "split_clients", "charset_map"]
    /// Common directives that never take a block; a `{` after one is "is not terminated by ;".
    static let simpleDirectives: Set<String> = [
        "listen", "server_name", "root", "alias", "index", "return", "rewrite", "proxy_pass", "fastcgi_pass",
        "uwsgi_pass", "grpc_pass", "include", "ssl_certificate", "ssl_certificate_key", "ssl_protocols",
        "ssl_ciphers", "add_header", "allow", "deny", "set", "try_files", "error_page", "access_log",
        "error_log", "keepalive_timeout", "proxy_set_header", "proxy_read_timeout", "worker_processes",
        "user", "pid", "worker_connections", "sendfile", "default_type", "gzip", "set_real_ip_from",
        "real_ip_header", "real_ip_recursive", "limit_req", "limit_req_zone", "limit_conn", "limit_conn_zone",
    ]
    static let maxDepth = 128

    static func isLuaBlock(_ name: String) -> Bool { name.hasSuffix("_by_lua_block") }
}

/// Turns one file's bytes into directives, as `ngx_conf_parse` would, but reading on after errors.
struct NginxFileParser {
    typealias IncludeResolver = (_ pattern: String, _ line: Int, _ column: Int) -> [Int]

    private var lexer: NginxLexer
    private let file: Int
    private let resolveInclude: IncludeResolver
    private var reportedEndOfFile = false
    private let names = NginxNameTable.shared
    private(set) var errors: [NginxSyntaxError] = []

    /// Parses a whole file. `resolveInclude` is asked for the files an `include` names.
    static func parse(_ bytes: UnsafeBufferPointer<UInt8>, file: Int,
                      resolveInclude: @escaping IncludeResolver) -> (directives: [NginxDirective], errors: [NginxSyntaxError]) {
        var parser = NginxFileParser(lexer: NginxLexer(bytes), file: file, resolveInclude: resolveInclude)
        if bytes.count >= 3 && bytes[0] == 0xEF && bytes[1] == 0xBB && bytes[2] == 0xBF {
            parser.errors.append(NginxSyntaxError(
                message: "the file starts with a UTF-8 byte-order mark, which nginx reads as part of the first directive's name",
                line: 1, column: 1))
        }
        let directives = parser.parseBlock(isFile: true, isData: false, depth: 0)
        var errors = parser.errors + parser.lexer.errors
        errors.sort { ($0.line, $0.column) < ($1.line, $1.column) }
        return (directives, errors)
    }

    private init(lexer: NginxLexer, file: Int, resolveInclude: @escaping IncludeResolver) {
        self.lexer = lexer
        self.file = file
        self.resolveInclude = resolveInclude
    }

    private mutating func error(_ message: String, line: Int, column: Int = 0) {
        errors.append(NginxSyntaxError(message: message, line: line, column: column))
    }

    private mutating func parseBlock(isFile: Bool, isData: Bool, depth: Int) -> [NginxDirective] {
        var directives: [NginxDirective] = []
        while true {
            let statement = lexer.nextStatement()
            switch statement.terminator {
            case .endOfFile:
                if !statement.isEmpty { directives.append(directive(statement).directive) }
                if !isFile && !reportedEndOfFile {
                    error("unexpected end of file, expecting \"}\"", line: statement.endLine)
                    reportedEndOfFile = true
                }
                return directives
            case .blockEnd:
                if isFile {
                    if lexer.braceAlreadyReported { continue }
                    error("unexpected \"}\"", line: statement.endLine, column: lexer.currentColumn)
                    continue // nginx stops; we drop the stray brace and read on
                }
                return directives
            case .semicolon:
                guard !statement.isEmpty else { continue }
                var node = directive(statement)
                let traits = names.traits[Int(node.nameNumber)]
                if traits.contains(.grammarBlock) && !isData {
                    error("directive \"\(node.name)\" has no opening \"{\"", line: statement.endLine)
                }
                if node.nameNumber == NginxName.include.rawValue {
                    // Inside data blocks (`types`, `map`) only a one-word include is one; there the rest is data.
                    if node.args.count == 1 {
                        node.includes = resolveInclude(node.args[0].value, node.line, node.column)
                    } else if !isData {
                        error("invalid number of arguments in \"include\" directive", line: statement.endLine)
                    }
                }
                directives.append(node.directive)
            case .blockStart:
                if statement.isEmpty {
                    // "unexpected {" was reported; read the anonymous block so braces stay balanced.
                    _ = parseNested(isData: false, depth: depth)
                    continue
                }
                var node = directive(statement)
                if isData {
                    error("unexpected \"{\"", line: statement.endLine)
                    _ = parseNested(isData: false, depth: depth)
                    continue
                }
                if NginxGrammar.isLuaBlock(node.name) {
                    if let lua = lexer.readLuaBlock() {
                        node.args.append(NginxArgument(lua.body, quote: .none))
                    }
                    directives.append(node.directive)
                    continue
                }
                let traits = names.traits[Int(node.nameNumber)]
                if traits.contains(.grammarSimple) {
                    error("directive \"\(node.name)\" is not terminated by \";\"", line: statement.endLine)
                }
                node.block = parseNested(isData: traits.contains(.dataBlock), depth: depth)
                directives.append(node.directive)
            }
        }
    }

    private mutating func parseNested(isData: Bool, depth: Int) -> [NginxDirective] {
        guard depth < NginxGrammar.maxDepth else {
            error("blocks are nested more than \(NginxGrammar.maxDepth) deep; the rest of this block was skipped", line: lexer.line)
            skipBlock()
            return []
        }
        return parseBlock(isFile: false, isData: isData, depth: depth + 1)
    }

    /// Consumes statements up to the brace that closes the current block, without recursion.
    private mutating func skipBlock() {
        var open = 1
        while open > 0 {
            let statement = lexer.nextStatement()
            switch statement.terminator {
            case .blockStart: open += 1
            case .blockEnd: open -= 1
            case .endOfFile: return
            case .semicolon: break
            }
        }
    }

    private func directive(_ statement: NginxStatement) -> NginxDirectiveDraft {
        let first = statement.name!
        return NginxDirectiveDraft(name: first.argument.value, nameNumber: statement.nameNumber, args: statement.args,
                              file: file, line: first.line, column: first.column, endLine: statement.endLine)
    }
}
