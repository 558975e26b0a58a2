import OriginAuditCore

/// A word of a firewall line with its 1-based column, after shell-style unquoting.
struct Word: Sendable {
    var text: String
    var column: Int
    /// The word was quoted (`"ACCEPT"` is a comment, not a target).
    var quoted: Bool
}

/// The lines of an input as byte ranges, split once: parsers keep offsets, not Strings.
struct Lines: Sequence {
    let bytes: [UInt8]

    func makeIterator() -> Iterator { Iterator(bytes: bytes) }

    struct Iterator: IteratorProtocol {
        let bytes: [UInt8]
        var offset = 0
        var number = 0

        mutating func next() -> (number: Int, range: Range<Int>)? {
            guard offset < bytes.count else { return nil }
            let start = offset
            var end = start
            while end < bytes.count && bytes[end] != 0x0A { end += 1 }
            offset = end + 1
            number += 1
            var trimmed = end
            if trimmed > start && bytes[trimmed - 1] == 0x0D { trimmed -= 1 }
            return (number, start..<trimmed)
        }
    }
}

enum TextScan {
    /// Longest line accepted; longer lines are reported, not parsed (a 10 MB line is not a rule).
    static let maxLineLength = 1 << 20

    /// Splits a line into words: blanks separate, `"..."` and `'...'` quote, `\"` escapes inside
    /// quotes; an unterminated quote runs to the end of the line, as in iptables-restore.
    static func words(_ bytes: ArraySlice<UInt8>) -> [Word] {
        var result: [Word] = []
        var index = bytes.startIndex
        let base = bytes.startIndex
        while index < bytes.endIndex {
            let byte = bytes[index]
            if byte == 0x20 || byte == 0x09 { index += 1; continue }
            let column = index - base + 1
            // A word without quotes (nearly all of them) becomes a String straight from its bytes.
            var end = index
            while end < bytes.endIndex, bytes[end] != 0x20, bytes[end] != 0x09, bytes[end] != 0x22, bytes[end] != 0x27 { end += 1 }
            if end == bytes.endIndex || bytes[end] == 0x20 || bytes[end] == 0x09 {
                result.append(Word(text: String(decoding: bytes[index..<end], as: UTF8.self), column: column, quoted: false))
                index = end
                continue
            }
            var text: [UInt8] = []
            var quoted = false
            while index < bytes.endIndex && bytes[index] != 0x20 && bytes[index] != 0x09 {
                let current = bytes[index]
                if current == 0x22 || current == 0x27 {
                    quoted = true
                    let quote = current
                    index += 1
                    // An unterminated quote runs to the end of the line, as in iptables-restore.
                    while index < bytes.endIndex {
                        let inner = bytes[index]
                        if inner == 0x5C, index + 1 < bytes.endIndex, bytes[index + 1] == quote || bytes[index + 1] == 0x5C {
                            text.append(bytes[index + 1]); index += 2; continue
                        }
                        if inner == quote { index += 1; break }
                        text.append(inner); index += 1
                    }
                } else {
                    text.append(current); index += 1
                }
            }
            result.append(Word(text: String(decoding: text, as: UTF8.self), column: column, quoted: quoted))
        }
        return result
    }

    /// Whether the bytes look like text (no NUL, mostly printable): binary garbage is refused early.
    static func looksBinary(_ bytes: [UInt8]) -> Bool {
        let sample = bytes.prefix(4096)
        return sample.contains(0)
    }
}

/// Protocol names as iptables and nft accept them.
enum ProtocolNames {
    /// `Rules/names/protocols.yml`: the names /etc/protocols gives and iptables' own.
    static let numbers: [String: UInt8] = NameTable.load("names/protocols.yml").compactMapValues { UInt8(exactly: $0) }

    static func number(_ name: String) -> UInt8? {
        UInt8(name) ?? numbers[name.lowercased()]
    }
}

/// `name: number` lines of an embedded data file under Rules/ (comments with `#`).
enum NameTable {
    static func load(_ path: String) -> [String: Int] {
        guard let file = EmbeddedRules.files.first(where: { $0.path == path }) else { return [:] }
        var table: [String: Int] = [:]
        for line in file.contents.split(separator: "\n") where !line.hasPrefix("#") {
            let parts = line.split(separator: ":", maxSplits: 1)
            guard parts.count == 2, let number = Int(parts[1].trimmingCharacters(in: .whitespaces)) else { continue }
            table[String(parts[0]).trimmingCharacters(in: .whitespaces)] = number
        }
        return table
    }
}

/// Port syntax shared by iptables (`80`, `1000:2000`, `:1023`, names) and nft (`1000-2000`).
enum PortText {
    /// `Rules/names/services.yml`: the service names iptables and nft resolve through /etc/services.
    static let services: [String: UInt16] = NameTable.load("names/services.yml").compactMapValues { UInt16(exactly: $0) }

    static func port(_ text: some StringProtocol) -> UInt16? {
        if let number = UInt16(text) { return number }
        return services[String(text)]
    }

    /// One port or range; `separator` is `:` for iptables, `-` for nft.
    static func range(_ text: some StringProtocol, separator: Character) -> ClosedRange<UInt16>? {
        // A service name may hold the range separator itself (`http-alt`).
        if let single = port(text) { return single...single }
        if let split = text.firstIndex(of: separator) {
            let low = text[..<split], high = text[text.index(after: split)...]
            guard let a = low.isEmpty ? 0 : port(low), let b = high.isEmpty ? UInt16.max : port(high) else { return nil }
            return a <= b ? a...b : nil
        }
        return port(text).map { $0...$0 }
    }

    /// A comma-separated list of ports and ranges (multiport).
    static func list(_ text: String, separator: Character) -> PortSet? {
        var ranges: [ClosedRange<UInt16>] = []
        for part in text.split(separator: ",", omittingEmptySubsequences: false) {
            guard let range = range(part, separator: separator) else { return nil }
            ranges.append(range)
        }
        return ranges.isEmpty ? nil : PortSet(ranges: ranges)
    }
}
