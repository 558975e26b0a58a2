import OriginAuditCore

/// Parses `nft list ruleset` text (and `nft -f` scripts in the same shape: `flush ruleset`,
/// `table … { … }` blocks). Each statement is turned into the libnftables JSON shape and handed
/// to `NftRulesetBuilder`, so text and JSON share one interpretation. A syntax error is an
/// `input.parse-error` at its line and column; parsing resumes at the next statement.
enum NftTextParser {
    static func parse(_ bytes: [UInt8], file: String) -> (model: FirewallModel, findings: [Finding]) {
        var lexer = NftLexer(bytes: bytes)
        let tokens = lexer.tokens()
        var parser = NftTextStructure(tokens: tokens, file: file)
        parser.parseFile()
        var findings = FindingList.capped(lexer.errors.map { Finding(ruleId: "input.parse-error", message: $0.message, location: SourceLocation(file: file, line: $0.line, column: $0.column)) })
        findings += parser.findings
        var builder = NftRulesetBuilder(file: file)
        for (object, location) in parser.objects where object["rule"] == nil { builder.add(object, location: location) }
        for (object, location) in parser.objects where object["rule"] != nil { builder.add(object, location: location) }
        findings += builder.findings
        var model = FirewallModel(tables: builder.tables, files: [file])
        model.families = Set(builder.tables.flatMap { table in AddressFamily.allCases.filter { table.family.applies(to: $0) } })
        return (model, findings)
    }
}

struct NftToken {
    enum Kind { case word, string, punct, newline, eof }
    var kind: Kind
    var text: String
    var line: Int
    var column: Int
}

/// Splits nft text into words, strings, punctuation (`{ } ; , ( ) |`) and newlines; `#` comments are dropped.
struct NftLexer {
    let bytes: [UInt8]
    var errors: [(line: Int, column: Int, message: String)] = []

    init(bytes: [UInt8]) { self.bytes = bytes }

    mutating func tokens() -> [NftToken] {
        var result: [NftToken] = []
        var index = 0, line = 1, lineStart = 0
        while index < bytes.count {
            let byte = bytes[index]
            let column = index - lineStart + 1
            switch byte {
            case 0x0A:
                result.append(NftToken(kind: .newline, text: "\n", line: line, column: column))
                index += 1; line += 1; lineStart = index
            case 0x20, 0x09, 0x0D:
                index += 1
            case 0x5C where index + 1 < bytes.count && bytes[index + 1] == 0x0A:
                index += 2; line += 1; lineStart = index
            case UInt8(ascii: "#"):
                while index < bytes.count && bytes[index] != 0x0A { index += 1 }
            case 0x22:
                var end = index + 1
                var text: [UInt8] = []
                while end < bytes.count && bytes[end] != 0x22 && bytes[end] != 0x0A {
                    if bytes[end] == 0x5C, end + 1 < bytes.count { text.append(bytes[end + 1]); end += 2; continue }
                    text.append(bytes[end]); end += 1
                }
                if end >= bytes.count || bytes[end] != 0x22 { errors.append((line, column, "unterminated string")) }
                result.append(NftToken(kind: .string, text: String(decoding: text, as: UTF8.self), line: line, column: column))
                index = min(end + 1, bytes.count)
            case UInt8(ascii: "{"), UInt8(ascii: "}"), UInt8(ascii: ";"), UInt8(ascii: ","), UInt8(ascii: "("), UInt8(ascii: ")"), UInt8(ascii: "|"):
                result.append(NftToken(kind: .punct, text: String(UnicodeScalar(byte)), line: line, column: column))
                index += 1
            default:
                var end = index
                while end < bytes.count {
                    let current = bytes[end]
                    if current == 0x20 || current == 0x09 || current == 0x0A || current == 0x0D || current == 0x22 { break }
                    if current == UInt8(ascii: "{") || current == UInt8(ascii: "}") || current == UInt8(ascii: ";") || current == UInt8(ascii: ",")
                        || current == UInt8(ascii: "(") || current == UInt8(ascii: ")") || current == UInt8(ascii: "|") { break }
                    end += 1
                }
                result.append(NftToken(kind: .word, text: String(decoding: bytes[index..<end], as: UTF8.self), line: line, column: column))
                index = end
            }
        }
        result.append(NftToken(kind: .eof, text: "end of file", line: line, column: 1))
        return result
    }
}

