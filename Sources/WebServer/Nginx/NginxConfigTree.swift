import OriginAuditCore

/// One word of a statement as the lexer found it, in 8 bytes (an estate has about a million): the
/// byte range of its value, in the file's text (between the quotes) or, for a word written with a
/// backslash, in the file's `unescaped` bytes; how it was quoted.
struct NginxWord: Sendable {
    let start: UInt32
    /// The length (a file is at most `SourceTree.maxFileSize`, far below 2^28), the quote in bits
    /// 28-29, `escaped` in bit 30.
    private let packed: UInt32

    init(start: Int, count: Int, quote: NginxArgument.Quote, escaped: Bool = false) {
        self.start = UInt32(start)
        let quoteBits: UInt32 = quote == .double ? 1 : quote == .single ? 2 : 0
        packed = UInt32(count) | quoteBits << 28 | (escaped ? 1 << 30 : 0)
    }

    var count: Int { Int(packed & 0x0FFF_FFFF) }
    var quote: NginxArgument.Quote {
        switch (packed >> 28) & 3 {
        case 1: .double
        case 2: .single
        default: .none
        }
    }
    /// The value differs from the text as written: it is in `unescaped`.
    var escaped: Bool { packed & (1 << 30) != 0 }
}

/// Where a word written with a backslash stands in the text as written (its `NginxWord` locates the value).
struct NginxEscape: Sendable {
    var word: UInt32
    var start: UInt32
    var count: UInt32
}

/// One directive of a parsed file, as a record: its words, where it was written, and its block's
/// directives (or, for `include`, the files it names) as a range of the file's arrays.
struct NginxNode: Sendable {
    var nameNumber: UInt16
    var hasBlock: Bool
    var hasIncludes: Bool
    var line: Int32
    var column: Int32
    var endLine: Int32
    /// The name's word in `NginxFileSyntax.words`; the arguments are the `argumentCount` words after it.
    var firstWord: UInt32
    var argumentCount: UInt32
    /// The block's directives (`nodes`) or the included files (`includes`): a range.
    var childStart: UInt32
    var childCount: UInt32
}

/// One file's directives, parsed once and then only read: flat arrays (directive records, words,
/// included files) over the file's own bytes, so a large estate costs a few arrays per file rather
/// than an object, an argument array and strings per directive. Strings are made when asked for.
/// A block's directives are consecutive records; the file's top level is `top`.
public final class NginxFileSyntax: Sendable {
    /// Index of the file in `NginxConfigTree.files`.
    let file: Int
    /// The bytes the words' ranges refer to: the file's (or the whole dump's, from `base` on).
    let text: [UInt8]
    let base: Int
    let unescaped: [UInt8]
    /// The escaped words' text as written, by word index (ascending).
    let escapes: [NginxEscape]
    let nodes: [NginxNode]
    let words: [NginxWord]
    let includes: [Int32]
    let top: Range<Int>

    init(file: Int, text: [UInt8], base: Int, unescaped: [UInt8], escapes: [NginxEscape], nodes: [NginxNode],
         words: [NginxWord], includes: [Int32], top: Range<Int>) {
        self.file = file
        self.text = text
        self.base = base
        self.unescaped = unescaped
        self.escapes = escapes
        self.nodes = nodes
        self.words = words
        self.includes = includes
        self.top = top
    }

    /// A file with no directives (not read).
    static func empty(file: Int) -> NginxFileSyntax {
        NginxFileSyntax(file: file, text: [], base: 0, unescaped: [], escapes: [], nodes: [], words: [], includes: [], top: 0..<0)
    }

    /// Calls `body` with a word's value (unescaped) as bytes.
    @inline(__always) func withValue<R>(ofWord index: Int, _ body: (UnsafeBufferPointer<UInt8>) -> R) -> R {
        let word = words[index]
        let start = Int(word.start)
        if word.escaped {
            return unescaped.withUnsafeBufferPointer { body(UnsafeBufferPointer(rebasing: $0[start..<(start + word.count)])) }
        }
        return text.withUnsafeBufferPointer { body(UnsafeBufferPointer(rebasing: $0[(base + start)..<(base + start + word.count)])) }
    }

    /// A word's value as nginx hands it to the directive.
    func value(ofWord index: Int) -> String {
        withValue(ofWord: index) { String(decoding: $0, as: UTF8.self) }
    }

