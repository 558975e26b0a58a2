import OriginAuditCore

/// Parses `iptables-save` / `ip6tables-save` output (legacy or nf_tables, with or without
/// `[packets:bytes]` counters, every table) and `iptables -S` output into tables of the model.
/// It follows what `iptables-restore` accepts: a rule outside a table, a missing COMMIT, an unknown
/// table, an undeclared chain or target, or a malformed option is an `input.parse-error` at that
/// line; the rest of the file is still read.
struct IptablesParser {
    let file: String
    let familyHint: AddressFamily?

    private var problems = FindingList()
    var findings: [Finding] { problems.all }
    private var tables: [FirewallTable] = []
    private var current: Int?
    /// The chains of the current table by name (a ruleset may have thousands of chains).
    private var chainIndex: [String: Int] = [:]
    private var currentOpenedAt = 0
    private var sawAddressFamily: AddressFamily?
    private var ipv6OnlyUses: [(line: Int, column: Int, name: String)] = []
    /// `-A` lines whose jump target is checked once the whole table is known.
    private var pendingTargets: [(table: Int, chain: Int, rule: Int, target: String, line: Int, column: Int, isGoto: Bool)] = []
    /// Conditions other than addresses, one copy of each: `-p tcp`, `--dport 443`, `--state NEW`
    /// repeat across thousands of rules, and each copy of a set is an allocation of its own.
    private var sharedMatches = Set<Match>()

    init(file: String, familyHint: AddressFamily?) {
        self.file = file
        self.familyHint = familyHint
    }

    static let builtinChains: [String: [String]] = [
        "filter": ["INPUT", "FORWARD", "OUTPUT"],
        "nat": ["PREROUTING", "INPUT", "OUTPUT", "POSTROUTING"],
        "mangle": ["PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"],
        "raw": ["PREROUTING", "OUTPUT"],
        "security": ["INPUT", "FORWARD", "OUTPUT"],
    ]

    /// The fixed nftables-equivalent priorities of the iptables tables.
    static func priority(table: String, hook: Hook) -> Int {
        switch table {
        case "raw": -300
        case "mangle": -150
        case "nat": hook == .prerouting || hook == .output ? -100 : 100
        case "security": 50
        default: 0
        }
    }

    mutating func parse(_ bytes: [UInt8], rulesOnly: Bool) -> (tables: [FirewallTable], family: AddressFamily) {
        var headerFamily: AddressFamily?
        if rulesOnly {
            // `iptables -S` lists the filter table only, without headers.
            openTable("filter", line: 1)
        }
        for (number, range) in Lines(bytes: bytes) {
            if range.count > TextScan.maxLineLength {
                error(line: number, column: 1, "line is \(range.count) bytes long; not parsed")
                continue
            }
            let slice = bytes[range]
            guard let first = slice.first(where: { $0 != 0x20 && $0 != 0x09 }) else { continue }
            if first == UInt8(ascii: "#") {
                let text = String(decoding: slice, as: UTF8.self)
                if text.contains("ip6tables") { headerFamily = .ipv6 } else if text.contains("iptables") { headerFamily = headerFamily ?? .ipv4 }
                continue
            }
            let words = TextScan.words(slice)
            guard let head = words.first else { continue }
            var body = words[...]
            // `[packets:bytes] -A ...` (iptables-save -c) and `:CHAIN POLICY [p:b]`.
            if head.text.hasPrefix("[") && head.text.hasSuffix("]") && head.text.contains(":") { body = body.dropFirst() }
            guard let word = body.first else { continue }
            switch word.text {
            case _ where word.text.hasPrefix("*") && !rulesOnly:
                if current != nil {
                    error(line: currentOpenedAt, column: 1, "table '\(tables[current!].name)' is not closed by COMMIT before line \(number)")
                }
                openTable(String(word.text.dropFirst()), line: number)
            case "COMMIT" where !rulesOnly:
                if current == nil { error(line: number, column: word.column, "COMMIT outside a table") }
                closeTable()
            case _ where word.text.hasPrefix(":") && !rulesOnly:
                declareChain(Array(body), line: number)
            case "-P", "--policy":
                setPolicy(Array(body), line: number)
            case "-N", "--new-chain":
                guard body.count >= 2 else { error(line: number, column: word.column, "-N needs a chain name"); continue }
                addChain(body[body.startIndex + 1].text, line: number, column: word.column)
            case "-A", "--append", "-I", "--insert":
                appendRule(Array(body), line: number, text: String(decoding: slice, as: UTF8.self))
            default:
                error(line: number, column: word.column, "unexpected '\(word.text.prefix(40))': expected a table (*filter), a chain (:INPUT ACCEPT), a rule (-A) or COMMIT")
            }
        }
        if let current, !rulesOnly {
            // iptables-restore reports this at the line after the last one ("COMMIT expected at line N").
            let endLine = bytes.reduce(0) { $1 == 0x0A ? $0 + 1 : $0 } + (bytes.last == 0x0A || bytes.isEmpty ? 1 : 0)
            error(line: max(endLine, 1), column: 1, "COMMIT expected: table '\(tables[current].name)' (opened at line \(currentOpenedAt)) is not closed before the end of the file")
            closeTable()
        }
        if rulesOnly { closeTable() }
        // With nothing else to go by, an IPv6-only match says the file is ip6tables'.
        let family = familyHint ?? headerFamily ?? sawAddressFamily ?? (ipv6OnlyUses.isEmpty ? .ipv4 : .ipv6)
        if family == .ipv4 {
            for use in ipv6OnlyUses {
                error(line: use.line, column: use.column, "-m \(use.name) is an IPv6 match: iptables-restore refuses it in an IPv4 ruleset (it belongs in the ip6tables file)")
            }
        }
        let tableFamily: TableFamily = family == .ipv4 ? .ip : .ip6
        let defaultReject = family == .ipv4 ? "icmp-port-unreachable" : "icmp6-port-unreachable"
        for index in tables.indices {
            tables[index].family = tableFamily
            for chain in tables[index].chains.indices {
                for rule in tables[index].chains[chain].rules.indices
                where tables[index].chains[chain].rules[rule].action == .verdict(.reject(RuleOptions.defaultReject)) {
                    tables[index].chains[chain].rules[rule].action = .verdict(.reject(defaultReject))
                }
            }
        }
        return (tables, family)
    }