/// Walks tables, chains and sets, and turns each rule line into JSON-shaped expressions.
struct NftTextStructure {
    let tokens: [NftToken]
    let file: String
    var index = 0
    var problems = FindingList()
    var findings: [Finding] { problems.all }
    var objects: [([String: Any], SourceLocation)] = []

    init(tokens: [NftToken], file: String) {
        self.tokens = tokens
        self.file = file
    }

    struct SyntaxError: Error {
        var token: NftToken?
        var message: String
    }

    var current: NftToken? { index < tokens.count && tokens[index].kind != .eof ? tokens[index] : nil }
    var endOfFile: NftToken? { tokens.last }

    mutating func skipSeparators() {
        while let token = current, token.kind == .newline || (token.kind == .punct && token.text == ";") { index += 1 }
    }

    mutating func next() throws -> NftToken {
        guard let token = current else { throw SyntaxError(token: endOfFile, message: "unexpected end of file") }
        index += 1
        return token
    }

    mutating func expect(_ text: String) throws {
        let token = try next()
        guard token.text == text, token.kind != .string else { throw SyntaxError(token: token, message: "expected '\(text)', found '\(token.text)'") }
    }

    mutating func word() throws -> String {
        let token = try next()
        guard token.kind == .word || token.kind == .string else { throw SyntaxError(token: token, message: "expected a name, found '\(token.text)'") }
        return token.text
    }

    func location(_ token: NftToken) -> SourceLocation { SourceLocation(file: file, line: token.line, column: token.column) }

    mutating func report(_ error: SyntaxError) {
        let token = error.token ?? tokens.last
        problems.append(Finding(ruleId: "input.parse-error", message: error.message,
                                location: SourceLocation(file: file, line: token?.line ?? 1, column: token?.column ?? 1)))
    }

    /// Skips to the end of the statement that failed: the next newline at the current brace depth.
    mutating func recover(depth: Int = 0) {
        var level = 0
        while let token = current {
            if token.kind == .punct && token.text == "{" { level += 1 }
            if token.kind == .punct && token.text == "}" {
                if level == 0 { return }
                level -= 1
            }
            if level == 0 && (token.kind == .newline || token.text == ";") { return }
            index += 1
        }
    }

    mutating func parseFile() {
        while true {
            skipSeparators()
            guard let token = current else { return }
            do {
                switch token.text {
                case "flush", "delete", "destroy":
                    while let t = current, t.kind != .newline, t.text != ";" { index += 1 }
                case "define":
                    while let t = current, t.kind != .newline, t.text != ";" { index += 1 }
                case "table", "add", "create":
                    index += 1
                    if token.text != "table" { try expect("table") }
                    try parseTable(at: token)
                default:
                    throw SyntaxError(token: token, message: "unexpected '\(token.text)': expected 'table'")
                }
            } catch let error as SyntaxError {
                report(error)
                recover()
                if current?.text == "}" { index += 1 }
            } catch {}
        }
    }

    static let families: Set<String> = ["ip", "ip6", "inet", "arp", "bridge", "netdev"]