    /// The word as written between its quotes, when that differs from its value.
    func rawText(ofWord index: Int) -> String? {
        guard words[index].escaped else { return nil }
        var low = 0, high = escapes.count
        while low < high {
            let middle = (low + high) / 2
            if escapes[middle].word < UInt32(index) { low = middle + 1 } else { high = middle }
        }
        let escape = escapes[low], start = base + Int(escape.start)
        return String(decoding: text[start..<(start + Int(escape.count))], as: UTF8.self)
    }

    /// The top-level directives.
    public var directives: [NginxDirective] { top.map { NginxDirective(syntax: self, index: $0) } }
}

/// A directive as nginx reads it: its name, arguments, where it was written, and either its block
/// (`server { ... }`) or, for `include`, the files it pulled in (indices into `NginxConfigTree.files`).
/// A view of one record of its file's `NginxFileSyntax`: copying it copies a reference and an index.
public struct NginxDirective: Sendable {
    let syntax: NginxFileSyntax
    let index: Int

    @inline(__always) var node: NginxNode { syntax.nodes[index] }

    public var name: String {
        let node = node
        return node.nameNumber != 0 ? NginxNameTable.shared.names[Int(node.nameNumber)] : syntax.value(ofWord: Int(node.firstWord))
    }
    /// Index of the file in `NginxConfigTree.files`.
    public var file: Int { syntax.file }
    /// Line and column within the file's own text (1-based; columns count Unicode scalars).
    public var line: Int { Int(node.line) }
    public var column: Int { Int(node.column) }
    /// The line of the `;` or `{` that ends the statement: where nginx reports a directive's errors.
    public var endLine: Int { Int(node.endLine) }
    /// How many arguments it has.
    public var argumentCount: Int { Int(node.argumentCount) }

    /// The arguments, made on demand (hot paths ask `value(_:)` or the bytes).
    public var args: [NginxArgument] {
        let node = node
        return (0..<Int(node.argumentCount)).map { position in
            let word = Int(node.firstWord) + 1 + position
            var argument = NginxArgument(syntax.value(ofWord: word), quote: syntax.words[word].quote)
            argument.rawText = syntax.rawText(ofWord: word)
            return argument
        }
    }

    /// The block's directives; nil for a directive ended by `;`. A `*_by_lua_block` has no block:
    /// its Lua text is the last argument, as crossplane shows it.
    public var block: [NginxDirective]? { children.map(Array.init) }

    /// The block's directives without making an array; nil for a directive ended by `;`.
    var children: NginxChildren? {
        let node = node
        guard node.hasBlock else { return nil }
        return NginxChildren(syntax: syntax, range: Int(node.childStart)..<Int(node.childStart + node.childCount))
    }

    /// For `include`: the files it names, in the order nginx reads them (glob(3) order).
    public var includes: [Int]? {
        let node = node
        guard node.hasIncludes else { return nil }
        return syntax.includes[Int(node.childStart)..<Int(node.childStart + node.childCount)].map(Int.init)
    }

    /// The name's number in `NginxNameTable` (0: a name it does not know).
    var nameNumber: UInt16 { node.nameNumber }

    /// Which of the names the loader acts on this is (`.other` for any other).
    var kind: NginxName { NginxName(rawValue: node.nameNumber) ?? .other }

    /// What the parser, the check and the builder know of the name.
    var traits: NginxNameTable.Traits { NginxNameTable.shared.traits[Int(node.nameNumber)] }

    /// Argument values, as nginx hands them to the directive.
    public var values: [String] {
        let node = node
        return (0..<Int(node.argumentCount)).map { syntax.value(ofWord: Int(node.firstWord) + 1 + $0) }
    }

    /// The value of argument `index`, if there is one.
    public func value(_ index: Int) -> String? {
        let node = node
        return index >= 0 && index < Int(node.argumentCount) ? syntax.value(ofWord: Int(node.firstWord) + 1 + index) : nil
    }

    /// What follows `prefix` in the first argument that starts with it (`limit_req zone=one
    /// burst=5`, `zone=` → `one`), read without an array of every argument; nil when none does.
    func argument(after prefix: String) -> Substring? {
        for position in 0..<argumentCount {
            let value = value(position)!
            if value.hasPrefix(prefix) { return value.dropFirst(prefix.count) }
        }
        return nil
    }

