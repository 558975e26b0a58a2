/// One word of an nginx statement, after nginx's own unescaping.
public struct NginxArgument: Sendable, Hashable, CustomStringConvertible {
    /// How the word was written.
    public enum Quote: UInt8, Sendable, Hashable {
        case none = 0
        case double = 0x22
        case single = 0x27
    }

    /// The value nginx hands to the directive: quotes removed, `\"` `\'` `\\` `\t` `\r` `\n` unescaped.
    public var value: String
    /// `rawText`, out of line: it is rare, and a reference instead of a String makes each of the
    /// hundreds of thousands of arguments of a large estate 8 bytes smaller.
    private var rawBox: RawText?
    /// The quotes it was written in, if any.
    public var quote: Quote

    private final class RawText: Sendable {
        let text: String
        init(_ text: String) { self.text = text }
    }

    /// The text between the quotes exactly as written, kept only when it held a backslash
    /// (otherwise it equals `value`).
    public var rawText: String? {
        get { rawBox?.text }
        set { rawBox = newValue.map(RawText.init) }
    }

    /// A word with its unescaped value; `rawText` only when the written text differs.
    public init(_ value: String, quote: Quote = .none, rawText: String? = nil) {
        self.value = value
        self.quote = quote
        rawBox = rawText.map(RawText.init)
    }

    public static func == (lhs: NginxArgument, rhs: NginxArgument) -> Bool {
        lhs.value == rhs.value && lhs.quote == rhs.quote && lhs.rawText == rhs.rawText
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(value)
        hasher.combine(quote)
        hasher.combine(rawText)
    }

    /// The text as written between the quotes (or the whole bare word).
    public var raw: String { rawText ?? value }

    /// The value, as nginx sees it.
    public var description: String { value }
}

/// A parse problem with nginx's wording and the line nginx reports it at.
struct NginxSyntaxError: Sendable {
    var message: String
    var line: Int
    var column: Int
}

/// How a statement ended, as `ngx_conf_read_token` reports it.
enum NginxTerminator {
    case semicolon, blockStart, blockEnd, endOfFile
}

/// A statement: where its words are in the lexer's `words` and how it ended.
struct NginxStatement {
    /// Index of the first word (the directive's name) in `NginxLexer.words`; the arguments follow it.
    var firstWord = 0
    /// How many words, the name included (0: the statement has no word).
    var wordCount = 0
    /// The first word's number in `NginxNameTable` (0: a name it does not know, or no word).
    var nameNumber: UInt16 = 0
    /// Where the first word starts.
    var line = 0
    var column = 0
    var terminator: NginxTerminator = .endOfFile
    /// The line the lexer was on when the statement ended (nginx reports directive errors there).
    var endLine: Int = 1

    /// Whether the statement has no word at all.
    var isEmpty: Bool { wordCount == 0 }
}

/// nginx's configuration lexer, state for state as `ngx_conf_read_token` has it (src/core/ngx_conf_file.c):
/// whitespace is space, tab, CR and LF only; `#` starts a comment only between words; `\` escapes the
/// next byte anywhere; a quoted word must be followed by whitespace, `;`, `{` or `)`; `{` right after
/// `$` stays in the word (`${var}`); `}` inside a bare word is part of it; lines count LFs only. It
/// also reproduces the 4096-byte `NGX_CONF_BUFFER` limit on one word (or comment), which nginx reports
/// as "too long parameter". Errors do not stop it: it records them and reads on, so a whole file
/// yields every problem with the line nginx would report.
struct NginxLexer {
    static let bufferSize = 4096

    private let bytes: UnsafeBufferPointer<UInt8>
    private(set) var position = 0
    private(set) var line = 1
    private var lineStart = 0
    /// nginx's `start` at the last buffer refill, and where the next refill happens (see `consume`).
    private var nextRefill = 0
    private var sawNonASCIIOnLine = false
    var errors: [NginxSyntaxError] = []
    /// Set when a `}` that ended a directive early (already reported) is read again as a block end.
    private(set) var braceAlreadyReported = false
    private var pushedBackBrace = false
    /// Every word read, in order: a statement's words are consecutive (its name first).
    private(set) var words: [NginxWord] = []
    /// The unescaped values of words written with a backslash (`NginxWord.escaped`).
    private(set) var unescaped: [UInt8] = []
    /// Where the escaped words stand in the text as written.
    private(set) var escapes: [NginxEscape] = []
    private let names = NginxNameTable.shared