    mutating func parseTable(at start: NftToken) throws {
        var family = "ip"
        var name = try word()
        if NftTextStructure.families.contains(name), let token = current, token.kind == .word { family = name; name = try word() }
        objects.append((["table": ["family": family, "name": name]], location(start)))
        guard current?.text == "{" else { return }
        index += 1
        while true {
            skipSeparators()
            guard let token = current else { throw SyntaxError(token: tokens.last, message: "table \(name) is not closed by '}'") }
            if token.text == "}" { index += 1; return }
            do {
                switch token.text {
                case "chain":
                    index += 1
                    try parseChain(family: family, table: name, at: token)
                case "set", "map":
                    index += 1
                    try parseSet(family: family, table: name, at: token, isMap: token.text == "map")
                case "flags", "comment":
                    while let t = current, t.kind != .newline, t.text != ";" { index += 1 }
                case "counter", "quota", "ct", "flowtable", "limit", "secmark", "synproxy":
                    // Named stateful objects: skip their block.
                    while let t = current, t.text != "{" { if t.kind == .newline { break }; index += 1 }
                    if current?.text == "{" { try skipBlock() }
                default:
                    throw SyntaxError(token: token, message: "unexpected '\(token.text)' in table \(name): expected chain, set or map")
                }
            } catch let error as SyntaxError {
                report(error)
                recover()
                if current?.text == "}" && error.token?.text != "}" { index += 1 }
            }
        }
    }

    mutating func skipBlock() throws {
        try expect("{")
        var level = 1
        while level > 0 {
            let token = try next()
            if token.kind == .punct && token.text == "{" { level += 1 }
            if token.kind == .punct && token.text == "}" { level -= 1 }
        }
    }

    mutating func parseChain(family: String, table: String, at start: NftToken) throws {
        let name = try word()
        var chain: [String: Any] = ["family": family, "table": table, "name": name]
        var rules: [([String: Any], SourceLocation)] = []
        try expect("{")
        while true {
            skipSeparators()
            guard let token = current else { throw SyntaxError(token: tokens.last, message: "chain \(name) is not closed by '}'") }
            if token.text == "}" && token.kind == .punct { index += 1; break }
            do {
                if token.text == "type" && token.kind == .word {
                    index += 1
                    chain["type"] = try word()
                    try expect("hook")
                    chain["hook"] = try word()
                    if current?.text == "device" { index += 1; _ = try word() }
                    if current?.text == "devices" { index += 1; while let t = current, t.text != "priority" { index += 1 } }
                    try expect("priority")
                    var priority: [String] = []
                    while let t = current, t.kind == .word { priority.append(t.text); index += 1 }
                    guard !priority.isEmpty else { throw SyntaxError(token: current, message: "chain priority expected") }
                    chain["prio"] = priority.count == 1 && Int(priority[0]) != nil ? Int(priority[0])! as Any : priority.joined(separator: " ") as Any
                    continue
                }
                if token.text == "policy" && token.kind == .word {
                    index += 1
                    let policyToken = try next()
                    guard policyToken.text == "accept" || policyToken.text == "drop" else {
                        throw SyntaxError(token: policyToken, message: "chain policy must be accept or drop, not '\(policyToken.text)'")
                    }
                    chain["policy"] = policyToken.text
                    continue
                }
                if token.text == "comment" && token.kind == .word {
                    index += 1; _ = try word(); continue
                }
                let ruleTokens = collectStatement()
                var converter = NftRuleConverter(tokens: ruleTokens)
                let expressions = try converter.convert()
                let text = ruleTokens.filter { $0.kind != .newline }.map { $0.kind == .string ? "\"\($0.text)\"" : $0.text }.joined(separator: " ")
                rules.append((["rule": ["family": family, "table": table, "chain": name, "expr": expressions,
                                         "text": text.count > 160 ? String(text.prefix(157)) + "..." : text] as [String: Any]], location(token)))
            } catch let error as SyntaxError {
                report(error)
                recover()
            }
        }
        objects.append((["chain": chain], location(start)))
        objects += rules
    }