    private mutating func error(line: Int, column: Int, _ message: String) {
        problems.append(Finding(ruleId: "input.parse-error", message: message,
                                location: SourceLocation(file: file, line: line, column: column)))
    }

    private mutating func openTable(_ name: String, line: Int) {
        let location = SourceLocation(file: file, line: line, column: 1)
        guard let builtins = IptablesParser.builtinChains[name] else {
            error(line: line, column: 2, "unknown table '\(name)' (known: filter, nat, mangle, raw, security)")
            current = nil
            return
        }
        var table = FirewallTable(backend: .iptables, family: .ip, name: name, location: location)
        for chain in builtins {
            let hook = Hook(rawValue: chain.lowercased())!
            table.chains.append(FirewallChain(
                name: chain, hook: hook, type: name == "nat" ? "nat" : "filter",
                priority: IptablesParser.priority(table: name, hook: hook),
                policy: .accept, policyLocation: location, location: location))
        }
        tables.append(table)
        current = tables.count - 1
        chainIndex = Dictionary(table.chains.enumerated().map { ($1.name, $0) }, uniquingKeysWith: { first, _ in first })
        currentOpenedAt = line
    }

    private mutating func closeTable() {
        guard let current else { return }
        // Jump targets may be declared after the rule that uses them; check once the table is complete.
        for pending in pendingTargets where pending.table == current {
            if tables[current].chain(named: pending.target) == nil {
                error(line: pending.line, column: pending.column, "target '\(pending.target)' is neither a chain of table '\(tables[current].name)' nor a known target")
                tables[current].chains[pending.chain].rules[pending.rule].action = .unknown("missing chain \(pending.target)")
            }
        }
        pendingTargets.removeAll { $0.table == current }
        // Appending left each chain up to twice the room it needs; the model keeps these.
        for chain in tables[current].chains.indices {
            let rules = tables[current].chains[chain].rules
            if rules.capacity > rules.count + rules.count / 4 { tables[current].chains[chain].rules = rules.exactCopy() }
        }
        self.current = nil
        chainIndex = [:]
    }

    private mutating func addChain(_ name: String, line: Int, column: Int) {
        guard let current else { error(line: line, column: column, "chain outside a table"); return }
        if chainIndex[name] != nil {
            if IptablesParser.builtinChains[tables[current].name]?.contains(name) == true { return }
            error(line: line, column: column, "chain '\(name)' is declared twice")
            return
        }
        let location = SourceLocation(file: file, line: line, column: column)
        tables[current].chains.append(FirewallChain(name: name, policyLocation: location, location: location))
        chainIndex[name] = tables[current].chains.count - 1
    }

