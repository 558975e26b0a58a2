import OriginAuditCore

/// Parses `ipset save` output: `create NAME TYPE options` and `add NAME ENTRY [timeout N]
/// [nomatch] [comment "…"]` for hash:ip, hash:net, hash:ip,port, hash:net,port, bitmap:ip and
/// list:set. Entries of other shapes keep the set but make matches on it uncertain.
struct IPSetParser {
    let file: String
    private var problems = FindingList()
    var findings: [Finding] { problems.all }
    private(set) var sets: [String: NamedSet] = [:]
    /// Collected per set and turned into interval sets once, at the end (one sort, not one per entry).
    private var pending: [String: Int] = [:]
    private var ranges: [PendingRanges] = []
    /// The set of the previous `add` line (a save file lists each set's entries together).
    private var last: (name: [UInt8], set: NamedSet, index: Int)?
    /// Word boundaries of the current line, reused from line to line.
    private var spans: [Range<Int>] = []

    private struct PendingRanges {
        var v4: [ClosedRange<UInt128>] = [], v6: [ClosedRange<UInt128>] = [], no4: [ClosedRange<UInt128>] = [], no6: [ClosedRange<UInt128>] = []

        mutating func append(_ range: ClosedRange<UInt128>, family: AddressFamily, nomatch: Bool) {
            switch (family, nomatch) {
            case (.ipv4, false): v4.append(range)
            case (.ipv6, false): v6.append(range)
            case (.ipv4, true): no4.append(range)
            case (.ipv6, true): no6.append(range)
            }
        }
    }

    init(file: String) { self.file = file }

    mutating func parse(_ bytes: [UInt8]) {
        for (number, range) in Lines(bytes: bytes) {
            if range.count > TextScan.maxLineLength { error(number, 1, "line is \(range.count) bytes long; not parsed"); continue }
            if addressEntry(bytes, range) { continue }
            let words = TextScan.words(bytes[range])
            guard let head = words.first, !head.text.hasPrefix("#") else { continue }
            switch head.text {
            case "create", "-N", "-exist":
                guard words.count >= 3 else { error(number, head.column, "create needs a set name and a type"); continue }
                let name = words[1].text, type = words[2].text
                let known = ["hash:ip", "hash:net", "hash:ip,port", "hash:net,port", "bitmap:ip", "list:set", "hash:ip,port,ip",
                             "hash:ip,port,net", "hash:net,net", "hash:net,iface", "hash:ip,mark", "bitmap:port", "hash:mac", "bitmap:ip,mac", "hash:ip,mac", "hash:net,port,net"]
                guard known.contains(type) else { error(number, words[2].column, "unknown set type '\(type)'"); continue }
                var family: AddressFamily? = .ipv4
                if let at = words.firstIndex(where: { $0.text == "family" }), at + 1 < words.count {
                    family = words[at + 1].text == "inet6" ? .ipv6 : .ipv4
                }
                if type == "list:set" || type == "bitmap:port" || type == "hash:mac" { family = nil }
                if sets[name] != nil { error(number, words[1].column, "set '\(name)' is created twice"); continue }
                sets[name] = NamedSet(name: name, type: type, family: family, location: SourceLocation(file: file, line: number, column: 1))
                pending[name] = ranges.count
                ranges.append(PendingRanges())
            case "add", "-A":
                guard words.count >= 3 else { error(number, head.column, "add needs a set name and an entry"); continue }
                let name = words[1].text
                guard let set = sets[name] else { error(number, words[1].column, "set '\(name)' does not exist"); continue }
                let nomatch = words.dropFirst(3).contains { $0.text == "nomatch" }
                add(words[2], to: set, nomatch: nomatch, line: number)
            case "flush", "destroy", "swap", "rename", "-F", "-X":
                continue
            default:
                error(number, head.column, "unexpected '\(head.text.prefix(40))': expected create or add")
            }
        }
        for (name, index) in pending {
            guard var set = sets[name] else { continue }
            // Taken out and put in order where they are: a set of 100,000 entries is not copied to be sorted.
            var ranges = PendingRanges()
            swap(&ranges, &self.ranges[index])
            let v4 = AddressSet(family: .ipv4, ranges: IPSetParser.ordered(&ranges.v4)).subtracting(AddressSet(family: .ipv4, ranges: ranges.no4))
            let v6 = AddressSet(family: .ipv6, ranges: IPSetParser.ordered(&ranges.v6)).subtracting(AddressSet(family: .ipv6, ranges: ranges.no6))
            set.addresses = DualStackSet(ipv4: v4, ipv6: v6)
            sets[name] = set
        }
    }