    init(_ bytes: UnsafeBufferPointer<UInt8>) {
        self.bytes = bytes
    }

    private static let lf: UInt8 = 0x0A, cr: UInt8 = 0x0D, space: UInt8 = 0x20, tab: UInt8 = 0x09
    private static let semicolon: UInt8 = 0x3B, openBrace: UInt8 = 0x7B, closeBrace: UInt8 = 0x7D
    private static let hash: UInt8 = 0x23, backslash: UInt8 = 0x5C, dollar: UInt8 = 0x24
    private static let doubleQuote: UInt8 = 0x22, singleQuote: UInt8 = 0x27, closeParen: UInt8 = 0x29

    @inline(__always) private static func isSpace(_ c: UInt8) -> Bool {
        c == space || c == tab || c == cr || c == lf
    }

    /// Whether a byte inside a bare word does anything but extend it: whitespace, `;`, `{` end
    /// it, `\` and `$` change the state, and none of them is skipped in a run.
    /// (As bits of two masks; the lexer's loops read it from `bareRunEnds`, made from it.)
    @inline(__always) private static func endsBareRun(_ c: UInt8) -> Bool {
        let below64: UInt64 = 1 << 9 | 1 << 10 | 1 << 13 | 1 << 32 | 1 << 36 | 1 << 59 // tab lf cr space $ ;
        let from64: UInt64 = 1 << (92 - 64) | 1 << (123 - 64) // \ {
        // The mask for the byte's quarter (none above 127) picked without a branch, then its bit.
        let mask = c < 64 ? below64 : c < 128 ? from64 : 0
        return (mask &>> UInt64(c & 63)) & 1 != 0
    }

    /// `endsBareRun` for every byte value.
    private static let bareRunEnds: [Bool] = (0...255).map { endsBareRun(UInt8($0)) }

    /// Where the bare run from `start` stops (the first byte `endsBareRun` holds for, or `limit`),
    /// with its bytes OR-ed (for non-ASCII): one table load per byte, in a function of its own so
    /// that its loop keeps everything in registers (inside `nextStatement` it reloaded them).
    @inline(never) private static func bareRun(_ bytes: UnsafeBufferPointer<UInt8>, from start: Int, limit: Int) -> (end: Int, seen: UInt8) {
        bareRunEnds.withUnsafeBufferPointer { ends in
            var end = start, seen: UInt8 = 0
            while end < limit {
                let c = bytes[end]
                if ends[Int(c)] { break }
                seen |= c
                end += 1
            }
            return (end, seen)
        }
    }

    /// The same inside quotes: the closing quote, `\`, `$`, and a line feed (counted).
    @inline(__always) private static func endsQuotedRun(_ c: UInt8, _ quote: UInt8) -> Bool {
        c == quote || c == backslash || c == dollar || c == lf
    }

    /// 1-based column of a byte offset on the current line, counted in Unicode scalars.
    /// (Inlined: taken once per word, and as a call it copied the whole lexer for `self`.)
    @inline(__always) private func column(of offset: Int, lineStart: Int) -> Int {
        guard sawNonASCIIOnLine else { return offset - lineStart + 1 }
        return scalarColumn(of: offset, lineStart: lineStart)
    }

    /// `column(of:lineStart:)` on a line that holds bytes above 127: scalars counted.
    private func scalarColumn(of offset: Int, lineStart: Int) -> Int {
        var count = 1
        var index = lineStart
        while index < offset {
            if bytes[index] & 0xC0 != 0x80 { count += 1 }
            index += 1
        }
        return count
    }

    private mutating func error(_ message: String, line: Int? = nil) {
        errors.append(NginxSyntaxError(message: message, line: line ?? self.line, column: line == nil ? currentColumn : 0))
    }