    private mutating func declareChain(_ words: [Word], line: Int) {
        let name = String(words[0].text.dropFirst())
        guard !name.isEmpty else { error(line: line, column: 1, "chain declaration without a name"); return }
        guard let current else { error(line: line, column: 1, "chain ':\(name)' outside a table"); return }
        let policy = words.count > 1 ? words[1].text : "-"
        if let index = chainIndex[name], tables[current].chains[index].isBaseChain {
            let location = SourceLocation(file: file, line: line, column: 1)
            tables[current].chains[index].location = location
            switch policy {
            case "ACCEPT": tables[current].chains[index].policy = .accept
            case "DROP": tables[current].chains[index].policy = .drop
            default: error(line: line, column: words.count > 1 ? words[1].column : 1, "built-in chain \(name) needs policy ACCEPT or DROP, not '\(policy)'")
            }
            tables[current].chains[index].policyLocation = location
        } else {
            if policy != "-" { error(line: line, column: words[1].column, "user-defined chain \(name) cannot have policy '\(policy)'") }
            addChain(name, line: line, column: 1)
        }
    }

    private mutating func setPolicy(_ words: [Word], line: Int) {
        guard words.count >= 3, let current,
              let index = tables[current].chains.firstIndex(where: { $0.name == words[1].text && $0.isBaseChain }) else {
            error(line: line, column: 1, "-P needs a built-in chain and ACCEPT or DROP")
            return
        }
        let location = SourceLocation(file: file, line: line, column: 1)
        switch words[2].text {
        case "ACCEPT": tables[current].chains[index].policy = .accept
        case "DROP": tables[current].chains[index].policy = .drop
        default: error(line: line, column: words[2].column, "policy must be ACCEPT or DROP, not '\(words[2].text)'")
        }
        tables[current].chains[index].policyLocation = location
    }

    private mutating func appendRule(_ words: [Word], line: Int, text: String) {
        guard let current else { error(line: line, column: words[0].column, "rule outside a table (no *filter before it)"); return }
        guard words.count >= 2 else { error(line: line, column: words[0].column, "\(words[0].text) needs a chain name"); return }
        let chainName = words[1].text
        guard let chainIndex = chainIndex[chainName] else {
            error(line: line, column: words[1].column, "chain '\(chainName)' does not exist in table '\(tables[current].name)'")
            return
        }
        var rest = Array(words.dropFirst(2))
        if words[0].text == "-I" || words[0].text == "--insert", let first = rest.first, Int(first.text) != nil { rest.removeFirst() }
        var options = RuleOptions(words: rest, tableName: tables[current].name)
        options.parse()
        if let family = options.addressFamily { sawAddressFamily = sawAddressFamily ?? family }
        if let module = options.ipv6OnlyModule { ipv6OnlyUses.append((line, module.column, module.name)) }
        if let problem = options.error {
            error(line: line, column: problem.column, problem.message)
            return
        }
        let location = SourceLocation(file: file, line: line, column: 1)
        var shortText = text.trimmingBlanks(" \t")
        if shortText.hasPrefix("[") , let space = shortText.utf8.firstIndex(of: 0x20) { shortText = String(shortText[space...]).trimmingBlanks(" ") }
        if shortText.utf8.count > 160 && shortText.count > 160 { shortText = String(shortText.prefix(157)) + "..." }
        // Exactly as many matches as the rule has: 50,000 rules would otherwise keep the spare
        // capacity of each array's growth.
        var matches = options.matches.withUnsafeBufferPointer { Array($0) }
        for index in matches.indices {
            if case .address = matches[index] { continue }
            matches[index] = sharedMatches.insert(matches[index]).memberAfterInsert
        }
        tables[current].chains[chainIndex].rules.append(FirewallRule(location: location, text: shortText, matches: matches, action: options.action))
        if let target = options.chainTarget {
            pendingTargets.append((current, chainIndex, tables[current].chains[chainIndex].rules.count - 1, target.name, line, target.column, target.isGoto))
        }
    }
}