    /// The tokens of one rule: up to a newline or `;` outside braces.
    mutating func collectStatement() -> [NftToken] {
        var result: [NftToken] = []
        var depth = 0
        while let token = current {
            if token.kind == .punct && token.text == "{" { depth += 1 }
            if token.kind == .punct && token.text == "}" {
                if depth == 0 { break }
                depth -= 1
            }
            if depth == 0 && (token.kind == .newline || (token.kind == .punct && token.text == ";")) { break }
            if token.kind != .newline { result.append(token) }
            index += 1
        }
        return result
    }

    mutating func parseSet(family: String, table: String, at start: NftToken, isMap: Bool) throws {
        let name = try word()
        var set: [String: Any] = ["family": family, "table": table, "name": name]
        try expect("{")
        while true {
            skipSeparators()
            let token = try next()
            if token.kind == .punct && token.text == "}" { break }
            switch token.text {
            case "type", "typeof":
                var parts: [String] = []
                while let t = current, t.kind == .word { parts.append(t.text); index += 1 }
                set["type"] = parts.joined(separator: " ")
            case "flags":
                var flags: [String] = []
                while let t = current, t.kind == .word || t.text == "," { if t.kind == .word { flags.append(t.text) }; index += 1 }
                set["flags"] = flags
            case "elements":
                try expect("=")
                var converter = NftRuleConverter(tokens: [])
                let elementTokens = try collectBraced()
                converter.tokens = elementTokens
                if isMap {
                    // `key : verdict` pairs of a verdict map; other maps' data (addresses, concatenations)
                    // is not read, and the map is unknown to the evaluator.
                    set["elem"] = (try? converter.mapEntries()) ?? []
                } else {
                    set["elem"] = try converter.setElements()
                }
            case "timeout", "size", "policy", "gc-interval", "comment":
                _ = try next()
            case "auto-merge", "counter":
                continue
            default:
                throw SyntaxError(token: token, message: "unexpected '\(token.text)' in set \(name)")
            }
        }
        objects.append(([isMap ? "map" : "set": set], location(start)))
    }

    /// `{ … }` with its braces, newlines dropped.
    mutating func collectBraced() throws -> [NftToken] {
        guard let open = current, open.text == "{" else { throw SyntaxError(token: current, message: "expected '{'") }
        var result: [NftToken] = []
        var depth = 0
        while let token = current {
            index += 1
            if token.kind == .punct && token.text == "{" { depth += 1 }
            if token.kind == .punct && token.text == "}" { depth -= 1 }
            if token.kind != .newline { result.append(token) }
            if depth == 0 { return result }
        }
        throw SyntaxError(token: open, message: "'{' is not closed")
    }
}

/// Converts the tokens of one rule into libnftables JSON expressions.
struct NftRuleConverter {
    var tokens: [NftToken]
    var index = 0

    typealias SyntaxError = NftTextStructure.SyntaxError

    var current: NftToken? { index < tokens.count && tokens[index].kind != .eof ? tokens[index] : nil }

    mutating func next() throws -> NftToken {
        guard let token = current else { throw SyntaxError(token: tokens.last, message: "rule ends unexpectedly") }
        index += 1
        return token
    }

    static let payloadProtocols: Set<String> = ["ip", "ip6", "tcp", "udp", "th", "sctp", "dccp", "udplite", "icmp", "icmpv6", "ether", "vlan", "arp", "ah", "esp", "comp"]
    static let payloadFields: [String: Set<String>] = [
        "ip": ["saddr", "daddr", "protocol", "ttl", "length", "id", "dscp", "ecn", "version", "hdrlength", "checksum", "frag-off"],
        "ip6": ["saddr", "daddr", "nexthdr", "hoplimit", "flowlabel", "length", "dscp", "ecn", "version"],
        "tcp": ["sport", "dport", "flags", "sequence", "ackseq", "window", "checksum", "urgptr", "doff", "option"],
        "udp": ["sport", "dport", "length", "checksum"],
        "th": ["sport", "dport"],
    ]
    static let metaShorthands: Set<String> = ["iifname", "oifname", "iif", "oif", "l4proto", "nfproto", "pkttype", "mark", "skuid", "skgid", "iiftype", "oiftype", "protocol", "priority", "cpu", "cgroup"]
    static let comparisonOperators: Set<String> = ["==", "!=", "eq", "ne", "<", ">", "<=", ">=", "lt", "gt", "le", "ge"]