    /// The common line, `add NAME ADDRESS[/LEN]` (optionally `nomatch`, `timeout N`) for an
    /// address set, read from its bytes without making a String per word. Returns false for any
    /// other line, and for one this path would reject: the general path reads it and reports.
    private mutating func addressEntry(_ bytes: [UInt8], _ line: Range<Int>) -> Bool {
        spans.removeAll(keepingCapacity: true)
        var index = line.lowerBound
        while index < line.upperBound {
            let byte = bytes[index]
            if byte == 0x20 || byte == 0x09 { index += 1; continue }
            let start = index
            while index < line.upperBound, bytes[index] != 0x20, bytes[index] != 0x09 {
                if bytes[index] == 0x22 || bytes[index] == 0x27 { return false }
                index += 1
            }
            spans.append(start..<index)
        }
        guard spans.count >= 3, bytes[spans[0]].elementsEqual("add".utf8) else { return false }
        let nameBytes = bytes[spans[1]]
        if last == nil || !last!.name.elementsEqual(nameBytes) {
            let name = String(decoding: nameBytes, as: UTF8.self)
            guard let set = sets[name], let index = pending[name] else { return false }
            last = (Array(nameBytes), set, index)
        }
        guard let (_, set, setIndex) = last, set.type == "hash:ip" || set.type == "hash:net" || set.type == "bitmap:ip" else { return false }
        var nomatch = false
        for span in spans.dropFirst(3) where bytes[span].elementsEqual("nomatch".utf8) { nomatch = true }
        let entry = spans[2]
        let parsed: (AddressFamily, ClosedRange<UInt128>)? = bytes.withUnsafeBufferPointer { buffer in
            let text = UnsafeBufferPointer(rebasing: buffer[entry])
            if text.contains(UInt8(ascii: ",")) { return nil }
            if let dash = text.firstIndex(of: UInt8(ascii: "-")) {
                guard let low = IPAddress.parse(utf8: UnsafeBufferPointer(rebasing: text[..<dash])),
                      let high = IPAddress.parse(utf8: UnsafeBufferPointer(rebasing: text[(dash + 1)...])),
                      low.family == high.family, low.value <= high.value else { return nil }
                return (low.family, low.value...high.value)
            }
            return CIDR.parse(utf8: text).map { ($0.family, $0.range) }
        }
        guard let (family, range) = parsed, set.family == nil || set.family == family else { return false }
        ranges[setIndex].append(range, family: family, nomatch: nomatch)
        return true
    }

    /// The ranges sorted and merged in place (sorted, disjoint and apart, as `IntervalSet` keeps
    /// them, so that it takes the array as it is), and handed over.
    private static func ordered(_ ranges: inout [ClosedRange<UInt128>]) -> [ClosedRange<UInt128>] {
        ranges.sort { $0.lowerBound < $1.lowerBound }
        var kept = 0
        for index in ranges.indices {
            let range = ranges[index]
            if kept > 0, ranges[kept - 1].upperBound == UInt128.max || range.lowerBound <= ranges[kept - 1].upperBound + 1 {
                if range.upperBound > ranges[kept - 1].upperBound { ranges[kept - 1] = ranges[kept - 1].lowerBound...range.upperBound }
            } else {
                ranges[kept] = range
                kept += 1
            }
        }
        ranges.removeSubrange(kept...)
        var result: [ClosedRange<UInt128>] = []
        swap(&result, &ranges)
        return result
    }

    private mutating func error(_ line: Int, _ column: Int, _ message: String) {
        problems.append(Finding(ruleId: "input.parse-error", message: message, location: SourceLocation(file: file, line: line, column: column)))
    }

    /// An address entry: `a.b.c.d`, `a.b.c.d/len`, `a.b.c.d-e.f.g.h`.
    private static func addressRange(_ text: Substring) -> (AddressFamily, ClosedRange<UInt128>)? {
        if let dash = text.firstIndex(of: "-") {
            guard let low = IPAddress(text[..<dash]), let high = IPAddress(text[text.index(after: dash)...]),
                  low.family == high.family, low.value <= high.value else { return nil }
            return (low.family, low.value...high.value)
        }
        guard let cidr = CIDR(text) else { return nil }
        return (cidr.family, cidr.range)
    }

    private mutating func add(_ entry: Word, to set: NamedSet, nomatch: Bool, line: Int) {
        let name = set.name
        if set.type == "list:set" {
            sets[name]?.members.append(entry.text)
            return
        }
        let parts = entry.text.split(separator: ",", omittingEmptySubsequences: false)
        guard let (family, range) = IPSetParser.addressRange(parts[0]) else {
            if set.type.hasPrefix("hash:ip") || set.type.hasPrefix("hash:net") || set.type == "bitmap:ip" {
                error(line, entry.column, "'\(parts[0])' is not an address, prefix or range")
            } else {
                sets[name]?.hasUnknownEntries = true
            }
            return
        }
        if let expected = set.family, expected != family {
            error(line, entry.column, "'\(parts[0])' is not an \(expected == .ipv4 ? "IPv4" : "IPv6") address (set family)")
            return
        }
        switch set.type {
        case "hash:ip", "hash:net", "bitmap:ip":
            guard parts.count == 1 else { error(line, entry.column, "entry '\(entry.text)' does not fit type \(set.type)"); return }
            if let index = pending[name] { ranges[index].append(range, family: family, nomatch: nomatch) }
        case "hash:ip,port", "hash:net,port":
            guard parts.count == 2 else { error(line, entry.column, "entry '\(entry.text)' needs address,port"); return }
            var portText = parts[1]
            var tcp = true
            if let colon = portText.firstIndex(of: ":") {
                let proto = portText[..<colon].lowercased()
                tcp = proto == "tcp"
                portText = portText[portText.index(after: colon)...]
            }
            guard let ports = PortText.range(portText, separator: "-") else { error(line, entry.column, "invalid port in '\(entry.text)'"); return }
            if nomatch { sets[name]?.hasUnknownEntries = true; return }
            var addresses = DualStackSet()
            addresses[family] = AddressSet(family: family, ranges: [range])
            sets[name]?.addressPorts.append((addresses, PortSet(ports), tcp))
        default:
            sets[name]?.hasUnknownEntries = true
        }
    }
}