private extension String {
    /// Drops the given ASCII blanks from both ends.
    func trimmingBlanks(_ blanks: StaticString) -> String {
        let set = UnsafeBufferPointer(start: blanks.utf8Start, count: blanks.utf8CodeUnitCount)
        let bytes = utf8
        guard let first = bytes.firstIndex(where: { !set.contains($0) }) else { return "" }
        let last = bytes.lastIndex(where: { !set.contains($0) })!
        if first == bytes.startIndex && bytes.index(after: last) == bytes.endIndex { return self }
        return String(decoding: bytes[first...last], as: UTF8.self)
    }
}

/// The options of one `-A` line: generic matches, `-m` modules with their options, the target.
struct RuleOptions {
    let words: [Word]
    let tableName: String

    var matches: [Match] = []
    var action: RuleAction = .continue
    var chainTarget: (name: String, column: Int, isGoto: Bool)?
    var error: (column: Int, message: String)?
    var addressFamily: AddressFamily?
    /// A match only ip6tables has (`-m rt`): iptables-restore refuses it in an IPv4 ruleset.
    var ipv6OnlyModule: (column: Int, name: String)?

    /// `-p tcp` on nearly every rule: one set shared by all of them.
    static let tcp: Set<UInt8> = [6]
    static let ipv6OnlyModules: Set<String> = ["rt", "frag", "hbh", "dst", "ipv6header", "mh", "eui64"]
    /// IPv6 extension header names of `-m ipv6header --header`; `prot` is the upper-layer protocol itself.
    static let ipv6Headers: Set<String> = ["hop", "hop-by-hop", "dst", "route", "frag", "auth", "esp", "none", "prot", "protocol", "0", "60", "43", "44", "51", "50", "59", "255"]

    private var index = 0
    private var modules: [String] = []
    private var protocolName: String?
    private var target: String?
    private var rejectWith: String?
    private var dnatPort: UInt16?
    private var soft = false

    init(words: [Word], tableName: String) {
        self.words = words
        self.tableName = tableName
    }

    /// Placeholder for a REJECT without --reject-with, resolved once the file's family is known.
    static let defaultReject = "default"
    /// Targets that let the packet continue through the chain.
    static let nonTerminalTargets: Set<String> = [
        "LOG", "NFLOG", "ULOG", "MARK", "CONNMARK", "TRACE", "NOTRACK", "CT", "TCPMSS", "CLASSIFY", "SET",
        "AUDIT", "DSCP", "TOS", "TTL", "HL", "SECMARK", "CONNSECMARK", "IDLETIMER", "LED", "RATEEST", "CHECKSUM",
    ]
    /// Targets that end the chain in a way the evaluator does not model.
    static let opaqueTargets: Set<String> = [
        "QUEUE", "NFQUEUE", "TARPIT", "TEE", "SNAT", "MASQUERADE", "REDIRECT", "NETMAP", "TPROXY", "SYNPROXY", "DNAT",
    ]

    mutating func parse() {
        while index < words.count, error == nil {
            var negated = false
            if words[index].text == "!" && !words[index].quoted {
                negated = true
                index += 1
                guard index < words.count else { fail(words[index - 1].column, "'!' at the end of the rule"); return }
            }
            let option = words[index]
            index += 1
            parseOption(option, negated: negated)
        }
        finishTarget()
    }

    private mutating func fail(_ column: Int, _ message: String) {
        if error == nil { error = (column, message) }
    }

    /// The next word as an option's value; an old-style `-s ! addr` negation is accepted.
    private mutating func value(for option: Word, negated: inout Bool) -> Word? {
        if index < words.count, words[index].text == "!", !words[index].quoted, index + 1 < words.count {
            negated.toggle(); index += 1
        }
        guard index < words.count else { fail(option.column, "option \(option.text) needs a value"); return nil }
        defer { index += 1 }
        return words[index]
    }

    /// Values up to the next option word (for options such as `--tcp-flags SYN,ACK SYN`).
    private mutating func values() -> [Word] {
        var result: [Word] = []
        while index < words.count, !(words[index].text.hasPrefix("-") && !words[index].quoted && words[index].text.count > 1 && Int(words[index].text) == nil), !(words[index].text == "!" && !words[index].quoted) {
            result.append(words[index]); index += 1
        }
        return result
    }