    mutating func convert() throws -> [[String: Any]] {
        var result: [[String: Any]] = []
        while let token = current {
            index += 1
            let word = token.text
            if token.kind != .word { throw SyntaxError(token: token, message: "unexpected '\(word)'") }
            switch word {
            case _ where NftRuleConverter.payloadProtocols.contains(word):
                let field = try next()
                if let known = NftRuleConverter.payloadFields[word], !known.contains(field.text) {
                    throw SyntaxError(token: field, message: "unknown \(word) field '\(field.text)'")
                }
                if word == "tcp" && field.text == "flags" {
                    result.append(try tcpFlags())
                    continue
                }
                let left: [String: Any] = ["payload": ["protocol": word, "field": field.text]]
                result.append(try matchOrMap(left))
            case "flow":
                // `flow add @ft` / `flow offload @ft`: established flows go to a flowtable (forward hook).
                if current?.text == "add" || current?.text == "offload" { index += 1 }
                _ = try next()
                result.append(["flow": [:] as [String: Any]])
            case "rt", "frag", "hbh", "dst", "mh", "srh", "exthdr":
                // IPv6 extension headers: `rt type 0`, `frag more-fragments 1`, `exthdr frag exists`.
                let name = word == "exthdr" ? try next().text : word
                let field = try next().text
                if field == "exists" || field == "missing" {
                    result.append(["match": ["op": "==", "left": ["exthdr": ["name": name]], "right": field == "exists"]])
                } else {
                    result.append(try matchOrMap(["exthdr": ["name": name, "field": field]]))
                }
            case "meta":
                let key = try next()
                result.append(try matchOrMap(["meta": ["key": key.text]]))
            case _ where NftRuleConverter.metaShorthands.contains(word):
                result.append(try matchOrMap(["meta": ["key": word]]))
            case "ct":
                let key = try next()
                if key.text == "count" {
                    var inverted = false
                    if current?.text == "over" { inverted = true; index += 1 }
                    let value = try next()
                    result.append(["ct count": ["val": Int(value.text) ?? 0, "inv": inverted]])
                } else {
                    var left: [String: Any] = ["key": key.text]
                    if key.text == "original" || key.text == "reply" { left["dir"] = key.text; left["key"] = try next().text }
                    result.append(try matchOrMap(["ct": left]))
                }
            case "fib":
                var flags: [String] = []
                while let t = current, t.text != "type", t.text != "oif", t.text != "oifname" { if t.kind == .word && t.text != "." { flags.append(t.text) }; index += 1 }
                let resultKind = try next().text
                result.append(try matchOrMap(["fib": ["result": resultKind, "flags": flags]]))
            case "limit" where current?.text == "name":
                // A named limit object: `limit name "lim_syn"`.
                index += 1
                result.append(["limit": ["name": try next().text]])
            case "limit":
                var limit: [String: Any] = [:]
                if current?.text == "rate" { index += 1 }
                if current?.text == "over" { limit["inv"] = true; index += 1 }
                let rate = try next().text
                let parts = rate.split(separator: "/")
                limit["rate"] = Int(parts.first ?? "") ?? 0
                limit["per"] = parts.count > 1 ? String(parts[1]) : "second"
                if current?.text == "bytes" || current?.text == "kbytes" || current?.text == "mbytes" { index += 1 }
                if current?.text == "burst" { index += 1; _ = try next(); if let unit = current?.text, unit == "packets" || unit.hasSuffix("bytes") { index += 1 } }
                result.append(["limit": limit])
            case "counter", "quota":
                // `counter packets N bytes M`, `quota over 10 mbytes`: skip their arguments.
                while let t = current, ["packets", "bytes", "over", "until", "used", "name"].contains(t.text) || Int(t.text) != nil || t.text.hasSuffix("bytes") {
                    index += 1
                    // `counter name cnt_http`: the object's name follows.
                    if t.text == "name" { _ = try next() }
                }
                if word == "quota" { result.append(["quota": [:] as [String: Any]]) }
            case "log":
                while let t = current, ["prefix", "level", "flags", "group", "snaplen", "queue-threshold"].contains(t.text) {
                    index += 1
                    _ = try next()
                    while current?.text == "," { index += 1; _ = try next() }
                }
                result.append(["log": [:] as [String: Any]])
            case "comment":
                _ = try next()
            case "accept", "drop", "return", "continue":
                result.append([word: NSNullish.null])
            case "reject":
                var reject: [String: Any]? = nil
                if current?.text == "with" {
                    index += 1
                    let kind = try next().text
                    if kind == "tcp" { _ = try next(); reject = ["type": "tcp reset"] } else {
                        if current?.text == "type" { index += 1 }
                        let code = try next().text
                        reject = ["type": kind, "expr": code]
                    }
                }
                result.append(["reject": reject as Any])
            case "jump", "goto":
                let target = try next()
                result.append([word: ["target": target.text]])
            case "dnat" where tokens[index...].contains(where: { $0.text == "map" }), "snat" where tokens[index...].contains(where: { $0.text == "map" }):
                // `dnat ip addr . port to tcp dport map @portmap`: the translation is looked up.
                while let t = current, t.kind == .word || t.text == "." || t.text == ":" || t.text.hasPrefix("@") { index += 1 }
                result.append([word: ["addr": ["map": [:] as [String: Any]]]])
            case "dnat", "snat":
                if current?.text == "ip" || current?.text == "ip6" { index += 1 }
                if current?.text == "to" { index += 1 }
                let target = try next().text
                var statement: [String: Any] = [:]
                if let colon = target.lastIndex(of: ":"), target.filter({ $0 == ":" }).count == 1 || target.contains("]:") {
                    statement["addr"] = String(target[..<colon]).trimmingCharacters(in: ["[", "]"])
                    statement["port"] = Int(target[target.index(after: colon)...]) as Any
                } else {
                    statement["addr"] = target
                }
                while let t = current, t.kind == .word, !["accept", "drop", "return", "counter", "log"].contains(t.text) { index += 1 }
                result.append([word: statement])
            case "masquerade", "redirect", "notrack", "queue", "tproxy", "synproxy", "dup", "fwd":
                while let t = current, t.kind == .word, !["accept", "drop", "counter", "log", "comment"].contains(t.text) { index += 1 }
                result.append([word: [:] as [String: Any]])
            case "meter":
                let name = try next().text
                while let t = current, t.text != "{" { index += 1 }
                var braced = NftTextStructure(tokens: tokens, file: "")
                braced.index = index
                _ = try braced.collectBraced()
                index = braced.index
                result.append(["meter": ["name": name]])
            case "add", "update":
                let set = try next().text
                var braced = NftTextStructure(tokens: tokens, file: "")
                braced.index = index
                let inner = try braced.collectBraced()
                index = braced.index
                let hasLimit = inner.contains { $0.text == "limit" || $0.text == "ct" }
                let limitStatement: [String: Any] = ["limit": [String: Any]()]
                let statements: [Any] = hasLimit ? [limitStatement] : []
                let statement: [String: Any] = ["op": word, "set": set, "stmt": statements]
                result.append(["set": statement])
            case "xt":
                let type = try next().text
                let name = try next().text
                result.append(["xt": ["type": type, "name": name]])
            default:
                throw SyntaxError(token: token, message: "unknown statement '\(word)'")
            }
        }
        return result
    }

