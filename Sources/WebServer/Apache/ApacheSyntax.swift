/// One logical configuration line as httpd's `ap_cfg_getline` produces it: physical lines joined
/// where one ends in `\` (the backslash and the newline removed, nothing inserted), then leading
/// and trailing whitespace removed.
struct ApacheLine: Sendable {
    var text: [UInt8]
    /// Where the line starts: the first physical line and the column of its first non-blank byte.
    var line: Int
    var column: Int
    /// The line httpd names in its errors: its counter has advanced over every joined line, so
    /// for a continued directive this is the last physical line.
    var httpdLine: Int
}

/// The lexical layer of httpd's configuration format (server/util.c): line joining, word
/// splitting with quotes, and `${VAR}` substitution. Works on bytes; Strings are made only for
/// the words a directive keeps.
enum ApacheSyntax {
    /// `apr_isspace`: space, tab, newline, vertical tab, form feed, carriage return.
    @inline(__always)
    static func isSpace(_ byte: UInt8) -> Bool { byte == 0x20 || (byte >= 0x09 && byte <= 0x0D) }

    /// Splits a file into logical lines. Empty lines are kept out; comments are kept (the caller
    /// decides, as httpd does after reading the whole logical line — so a comment ending in `\`
    /// swallows the next line, exactly as in httpd).
    static func lines(_ bytes: [UInt8]) -> [ApacheLine] {
        var result: [ApacheLine] = []
        result.reserveCapacity(bytes.count / 24)
        var index = 0
        var physical = 0
        let count = bytes.count
        while index < count {
            var text: [UInt8] = []
            physical += 1
            let firstLine = physical
            var continued = true
            while continued {
                continued = false
                let start = index
                while index < count && bytes[index] != 0x0A { index += 1 }
                var end = index
                let sawNewline = index < count
                if sawNewline { index += 1 }
                if sawNewline {
                    if end > start && bytes[end - 1] == 0x0D { end -= 1 }
                    // httpd looks at the byte before the newline in the whole buffer, so a line
                    // that is only "\" continues too.
                    if end > start && bytes[end - 1] == 0x5C {
                        end -= 1
                        continued = index < count
                    }
                }
                text.append(contentsOf: bytes[start..<end])
                if continued { physical += 1 }
            }
            // Trim, and find the column of the first non-blank byte on the first physical line.
            var lead = 0
            while lead < text.count && isSpace(text[lead]) { lead += 1 }
            var trail = text.count
            while trail > lead && isSpace(text[trail - 1]) { trail -= 1 }
            if lead == trail { continue }
            let trimmed = (lead == 0 && trail == text.count) ? text : Array(text[lead..<trail])
            result.append(ApacheLine(text: trimmed, line: firstLine, column: lead + 1, httpdLine: physical))
        }
        return result
    }

    /// `ap_getword_conf` over a whole line: words separated by whitespace; a word starting with
    /// `"` or `'` runs to the matching quote, where `\"`/`\'` and `\\` are unescaped (in bare
    /// words only `\\` is). An unterminated quote runs to the end of the line, as in httpd.
    static func words(_ text: [UInt8], from start: Int = 0) -> [String] {
        var result: [String] = []
        var i = start
        let n = text.count
        var buffer: [UInt8] = []
        while true {
            while i < n && isSpace(text[i]) { i += 1 }
            if i >= n { break }
            buffer.removeAll(keepingCapacity: true)
            let quote = text[i]
            if quote == 0x22 || quote == 0x27 {
                i += 1
                while i < n && text[i] != quote {
                    if text[i] == 0x5C && i + 1 < n && (text[i + 1] == quote || text[i + 1] == 0x5C) {
                        buffer.append(text[i + 1]); i += 2
                    } else {
                        buffer.append(text[i]); i += 1
                    }
                }
                if i < n { i += 1 }
            } else {
                while i < n && !isSpace(text[i]) {
                    if text[i] == 0x5C && i + 1 < n && text[i + 1] == 0x5C {
                        buffer.append(0x5C); i += 2
                    } else {
                        buffer.append(text[i]); i += 1
                    }
                }
            }
            result.append(String(decoding: buffer, as: UTF8.self))
        }
        return result
    }

    /// The first word only (the directive name), without building the others.
    static func firstWord(_ text: [UInt8]) -> (word: String, rest: Int) {
        var i = 0
        while i < text.count && !isSpace(text[i]) { i += 1 }
        if let quote = text.first, quote == 0x22 || quote == 0x27 {
            let all = words(text)
            return (all.first ?? "", text.count)
        }
        return (String(decoding: text[0..<i], as: UTF8.self), i)
    }

    /// How long a line may grow by `${VAR}` substitution before the audit stops expanding it.
    /// httpd has no limit: it expands in full (a value doubled by `Define V${n} ${V}${V}` 24
    /// times takes 1 GB and 6 s for `apache2 -t`; 30 times, 8 GB, and it aborts), so past this
    /// the audit says it cannot follow rather than running out of memory itself.
    static let maxExpandedLength = 1 << 20

    /// `ap_resolve_env`: replaces `${NAME}` with the value `lookup` gives; an unknown name stays
    /// as written and is reported through `unknown`. Lines without `${` are returned untouched.
    /// nil when the result would pass `maxExpandedLength`.
    static func resolveVariables(_ text: [UInt8], lookup: (String) -> String?, unknown: (String) -> Void) -> [UInt8]? {
        guard text.count >= 3, containsVariable(text) else { return text }
        var output: [UInt8] = []
        output.reserveCapacity(text.count + 16)
        var i = 0
        while i < text.count {
            if text[i] == 0x24, i + 1 < text.count, text[i + 1] == 0x7B,
               let close = text[(i + 2)...].firstIndex(of: 0x7D) {
                let name = String(decoding: text[(i + 2)..<close], as: UTF8.self)
                if name.contains(":") {
                    // httpd leaves `${a:b}` alone without a warning (regular expressions in
                    // ModSecurity rules are full of `${…(?:…}`).
                    output.append(contentsOf: text[i...close])
                } else if let value = lookup(name) {
                    guard output.count + value.utf8.count <= maxExpandedLength else { return nil }
                    output.append(contentsOf: value.utf8)
                } else {
                    unknown(name)
                    output.append(contentsOf: text[i...close])
                }
                i = close + 1
            } else {
                output.append(text[i]); i += 1
            }
        }
        return output
    }

    static func containsVariable(_ text: [UInt8]) -> Bool {
        var i = 0
        while i + 1 < text.count {
            if text[i] == 0x24 && text[i + 1] == 0x7B { return true }
            i += 1
        }
        return false
    }
}
