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
    private var pending: [String: (v4: [ClosedRange<UInt128>], v6: [ClosedRange<UInt128>], no4: [ClosedRange<UInt128>], no6: [ClosedRange<UInt128>])] = [:]

    init(file: String) { self.file = file }

    mutating func parse(_ bytes: [UInt8]) {
        for (number, range) in Lines(bytes: bytes) {
            if range.count > TextScan.maxLineLength { error(number, 1, "line is \(range.count) bytes long; not parsed"); continue }
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
                pending[name] = ([], [], [], [])
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
        for (name, ranges) in pending {
            guard var set = sets[name] else { continue }
            let v4 = AddressSet(family: .ipv4, ranges: ranges.v4).subtracting(AddressSet(family: .ipv4, ranges: ranges.no4))
            let v6 = AddressSet(family: .ipv6, ranges: ranges.v6).subtracting(AddressSet(family: .ipv6, ranges: ranges.no6))
            set.addresses = DualStackSet(ipv4: v4, ipv6: v6)
            sets[name] = set
        }
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
            switch (family, nomatch) {
            case (.ipv4, false): pending[name]?.v4.append(range)
            case (.ipv6, false): pending[name]?.v6.append(range)
            case (.ipv4, true): pending[name]?.no4.append(range)
            case (.ipv6, true): pending[name]?.no6.append(range)
            }
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