    /// `LEFT [op] VALUE` or `LEFT vmap { … }`.
    mutating func matchOrMap(_ left: [String: Any]) throws -> [String: Any] {
        // `ip saddr . tcp dport @pairs`: a concatenation of keys.
        if current?.text == ".", index + 1 < tokens.count, tokens[index + 1].kind == .word {
            index += 1
            var keys = [left]
            let protocolName = try next().text
            if NftRuleConverter.payloadProtocols.contains(protocolName) {
                keys.append(["payload": ["protocol": protocolName, "field": try next().text]])
            } else if NftRuleConverter.metaShorthands.contains(protocolName) {
                keys.append(["meta": ["key": protocolName]])
            } else {
                throw SyntaxError(token: tokens[index - 1], message: "unsupported key '\(protocolName)' in a concatenation")
            }
            if let first = left["concat"] as? [Any] { keys = first.compactMap { $0 as? [String: Any] } + keys.dropFirst() }
            return try matchOrMap(["concat": keys])
        }
        if current?.text == "set" {
            // `ct helper set "ftp"`, `meta mark set 1`: a statement that changes the packet, not a match.
            index += 1
            _ = try value()
            return ["mangle": ["key": left]]
        }
        if current?.text == "vmap", index + 1 < tokens.count, tokens[index + 1].text.hasPrefix("@") {
            index += 1
            return ["vmap": ["key": left, "data": try next().text]]
        }
        if current?.text == "vmap" {
            index += 1
            var braced = NftTextStructure(tokens: tokens, file: "")
            braced.index = index
            let inner = try braced.collectBraced()
            index = braced.index
            var mapConverter = NftRuleConverter(tokens: inner)
            return ["vmap": ["key": left, "data": ["set": try mapConverter.mapEntries()]]]
        }
        var op = "=="
        if let token = current, NftRuleConverter.comparisonOperators.contains(token.text) {
            op = ["eq": "==", "ne": "!=", "lt": "<", "gt": ">", "le": "<=", "ge": ">="][token.text] ?? token.text
            index += 1
        }
        let right = try value()
        return ["match": ["op": op, "left": left, "right": right]]
    }