    /// Arguments `first...` joined by single spaces (after the name and a space, `withName`), in
    /// one String made from the words' bytes: `location = /old`, a limiter's `zone=one burst=5`.
    func joinedWords(from first: Int, withName: Bool = false) -> String {
        let node = node
        let name = withName ? name : ""
        let words = (Int(node.firstWord) + 1 + first)..<(Int(node.firstWord) + 1 + Int(node.argumentCount))
        guard !words.isEmpty else { return name }
        var count = name.utf8.count + (withName ? 1 : 0) - 1
        for word in words { count += 1 + syntax.withValue(ofWord: word) { $0.count } }
        // Invalid UTF-8 is repaired as `String(decoding:)` repairs each word (no space completes a sequence).
        return String(unsafeUninitializedCapacity: count) { buffer in
            var at = 0
            func add(_ bytes: UnsafeBufferPointer<UInt8>) {
                for byte in bytes { buffer[at] = byte; at += 1 }
            }
            var spaced = withName
            if withName {
                var name = name
                name.withUTF8(add)
            }
            for word in words {
                if spaced { buffer[at] = 0x20; at += 1 }
                spaced = true
                syntax.withValue(ofWord: word, add)
            }
            return at
        }
    }

    /// Calls `body` with argument `index`'s value as bytes (nil: no such argument).
    @inline(__always) func withValue<R>(_ index: Int, _ body: (UnsafeBufferPointer<UInt8>?) -> R) -> R {
        let node = node
        guard index >= 0 && index < Int(node.argumentCount) else { return body(nil) }
        return syntax.withValue(ofWord: Int(node.firstWord) + 1 + index) { body($0) }
    }
}

/// A block's directives, as a collection of views (nothing allocated).
struct NginxChildren: RandomAccessCollection, Sendable {
    let syntax: NginxFileSyntax
    let range: Range<Int>
    var startIndex: Int { range.lowerBound }
    var endIndex: Int { range.upperBound }
    subscript(position: Int) -> NginxDirective { NginxDirective(syntax: syntax, index: position) }
}

/// One configuration file: its path as nginx names it and its top-level directives.
public struct NginxConfigFile: Sendable {
    /// The path nginx knows it by (`/etc/nginx/sites-enabled/a`), a host path for files on disk.
    public var path: String
    /// The file shown in reports: the file itself, or the `nginx -T` dump it was cut from.
    public var display: String
    /// Lines of `display` before this file's first line (the position of its `# configuration file` marker in a dump).
    public var lineOffset: Int
    /// Its directives, `include`s unexpanded (they name files by index).
    public var syntax: NginxFileSyntax
    /// Whether its text was read (false: unreadable; a finding says why).
    public var isRead: Bool

    /// A file known by `path`, shown as `display`, not read yet.
    init(path: String, display: String, lineOffset: Int = 0, index: Int) {
        self.path = path
        self.display = display
        self.lineOffset = lineOffset
        syntax = .empty(file: index)
        isRead = false
    }

    /// Its top-level directives.
    public var directives: [NginxDirective] { syntax.directives }

    /// Its top-level directives without making an array.
    var topLevel: NginxChildren { NginxChildren(syntax: syntax, range: syntax.top) }
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
    /// Finished blocks' directives, each block's consecutive.
    private var nodes: [NginxNode] = []
    /// The directives of the blocks still open, outermost first (each block's from where it began).
    private var pending: [NginxNode] = []
    private var includes: [Int32] = []

    /// Parses a whole file: `text[range]` (the whole of `text` by default). `resolveInclude` is
    /// asked for the files an `include` names.
    static func parse(_ text: [UInt8], range: Range<Int>? = nil, file: Int,
                      resolveInclude: @escaping IncludeResolver) -> (syntax: NginxFileSyntax, errors: [NginxSyntaxError]) {
        let range = range ?? 0..<text.count
        return text.withUnsafeBufferPointer { all in
            let bytes = UnsafeBufferPointer(rebasing: all[range])
            var parser = NginxFileParser(lexer: NginxLexer(bytes), file: file, resolveInclude: resolveInclude)
            if bytes.count >= 3 && bytes[0] == 0xEF && bytes[1] == 0xBB && bytes[2] == 0xBF {
                parser.errors.append(NginxSyntaxError(
                    message: "the file starts with a UTF-8 byte-order mark, which nginx reads as part of the first directive's name",
                    line: 1, column: 1))
            }
            let top = parser.parseBlock(isFile: true, isData: false, depth: 0)
            var errors = parser.errors + parser.lexer.errors
            errors.sort { ($0.line, $0.column) < ($1.line, $1.column) }
            let syntax = NginxFileSyntax(file: file, text: text, base: range.lowerBound, unescaped: parser.lexer.unescaped, escapes: parser.lexer.escapes,
                                         nodes: parser.nodes, words: parser.lexer.words, includes: parser.includes, top: top)
            return (syntax, errors)
        }
    }