    /// Reads the next statement, as `ngx_conf_read_token` does.
    mutating func nextStatement() -> NginxStatement {
        var statement = NginxStatement()
        var needSpace = false, lastSpace = true, sharpComment = false, variable = false
        var quoted = false, sQuoted = false, dQuoted = false
        var start = position
        var startLine = line, startColumn = 1
        var hasBackslash = false
        braceAlreadyReported = false

        statement.firstWord = words.count
        func finish(_ terminator: NginxTerminator, _ statement: inout NginxStatement) {
            statement.terminator = terminator
            statement.endLine = line
        }

        while true {
            if position >= bytes.count {
                if !statement.isEmpty || !lastSpace {
                    error("unexpected end of file, expecting \";\" or \"}\"")
                    if !lastSpace { // keep the unfinished word, so the directive is still seen
                        append(start, position, quote: dQuoted ? .double : sQuoted ? .single : .none,
                               hasBackslash: hasBackslash, line: startLine, column: startColumn, to: &statement)
                    }
                }
                finish(.endOfFile, &statement)
                return statement
            }
            // nginx reads the file through a 4096-byte buffer and refuses a word that does not fit in it.
            if position == nextRefill {
                if position - start == NginxLexer.bufferSize {
                    if dQuoted || sQuoted {
                        error("too long parameter, probably missing terminating \"\(dQuoted ? "\"" : "'")\" character", line: startLine)
                    } else {
                        error("too long parameter \"\(String(decoding: bytes[start..<(start + 10)], as: UTF8.self))...\" started", line: startLine)
                    }
                    start = position // read on as if the buffer had been large enough
                }
                nextRefill = min(bytes.count, start + NginxLexer.bufferSize)
            }
            // Runs of bytes that change nothing but the position (and the line) are passed in one
            // go, up to the next buffer refill, where nginx's word-length limit is checked.
            if !quoted && !needSpace {
                let limit = nextRefill > position ? min(bytes.count, nextRefill) : bytes.count
                var next = position, seen: UInt8 = 0
                if sharpComment {
                    while next < limit && bytes[next] != NginxLexer.lf { seen |= bytes[next]; next += 1 }
                } else if lastSpace {
                    while next < limit {
                        let c = bytes[next]
                        if c == NginxLexer.space || c == NginxLexer.tab || c == NginxLexer.cr {
                            next += 1
                        } else if c == NginxLexer.lf {
                            next += 1
                            line += 1
                            lineStart = next
                            sawNonASCIIOnLine = false
                        } else {
                            break
                        }
                    }
                    if next > position {
                        position = next
                        start = next - 1
                        startLine = line
                        continue
                    }
                } else if !variable {
                    if dQuoted {
                        while next < limit && !NginxLexer.endsQuotedRun(bytes[next], NginxLexer.doubleQuote) { seen |= bytes[next]; next += 1 }
                    } else if sQuoted {
                        while next < limit && !NginxLexer.endsQuotedRun(bytes[next], NginxLexer.singleQuote) { seen |= bytes[next]; next += 1 }
                    } else {
                        (next, seen) = NginxLexer.bareRun(bytes, from: next, limit: limit)
                    }
                }
                if next > position {
                    if seen >= 0x80 { sawNonASCIIOnLine = true }
                    position = next
                    continue
                }
            }

            let ch = bytes[position]
            position += 1
            if ch == NginxLexer.lf {
                line += 1
                lineStart = position
                sawNonASCIIOnLine = false
                if sharpComment { sharpComment = false }
            } else if ch >= 0x80 {
                sawNonASCIIOnLine = true
            }
            if sharpComment { continue }
            if quoted { quoted = false; continue }

            if needSpace {
                if NginxLexer.isSpace(ch) {
                    lastSpace = true
                    needSpace = false
                    continue
                }
                if ch == NginxLexer.semicolon { finish(.semicolon, &statement); return statement }
                if ch == NginxLexer.openBrace { finish(.blockStart, &statement); return statement }
                if ch == NginxLexer.closeParen {
                    lastSpace = true
                    needSpace = false
                } else {
                    // nginx stops here; we read on as if a space had separated the words (a "}" is
                    // reported below, where it also ends the directive).
                    if ch != NginxLexer.closeBrace { error("unexpected \"\(Character(Unicode.Scalar(ch)))\"") }
                    lastSpace = true
                    needSpace = false
                }
            }

            if lastSpace {
                start = position - 1
                startLine = line
                if NginxLexer.isSpace(ch) { continue }
                switch ch {
                case NginxLexer.semicolon, NginxLexer.openBrace:
                    if statement.isEmpty {
                        error("unexpected \"\(ch == NginxLexer.semicolon ? ";" : "{")\"")
                        if ch == NginxLexer.semicolon { continue }
                    }
                    finish(ch == NginxLexer.openBrace ? .blockStart : .semicolon, &statement)
                    return statement
                case NginxLexer.closeBrace:
                    if !statement.isEmpty {
                        // nginx stops here; we end the directive and let the "}" close the block.
                        error("unexpected \"}\"")
                        position -= 1
                        pushedBackBrace = true
                        finish(.semicolon, &statement)
                        return statement
                    }
                    braceAlreadyReported = pushedBackBrace
                    pushedBackBrace = false
                    finish(.blockEnd, &statement)
                    return statement
                case NginxLexer.hash:
                    sharpComment = true
                    continue
                case NginxLexer.backslash:
                    quoted = true
                    hasBackslash = true
                    lastSpace = false
                case NginxLexer.doubleQuote:
                    start += 1
                    dQuoted = true
                    lastSpace = false
                case NginxLexer.singleQuote:
                    start += 1
                    sQuoted = true
                    lastSpace = false
                case NginxLexer.dollar:
                    variable = true
                    lastSpace = false
                default:
                    lastSpace = false
                }
                startColumn = column(of: position - 1, lineStart: lineStart)
                // Most words are bare and end in whitespace, `;` or `{` before the next buffer
                // refill: read to that end and take the word here, as the next two turns of the
                // loop would (a run, then the ending byte), without them.
                if !quoted && !dQuoted && !sQuoted && !variable && nextRefill > position {
                    let limit = min(bytes.count, nextRefill)
                    let (end, seen) = NginxLexer.bareRun(bytes, from: position, limit: limit)
                    if end < limit {
                        let last = bytes[end]
                        if last != NginxLexer.dollar && last != NginxLexer.backslash {
                            if seen >= 0x80 { sawNonASCIIOnLine = true }
                            position = end + 1
                            if last == NginxLexer.lf {
                                line += 1
                                lineStart = position
                                sawNonASCIIOnLine = false
                            }
                            lastSpace = true
                            append(start, end, quote: .none, hasBackslash: hasBackslash,
                                   line: startLine, column: startColumn, to: &statement)
                            hasBackslash = false
                            if last == NginxLexer.semicolon { finish(.semicolon, &statement); return statement }
                            if last == NginxLexer.openBrace { finish(.blockStart, &statement); return statement }
                        }
                    }
                }
                continue
            }

            if ch == NginxLexer.openBrace && variable { continue }
            variable = false
            if ch == NginxLexer.backslash {
                quoted = true
                hasBackslash = true
                continue
            }
            if ch == NginxLexer.dollar {
                variable = true
                continue
            }

            var found = false
            var quote = NginxArgument.Quote.none
            if dQuoted {
                if ch == NginxLexer.doubleQuote {
                    dQuoted = false
                    needSpace = true
                    found = true
                    quote = .double
                }
            } else if sQuoted {
                if ch == NginxLexer.singleQuote {
                    sQuoted = false
                    needSpace = true
                    found = true
                    quote = .single
                }
            } else if NginxLexer.isSpace(ch) || ch == NginxLexer.semicolon || ch == NginxLexer.openBrace {
                lastSpace = true
                found = true
            }

            if found {
                append(start, position - 1, quote: quote, hasBackslash: hasBackslash,
                       line: startLine, column: startColumn, to: &statement)
                hasBackslash = false
                if ch == NginxLexer.semicolon { finish(.semicolon, &statement); return statement }
                if ch == NginxLexer.openBrace { finish(.blockStart, &statement); return statement }
            }
        }
    }