    /// A single value, a comma list (`established,related`), `@set` or an anonymous `{ … }` set.
    mutating func value() throws -> Any {
        guard let token = current else { throw SyntaxError(token: tokens.last, message: "a value is expected") }
        if token.kind == .punct && token.text == "{" {
            var braced = NftTextStructure(tokens: tokens, file: "")
            braced.index = index
            let inner = try braced.collectBraced()
            index = braced.index
            var setConverter = NftRuleConverter(tokens: inner)
            return ["set": try setConverter.setElements()]
        }
        guard token.kind == .word || token.kind == .string else { throw SyntaxError(token: token, message: "a value is expected, found '\(token.text)'") }
        index += 1
        var values = [NftRuleConverter.scalar(token.text)]
        while current?.text == ",", index + 1 < tokens.count, tokens[index + 1].kind == .word {
            index += 1
            values.append(NftRuleConverter.scalar(try next().text))
        }
        return values.count == 1 ? values[0] : values
    }

    /// Elements of `{ a, b-c, d/24 }` (the braces included in `tokens`).
    mutating func setElements() throws -> [Any] {
        var elements: [Any] = []
        guard current?.text == "{" else { throw SyntaxError(token: current, message: "expected '{'") }
        index += 1
        while let token = current, !(token.kind == .punct && token.text == "}") {
            if token.text == "," { index += 1; continue }
            index += 1
            var element = NftRuleConverter.scalar(token.text)
            // `198.51.100.0/24 . 443`: a concatenated element.
            if current?.text == ".", index + 1 < tokens.count {
                var parts = [element]
                while current?.text == ".", index + 1 < tokens.count { index += 1; parts.append(NftRuleConverter.scalar(try next().text)) }
                element = ["concat": parts]
            }
            elements.append(element)
            // Per-element options: `timeout 1h expires 10m comment "x"`.
            while let t = current, ["timeout", "expires", "comment", "counter", "packets", "bytes"].contains(t.text) {
                index += 1
                if t.text != "counter", current != nil, current!.text != "," && current!.text != "}" { index += 1 }
            }
        }
        return elements
    }