    private init(lexer: NginxLexer, file: Int, resolveInclude: @escaping IncludeResolver) {
        self.lexer = lexer
        self.file = file
        self.resolveInclude = resolveInclude
    }

    private mutating func error(_ message: String, line: Int, column: Int = 0) {
        errors.append(NginxSyntaxError(message: message, line: line, column: column))
    }

    /// Reads a block's directives and returns where they are in `nodes`.
    private mutating func parseBlock(isFile: Bool, isData: Bool, depth: Int) -> Range<Int> {
        let first = pending.count
        func finish(_ parser: inout NginxFileParser) -> Range<Int> {
            let start = parser.nodes.count
            parser.nodes.append(contentsOf: parser.pending[first...])
            parser.pending.removeSubrange(first...)
            return start..<parser.nodes.count
        }
        while true {
            let statement = lexer.nextStatement()
            switch statement.terminator {
            case .endOfFile:
                if !statement.isEmpty { pending.append(node(statement)) }
                if !isFile && !reportedEndOfFile {
                    error("unexpected end of file, expecting \"}\"", line: statement.endLine)
                    reportedEndOfFile = true
                }
                return finish(&self)
            case .blockEnd:
                if isFile {
                    if lexer.braceAlreadyReported { continue }
                    error("unexpected \"}\"", line: statement.endLine, column: lexer.currentColumn)
                    continue // nginx stops; we drop the stray brace and read on
                }
                return finish(&self)
            case .semicolon:
                guard !statement.isEmpty else { continue }
                var node = node(statement)
                let traits = names.traits[Int(node.nameNumber)]
                if traits.contains(.grammarBlock) && !isData {
                    error("directive \"\(name(of: statement))\" has no opening \"{\"", line: statement.endLine)
                }
                if node.nameNumber == NginxName.include.rawValue {
                    // Inside data blocks (`types`, `map`) only a one-word include is one; there the rest is data.
                    if node.argumentCount == 1 {
                        let files = resolveInclude(lexer.value(ofWord: statement.firstWord + 1), Int(node.line), Int(node.column))
                        node.hasIncludes = true
                        node.childStart = UInt32(includes.count)
                        node.childCount = UInt32(files.count)
                        includes += files.lazy.map { Int32($0) }
                    } else if !isData {
                        error("invalid number of arguments in \"include\" directive", line: statement.endLine)
                    }
                }
                pending.append(node)
            case .blockStart:
                if statement.isEmpty {
                    // "unexpected {" was reported; read the anonymous block so braces stay balanced.
                    _ = parseNested(isData: false, depth: depth)
                    continue
                }
                var node = node(statement)
                if isData {
                    error("unexpected \"{\"", line: statement.endLine)
                    _ = parseNested(isData: false, depth: depth)
                    continue
                }
                let name = name(of: statement)
                if NginxGrammar.isLuaBlock(name) {
                    if let lua = lexer.readLuaBlock() {
                        lexer.appendLuaBody(lua.body)
                        node.argumentCount += 1
                    }
                    pending.append(node)
                    continue
                }
                let traits = names.traits[Int(node.nameNumber)]
                if traits.contains(.grammarSimple) {
                    error("directive \"\(name)\" is not terminated by \";\"", line: statement.endLine)
                }
                let block = parseNested(isData: traits.contains(.dataBlock), depth: depth)
                node.hasBlock = true
                node.childStart = UInt32(block.lowerBound)
                node.childCount = UInt32(block.count)
                pending.append(node)
            }
        }
    }

    private mutating func parseNested(isData: Bool, depth: Int) -> Range<Int> {
        guard depth < NginxGrammar.maxDepth else {
            error("blocks are nested more than \(NginxGrammar.maxDepth) deep; the rest of this block was skipped", line: lexer.line)
            skipBlock()
            return nodes.count..<nodes.count
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

    private func node(_ statement: NginxStatement) -> NginxNode {
        NginxNode(nameNumber: statement.nameNumber, hasBlock: false, hasIncludes: false, line: Int32(statement.line),
                  column: Int32(statement.column), endLine: Int32(statement.endLine), firstWord: UInt32(statement.firstWord),
                  argumentCount: UInt32(statement.wordCount - 1), childStart: 0, childCount: 0)
    }

    /// A statement's directive name (the table's shared String for a name it knows).
    private func name(of statement: NginxStatement) -> String {
        statement.nameNumber != 0 ? names.names[Int(statement.nameNumber)] : lexer.value(ofWord: statement.firstWord)
    }
}