    private mutating func parseOption(_ option: Word, negated initialNegation: Bool) {
        var negated = initialNegation
        switch option.text {
        case "-s", "--source", "--src", "-d", "--destination", "--dst":
            guard let word = value(for: option, negated: &negated) else { return }
            let direction: Direction = option.text.hasPrefix("-s") || option.text.hasPrefix("--s") ? .source : .destination
            var cidrs: [CIDR] = []
            if !word.text.utf8.contains(UInt8(ascii: ",")), let cidr = CIDR(word.text) {
                // One address or prefix, the usual case: no list to split.
                addressFamily = addressFamily ?? cidr.family
                matches.append(.address(direction, .literal(DualStackSet(cidr)), negated: negated))
                return
            }
            for part in word.text.split(separator: ",") {
                guard let cidr = CIDR(part) else { fail(word.column, "'\(part)' is not an address or prefix"); return }
                addressFamily = addressFamily ?? cidr.family
                cidrs.append(cidr)
            }
            if negated && cidrs.count > 1 { fail(option.column, "! not allowed with multiple source or destination addresses"); return }
            matches.append(.address(direction, .literal(DualStackSet(cidrs: cidrs)), negated: negated))
        case "-p", "--protocol":
            guard let word = value(for: option, negated: &negated) else { return }
            let name = word.text.lowercased()
            if name == "all" || name == "0" {
                if negated { matches.append(.never("! -p all")) }
            } else if let number = ProtocolNames.number(name) {
                matches.append(.proto(number == 6 ? RuleOptions.tcp : [number], negated: negated))
                protocolName = name
                if !negated { modules.append(name == "ipv6-icmp" || name == "icmpv6" ? "icmp6" : name) }
            } else {
                fail(word.column, "unknown protocol '\(word.text)'")
            }
        case "-i", "--in-interface", "-o", "--out-interface":
            guard let word = value(for: option, negated: &negated) else { return }
            matches.append(.interface(input: option.text.hasPrefix("-i") || option.text.hasPrefix("--in"), names: [word.text], negated: negated))
        case "-f", "--fragment":
            // A SYN that opens a connection is a first fragment or unfragmented.
            matches.append(negated ? .always("! -f") : .never("-f (non-first fragments)"))
        case "-m", "--match":
            guard let word = value(for: option, negated: &negated) else { return }
            modules.append(word.text)
            if RuleOptions.ipv6OnlyModules.contains(word.text) { ipv6OnlyModule = ipv6OnlyModule ?? (word.column, word.text) }
            if ["rt", "frag", "hbh", "dst", "mh"].contains(word.text) {
                // The match needs that header (a mobility header: that protocol); whatever its
                // options, a plain TCP SYN carries none, so it never matches.
                matches.append(.never("-m \(word.text) (IPv6 extension header; a TCP SYN carries none)"))
            }
        case "-j", "--jump", "-g", "--goto":
            guard let word = value(for: option, negated: &negated) else { return }
            target = word.text
            if option.text == "-g" || option.text == "--goto" {
                chainTarget = (word.text, word.column, true)
                action = .goto(word.text)
            } else {
                startTarget(word)
            }
        case "-c", "--set-counters":
            _ = values()
        default:
            if option.text.hasPrefix("--") {
                parseModuleOption(option, negated: negated)
            } else {
                fail(option.column, "unknown option '\(option.text)'")
            }
        }
    }

    private mutating func startTarget(_ word: Word) {
        let name = word.text
        switch name {
        case "ACCEPT": action = .verdict(.accept)
        case "DROP": action = .verdict(.drop)
        case "REJECT": action = .verdict(.reject(RuleOptions.defaultReject))
        case "RETURN": action = .return
        case "DNAT": action = .dnat(port: nil)
        default:
            if RuleOptions.nonTerminalTargets.contains(name) {
                action = .continue
            } else if RuleOptions.opaqueTargets.contains(name) {
                action = .unknown(name)
            } else {
                // A user chain (checked when the table is complete) — iptables tries chains first.
                chainTarget = (name, word.column, false)
                action = .jump(name)
            }
        }
    }

    private mutating func finishTarget() {
        if case .verdict(.reject) = action, let rejectWith {
            action = .verdict(.reject(RuleOptions.canonicalReject(rejectWith)))
        }
        if case .dnat = action { action = .dnat(port: dnatPort) }
        if let target, target == "REJECT", !(tableName == "filter" || tableName == "mangle" || tableName == "raw" || tableName == "security") {
            fail(1, "REJECT is only valid in the filter, mangle and raw tables")
        }
        // The kernel refuses a TCP reset for packets that may not be TCP.
        if case .verdict(.reject("tcp-reset")) = action, !matches.contains(.proto([6], negated: false)) {
            fail(1, "REJECT --reject-with tcp-reset needs -p tcp (the kernel refuses this rule)")
        }
    }