    /// Adds the word `bytes[from..<to]` to the statement, unescaping as nginx does: `\"`, `\'`,
    /// `\\` lose the backslash, `\t` `\r` `\n` become the control characters, any other `\x` stays
    /// as written (the unescaped value goes to `unescaped`). The first word is the directive's
    /// name, numbered.
    private mutating func append(_ from: Int, _ to: Int, quote: NginxArgument.Quote, hasBackslash: Bool,
                                 line: Int, column: Int, to statement: inout NginxStatement) {
        let isName = statement.wordCount == 0
        statement.wordCount += 1
        if isName {
            statement.line = line
            statement.column = column
        }
        guard hasBackslash else {
            words.append(NginxWord(start: from, count: to - from, quote: quote))
            if isName { statement.nameNumber = names.number(of: UnsafeBufferPointer(rebasing: bytes[from..<to])) }
            return
        }
        let valueStart = unescaped.count
        var index = from
        while index < to {
            let c = bytes[index]
            if c == NginxLexer.backslash && index + 1 < to {
                switch bytes[index + 1] {
                case NginxLexer.doubleQuote, NginxLexer.singleQuote, NginxLexer.backslash:
                    index += 1
                case UInt8(ascii: "t"): unescaped.append(0x09); index += 2; continue
                case UInt8(ascii: "r"): unescaped.append(0x0D); index += 2; continue
                case UInt8(ascii: "n"): unescaped.append(0x0A); index += 2; continue
                default: break
                }
            }
            unescaped.append(bytes[index])
            index += 1
        }
        escapes.append(NginxEscape(word: UInt32(words.count), start: UInt32(from), count: UInt32(to - from)))
        words.append(NginxWord(start: valueStart, count: unescaped.count - valueStart, quote: quote, escaped: true))
        if isName {
            statement.nameNumber = unescaped.withUnsafeBufferPointer { names.number(of: UnsafeBufferPointer(rebasing: $0[valueStart...])) }
        }
    }

