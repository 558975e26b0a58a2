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
    static func number(_ name: String) -> UInt8? {
        switch name.lowercased() {
        case "tcp": 6
        case "udp": 17
        case "icmp": 1
        case "icmpv6", "ipv6-icmp", "icmp6": 58
        case "sctp": 132
        case "udplite": 136
        case "esp": 50
        case "ah": 51
        case "gre": 47
        case "igmp": 2
        case "dccp": 33
        case "ipip", "ipencap": 4
        case "ospf": 89
        case "vrrp": 112
        default: UInt8(name)
        }
    }
}

/// Port syntax shared by iptables (`80`, `1000:2000`, `:1023`, names) and nft (`1000-2000`).
enum PortText {
    static let services: [String: UInt16] = [
        "http": 80, "https": 443, "ssh": 22, "www": 80, "http-alt": 8080, "domain": 53, "smtp": 25,
        "ftp": 21, "telnet": 23, "pop3": 110, "imap": 143, "imaps": 993, "pop3s": 995, "ntp": 123,
        "submission": 587, "mysql": 3306, "postgresql": 5432, "snmp": 161, "bgp": 179, "ldap": 389,
        "ldaps": 636, "rsync": 873, "redis": 6379, "webcache": 8080, "tproxy": 8081, "domain-s": 853,
    ]

    static func port(_ text: some StringProtocol) -> UInt16? {
        if let number = UInt16(text) { return number }
        return services[String(text).lowercased()]
    }

    /// One port or range; `separator` is `:` for iptables, `-` for nft.
    static func range(_ text: some StringProtocol, separator: Character) -> ClosedRange<UInt16>? {
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