    /// The `--reject-with` types iptables accepts, with their aliases.
    static let rejectTypes: Set<String> = ["icmp-net-unreachable", "icmp-host-unreachable", "icmp-port-unreachable", "icmp-proto-unreachable",
                                              "icmp-net-prohibited", "icmp-host-prohibited", "icmp-admin-prohibited", "tcp-reset", "tcp-rst",
                                              "icmp6-no-route", "no-route", "icmp6-adm-prohibited", "adm-prohibited", "icmp6-addr-unreachable",
                                              "addr-unreach", "icmp6-port-unreachable", "port-unreach", "net-unreach", "host-unreach",
                                              "proto-unreach", "net-prohib", "host-prohib", "admin-prohib", "icmp6-policy-fail",
                                              "policy-fail", "icmp6-reject-route", "reject-route"]

    /// The names iptables prints for `--reject-with` aliases.
    static func canonicalReject(_ text: String) -> String {
        switch text {
        case "tcp-rst": "tcp-reset"
        case "icmp-net-unreachable", "net-unreach": "icmp-net-unreachable"
        case "host-unreach": "icmp-host-unreachable"
        case "port-unreach": "icmp-port-unreachable"
        case "proto-unreach": "icmp-proto-unreachable"
        case "net-prohib": "icmp-net-prohibited"
        case "host-prohib": "icmp-host-prohibited"
        case "admin-prohib": "icmp-admin-prohibited"
        default: text
        }
    }