    /// The value of word `index` (unescaped).
    func value(ofWord index: Int) -> String {
        let word = words[index]
        let start = Int(word.start)
        if word.escaped { return String(decoding: unescaped[start..<(start + word.count)], as: UTF8.self) }
        return String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<(start + word.count)]), as: UTF8.self)
    }

    /// Adds a `*_by_lua_block`'s body (`bytes[range]`, as written) as the last word of the statement just read.
    mutating func appendLuaBody(_ range: Range<Int>) {
        words.append(NginxWord(start: range.lowerBound, count: range.count, quote: .none))
    }

    /// Reads a `*_by_lua_block { ... }` body after its `{`, as lua-nginx-module's own reader does:
    /// braces nest, except inside Lua strings (`'...'`, `"..."`, `[[...]]`, `[==[...]==]`) and
    /// comments (`-- ...`, `--[[...]]`). Returns the text between the braces, or nil (with an
    /// error) when the file ends first.
    mutating func readLuaBlock() -> (body: Range<Int>, line: Int)? {
        let bodyStart = position, bodyLine = line
        var depth = 1
        while position < bytes.count {
            let ch = bytes[position]
            switch ch {
            case NginxLexer.lf:
                newline(at: position)
                position += 1
            case NginxLexer.openBrace:
                depth += 1
                position += 1
            case NginxLexer.closeBrace:
                depth -= 1
                position += 1
                if depth == 0 {
                    let body = bodyStart..<(position - 1)
                    nextRefill = position // the Lua reader leaves nginx's buffer state behind
                    return (body, bodyLine)
                }
            case NginxLexer.doubleQuote, NginxLexer.singleQuote:
                position += 1
                while position < bytes.count && bytes[position] != ch {
                    if bytes[position] == NginxLexer.backslash { position += 1 }
                    if position < bytes.count && bytes[position] == NginxLexer.lf { newline(at: position) }
                    position += 1
                }
                position += 1
            case UInt8(ascii: "-") where position + 1 < bytes.count && bytes[position + 1] == UInt8(ascii: "-"):
                position += 2
                if let level = longBracketLevel(at: position) {
                    skipLongBracket(level: level)
                } else {
                    while position < bytes.count && bytes[position] != NginxLexer.lf { position += 1 }
                }
            case UInt8(ascii: "["):
                if let level = longBracketLevel(at: position) {
                    skipLongBracket(level: level)
                } else {
                    position += 1
                }
            default:
                position += 1
            }
        }
        error("unexpected end of file, expecting \"}\" to close the Lua block")
        return nil
    }

    private mutating func newline(at offset: Int) {
        line += 1
        lineStart = offset + 1
        sawNonASCIIOnLine = false
    }

    /// `[`, `=`×level, `[` at offset: a Lua long bracket opens there.
    private func longBracketLevel(at offset: Int) -> Int? {
        guard offset < bytes.count, bytes[offset] == UInt8(ascii: "[") else { return nil }
        var index = offset + 1, level = 0
        while index < bytes.count && bytes[index] == UInt8(ascii: "=") { level += 1; index += 1 }
        return index < bytes.count && bytes[index] == UInt8(ascii: "[") ? level : nil
    }

    private mutating func skipLongBracket(level: Int) {
        position += level + 2
        while position < bytes.count {
            if bytes[position] == NginxLexer.lf { newline(at: position) }
            if bytes[position] == UInt8(ascii: "]") {
                var index = position + 1, seen = 0
                while index < bytes.count && bytes[index] == UInt8(ascii: "=") { seen += 1; index += 1 }
                if seen == level && index < bytes.count && bytes[index] == UInt8(ascii: "]") {
                    position = index + 1
                    return
                }
            }
            position += 1
        }
    }

    /// The column of the byte just read (for errors at the current position).
    var currentColumn: Int { column(of: max(position - 1, lineStart), lineStart: lineStart) }
}