    /// Entries `k : verdict` of a verdict map.
    mutating func mapEntries() throws -> [Any] {
        var entries: [Any] = []
        guard current?.text == "{" else { throw SyntaxError(token: current, message: "expected '{'") }
        index += 1
        while let token = current, !(token.kind == .punct && token.text == "}") {
            if token.text == "," { index += 1; continue }
            index += 1
            let key = NftRuleConverter.scalar(token.text)
            guard current?.text == ":" else { throw SyntaxError(token: current ?? token, message: "expected ':' in a verdict map") }
            index += 1
            let verdict = try next().text
            var verdictObject: [String: Any] = [verdict: NSNullish.null]
            if verdict == "jump" || verdict == "goto" { verdictObject = [verdict: ["target": try next().text]] }
            entries.append([key, verdictObject])
        }
        return entries
    }

    /// `tcp flags syn / fin,syn,rst,ack`, `tcp flags & (fin|syn|rst|ack) == syn`, `tcp flags syn`.
    mutating func tcpFlags() throws -> [String: Any] {
        let payload: [String: Any] = ["payload": ["protocol": "tcp", "field": "flags"]]
        if current?.text == "&" {
            index += 1
            var mask: [String] = []
            if current?.text == "(" {
                index += 1
                while let t = current, t.text != ")" { if t.kind == .word { mask.append(t.text) }; index += 1 }
                index += 1
            } else {
                mask.append(try next().text)
            }
            var op = "=="
            if let t = current, NftRuleConverter.comparisonOperators.contains(t.text) { op = t.text == "!=" || t.text == "ne" ? "!=" : "=="; index += 1 }
            let right = try value()
            return ["match": ["op": op, "left": ["&": [payload, mask]], "right": right]]
        }
        var op = "=="
        if let t = current, NftRuleConverter.comparisonOperators.contains(t.text) { op = t.text == "!=" || t.text == "ne" ? "!=" : "=="; index += 1 }
        let compared = try value()
        if current?.text == "/" {
            index += 1
            let mask = try value()
            let maskList = (mask as? [Any]) ?? [mask]
            return ["match": ["op": op, "left": ["&": [payload, maskList]], "right": compared]]
        }
        return ["match": ["op": op, "left": payload, "right": compared]]
    }

    /// Numbers become Int; `a/len` a prefix; `a-b` a range; anything else stays text.
    static func scalar(_ text: String) -> Any {
        if let number = Int(text) { return number }
        if let slash = text.firstIndex(of: "/"), let length = Int(text[text.index(after: slash)...]), IPAddress(text[..<slash]) != nil {
            return ["prefix": ["addr": String(text[..<slash]), "len": length]]
        }
        if let dash = text.firstIndex(of: "-"), dash != text.startIndex {
            let low = String(text[..<dash]), high = String(text[text.index(after: dash)...])
            if let a = Int(low), let b = Int(high) { return ["range": [a, b]] }
            if IPAddress(low) != nil && IPAddress(high) != nil { return ["range": [low, high]] }
        }
        return text
    }
}

/// JSON `null` for statements without arguments (`{"accept": null}`) without Foundation's NSNull.
enum NSNullish {
    static var null: Any { Optional<Int>.none as Any }
}

private extension String {
    func trimmingCharacters(in set: Set<Character>) -> String {
        var text = Substring(self)
        while let first = text.first, set.contains(first) { text = text.dropFirst() }
        while let last = text.last, set.contains(last) { text = text.dropLast() }
        return String(text)
    }
}