    private mutating func parseModuleOption(_ option: Word, negated: Bool) {
        var negated = negated
        let name = option.text
        // Target options come after -j.
        if let target {
            switch name {
            case "--reject-with":
                guard let word = value(for: option, negated: &negated) else { return }
                guard RuleOptions.rejectTypes.contains(word.text) else { fail(word.column, "unknown --reject-with type '\(word.text)'"); return }
                rejectWith = word.text
            case "--to-destination":
                guard let word = value(for: option, negated: &negated) else { return }
                if let colon = word.text.lastIndex(of: ":"), !word.text.hasPrefix("[") || word.text.contains("]:") {
                    let portText = word.text[word.text.index(after: colon)...]
                    if let range = PortText.range(portText, separator: "-"), !word.text.filter({ $0 == ":" }).isEmpty, word.text.filter({ $0 == ":" }).count == 1 || word.text.contains("]:") {
                        dnatPort = range.lowerBound
                    }
                }
            default:
                _ = values()
                _ = target
            }
            return
        }
        let module = moduleFor(option: name)
        switch (module, name) {
        case (_, "--dport"), (_, "--destination-port"), (_, "--sport"), (_, "--source-port"):
            guard let word = value(for: option, negated: &negated) else { return }
            guard let range = PortText.range(word.text, separator: ":") else { fail(word.column, "invalid port '\(word.text)'"); return }
            let direction: Direction = name.hasPrefix("--d") ? .destination : .source
            matches.append(.port(direction, PortSet(range), negated: negated))
        case (_, "--dports"), (_, "--destination-ports"), (_, "--sports"), (_, "--source-ports"), (_, "--ports"):
            guard let word = value(for: option, negated: &negated) else { return }
            guard let set = PortText.list(word.text, separator: ":") else { fail(word.column, "invalid port list '\(word.text)'"); return }
            if name == "--ports" {
                // Matches a source or a destination port; the probe's source port is ephemeral.
                matches.append(.unknown("multiport --ports \(word.text) (source or destination port)"))
                _ = set
            } else {
                matches.append(.port(name.hasPrefix("--s") ? .source : .destination, set, negated: negated))
            }
        case (_, "--syn"):
            // The probe is a bare SYN: `--syn` (SYN set, ACK/RST/FIN clear) always holds for it.
            matches.append(negated ? .never("! --syn") : .always("--syn"))
        case (_, "--tcp-flags"):
            let flags = values()
            guard flags.count == 2 else { fail(option.column, "--tcp-flags needs a mask and a set of flags"); return }
            // The probe carries exactly SYN: it matches when (SYN ∩ mask) equals the compared flags.
            func flagSet(_ text: String) -> Set<String> {
                let names = Set(text.uppercased().split(separator: ",").map(String.init))
                if names.contains("ALL") { return ["FIN", "SYN", "RST", "PSH", "ACK", "URG"] }
                return names.subtracting(["NONE"])
            }
            let mask = flagSet(flags[0].text), compared = flagSet(flags[1].text)
            let probeMatches = mask.intersection(["SYN"]) == compared
            matches.append(probeMatches != negated ? .always("--tcp-flags \(flags[0].text) \(flags[1].text)") : .never("--tcp-flags \(flags[0].text) \(flags[1].text)"))
        case (_, "--tcp-option"), (_, "--mss"):
            _ = values()
            matches.append(.unknown("\(name)"))
        case (_, "--ctstate"), (_, "--state"):
            guard let word = value(for: option, negated: &negated) else { return }
            let states = Set(word.text.lowercased().split(separator: ",").map(String.init))
            let known: Set<String> = ["new", "established", "related", "invalid", "untracked", "snat", "dnat"]
            guard states.isSubset(of: known) else { fail(word.column, "unknown connection state in '\(word.text)'"); return }
            matches.append(.connectionState(states, negated: negated))
        case (_, "--ctorigsrc"), (_, "--ctorigdst"):
            // For a NEW connection the original tuple is the packet's own (before any DNAT).
            guard let word = value(for: option, negated: &negated) else { return }
            guard let cidr = CIDR(word.text) else { fail(word.column, "'\(word.text)' is not an address or prefix"); return }
            matches.append(.address(name == "--ctorigsrc" ? .source : .destination, .literal(DualStackSet(cidrs: [cidr])), negated: negated))
        case (_, "--ctproto"):
            guard let word = value(for: option, negated: &negated) else { return }
            matches.append(.proto([ProtocolNames.number(word.text) ?? 255], negated: negated))
        case ("iprange", "--src-range"), ("iprange", "--dst-range"):
            guard let word = value(for: option, negated: &negated) else { return }
            let parts = word.text.split(separator: "-", maxSplits: 1)
            guard parts.count == 2, let low = IPAddress(parts[0]), let high = IPAddress(parts[1]), low.family == high.family, low.value <= high.value else {
                fail(word.column, "invalid address range '\(word.text)'"); return
            }
            var set = DualStackSet()
            set[low.family] = AddressSet(family: low.family, ranges: [low.value...high.value])
            matches.append(.address(name == "--src-range" ? .source : .destination, .literal(set), negated: negated))
        case (_, "--match-set"):
            let parts = values()
            guard parts.count == 2 else { fail(option.column, "--match-set needs a set name and src/dst flags"); return }
            let flags = parts[1].text.split(separator: ",").map(String.init)
            guard flags.allSatisfy({ $0 == "src" || $0 == "dst" }) else { fail(parts[1].column, "invalid --match-set flags '\(parts[1].text)'"); return }
            if flags.count == 1 {
                matches.append(.address(flags[0] == "src" ? .source : .destination, .named(parts[0].text), negated: negated))
            } else if flags.count == 2 && flags[0] == "src" && flags[1] == "dst" {
                matches.append(.address(.source, .named(parts[0].text + ",port"), negated: negated))
            } else {
                matches.append(.unknown("set \(parts[0].text) \(parts[1].text)"))
            }
        case (_, "--return-nomatch"), (_, "--update-counters"), (_, "--update-subcounters"), (_, "--no-update-counters"), (_, "--no-update-subcounters"):
            break
        case (_, "--packets-eq"), (_, "--packets-lt"), (_, "--packets-gt"), (_, "--bytes-eq"), (_, "--bytes-lt"), (_, "--bytes-gt"):
            _ = values()
            matches.append(.unknown("set counters \(name)"))
        case (_, "--src-type"), (_, "--dst-type"):
            guard let word = value(for: option, negated: &negated) else { return }
            matches.append(.addressType(name == "--src-type" ? .source : .destination, Set(word.text.uppercased().split(separator: ",").map(String.init)), negated: negated))
        case (_, "--limit-iface-in"), (_, "--limit-iface-out"):
            break
        case (_, "--comment"):
            guard value(for: option, negated: &negated) != nil else { return }
        case ("limit", _):
            let detail = values().map(\.text).joined(separator: " ")
            appendLimit("limit", "\(name) \(detail)")
        case ("hashlimit", _):
            let detail = values().map(\.text).joined(separator: " ")
            appendLimit("hashlimit", "\(name) \(detail)")
        case ("connlimit", _):
            let detail = values().map(\.text).joined(separator: " ")
            appendLimit("connlimit", "\(name) \(detail)")
        case ("recent", "--set"):
            matches.append(.always("recent --set"))
        case ("recent", "--rcheck"), ("recent", "--update"), ("recent", "--remove"):
            appendLimit("recent", name)
        case ("recent", _):
            _ = values()
        case ("rt", _), ("frag", _), ("hbh", _), ("dst", _), ("mh", _):
            // Decided by the module itself (never, above); its options only narrow it further.
            _ = values()
        case ("ipv6header", "--soft"):
            soft = true
        case ("ipv6header", "--header"):
            guard let word = value(for: option, negated: &negated) else { return }
            let listed = Set(word.text.lowercased().split(separator: ",").map(String.init))
            guard listed.isSubset(of: RuleOptions.ipv6Headers) else { fail(word.column, "unknown IPv6 header in '\(word.text)'"); return }
            // ip6t_ipv6header: a TCP SYN has no extension header; only `prot` (the protocol after
            // the headers) is present. Exact mode compares the sets; --soft needs each listed one.
            let proto: Set<String> = ["prot", "protocol", "255"]
            let others = listed.subtracting(proto)
            let present = listed.isDisjoint(with: proto) ? 0 : 1
            let matchesProbe: Bool
            if soft || words[index...].contains(where: { $0.text == "--soft" }) {
                matchesProbe = negated ? present == 0 : others.isEmpty && present == 1
            } else {
                matchesProbe = negated ? !others.isEmpty : others.isEmpty && present == 1
            }
            matches.append(matchesProbe ? .always("ipv6header \(negated ? "! " : "")--header \(word.text)") : .never("ipv6header \(negated ? "! " : "")--header \(word.text)"))
        case ("length", "--length"):
            guard let word = value(for: option, negated: &negated) else { return }
            guard let range = PortText.range(word.text, separator: ":") else { fail(word.column, "invalid length '\(word.text)'"); return }
            // A SYN with the usual options is 60 bytes over IPv4, 80 over IPv6; 44–100 covers every
            // option set a CDN sends. A range holding all of it or none of it decides.
            let syn: ClosedRange<UInt16> = 44...100
            if range.lowerBound <= syn.lowerBound && range.upperBound >= syn.upperBound {
                matches.append(negated ? .never("! --length \(word.text)") : .always("--length \(word.text)"))
            } else if !range.overlaps(syn) {
                matches.append(negated ? .always("! --length \(word.text)") : .never("--length \(word.text)"))
            } else {
                matches.append(.unknown("-m length \(negated ? "! " : "")--length \(word.text)"))
            }
        case ("pkttype", "--pkt-type"):
            guard let word = value(for: option, negated: &negated) else { return }
            let type = word.text.lowercased()
            guard ["unicast", "broadcast", "multicast", "host"].contains(type) else { fail(word.column, "unknown packet type '\(word.text)'"); return }
            // The CDN's SYN is addressed to the origin itself.
            matches.append(((type == "unicast" || type == "host") != negated) ? .always("--pkt-type \(word.text)") : .never("--pkt-type \(word.text)"))
        case (_, "--icmp-type"), (_, "--icmpv6-type"):
            _ = values()
            matches.append(.never("ICMP type match (the probe is TCP)"))
        default:
            let detail = values().map(\.text).joined(separator: " ")
            matches.append(.unknown("-m \(module ?? "?") \(negated ? "! " : "")\(name) \(detail)".trimmingBlanks(" ")))
        }
    }

    private mutating func appendLimit(_ kind: String, _ detail: String) {
        if let last = matches.last, case .rateLimit(let limit) = last, limit.kind == kind {
            matches[matches.count - 1] = .rateLimit(RateLimit(kind: kind, detail: limit.detail + " " + detail))
        } else {
            matches.append(.rateLimit(RateLimit(kind: kind, detail: detail)))
        }
    }

    /// The module an option belongs to: the most recent `-m` that defines it.
    private func moduleFor(option: String) -> String? {
        for module in modules.reversed() {
            switch module {
            case "limit" where option.hasPrefix("--limit"): return module
            case "hashlimit" where option.hasPrefix("--hashlimit"): return module
            case "connlimit" where option.hasPrefix("--connlimit"): return module
            case "recent" where ["--set", "--rcheck", "--update", "--remove", "--seconds", "--hitcount", "--rttl", "--name", "--rsource", "--rdest", "--mask", "--reap"].contains(option): return module
            case "iprange" where option.hasSuffix("-range"): return module
            default: continue
            }
        }
        return modules.last
    }
}
