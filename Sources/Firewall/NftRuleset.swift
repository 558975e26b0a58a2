import Foundation
import OriginAuditCore

/// Builds model tables from nftables objects in the shape of `nft -j list ruleset` (the JSON
/// schema of libnftables). The JSON parser feeds it decoded JSON; the text parser feeds it the
/// same shapes built from `nft list ruleset` text, so both forms share one interpretation.
struct NftRulesetBuilder {
    let file: String
    private var problems = FindingList()
    var findings: [Finding] { problems.all }
    private(set) var tables: [FirewallTable] = []
    private var tableIndex: [String: Int] = [:]
    /// Entries of named maps (`key : verdict` pairs), by table key and map name, for `vmap @name`.
    private var mapEntries: [String: [Any]] = [:]

    init(file: String) { self.file = file }

    private mutating func error(_ location: SourceLocation, _ message: String) {
        problems.append(Finding(ruleId: "input.parse-error", message: message, location: location))
    }

    /// `location` is where the object was written (a line for text, the handle for JSON).
    mutating func add(_ object: [String: Any], location: SourceLocation) {
        if let table = object["table"] as? [String: Any] {
            addTable(table, location: location)
        } else if let chain = object["chain"] as? [String: Any] {
            addChain(chain, location: location)
        } else if let rule = object["rule"] as? [String: Any] {
            addRule(rule, location: location)
        } else if let set = (object["set"] ?? object["map"]) as? [String: Any] {
            addSet(set, location: location, isMap: object["map"] != nil)
        } else if object["metainfo"] != nil || object["flowtable"] != nil || object["counter"] != nil
                    || object["quota"] != nil || object["ct helper"] != nil || object["limit"] != nil
                    || object["element"] != nil || object["ct timeout"] != nil || object["ct expectation"] != nil
                    || object["secmark"] != nil || object["synproxy"] != nil {
            return
        } else {
            error(location, "unknown nftables object '\(object.keys.sorted().joined(separator: ","))'")
        }
    }

    private func key(_ family: String, _ table: String) -> String { family + "\u{1F}" + table }

    private mutating func addTable(_ object: [String: Any], location: SourceLocation) {
        guard let familyName = object["family"] as? String, let family = TableFamily(rawValue: familyName),
              let name = object["name"] as? String else {
            error(location, "table without a valid family and name"); return
        }
        if tableIndex[key(familyName, name)] != nil { return }
        tables.append(FirewallTable(backend: .nftables, family: family, name: name, location: location))
        tableIndex[key(familyName, name)] = tables.count - 1
    }

    private mutating func table(for object: [String: Any], location: SourceLocation) -> Int? {
        guard let family = object["family"] as? String, let name = object["table"] as? String else {
            error(location, "object without family and table"); return nil
        }
        if let index = tableIndex[key(family, name)] { return index }
        // `nft -j list chain ...` output may omit the table object; create it.
        addTable(["family": family, "name": name], location: location)
        return tableIndex[key(family, name)]
    }

    static func priority(_ value: Any?, hook: Hook?, family: TableFamily) -> Int? {
        if let number = value as? Int { return number }
        if let number = value as? NSNumber { return number.intValue }
        guard let text = value as? String else { return value == nil ? 0 : nil }
        // Names and `name + N` / `name - N` (nft text).
        let parts = text.split(separator: " ")
        let base: Int
        switch parts.first.map(String.init) ?? "" {
        case "raw": base = -300
        case "mangle": base = -150
        case "dstnat": base = family == .bridge ? -300 : -100
        case "filter": base = family == .bridge ? -200 : 0
        case "security": base = 50
        case "srcnat": base = family == .bridge ? 300 : 100
        case "out": base = 100
        default:
            guard let number = Int(text) else { return nil }
            return number
        }
        if parts.count == 3, let offset = Int(parts[2]) { return parts[1] == "-" ? base - offset : base + offset }
        return parts.count == 1 ? base : nil
    }

    private mutating func addChain(_ object: [String: Any], location: SourceLocation) {
        guard let tableAt = table(for: object, location: location), let name = object["name"] as? String else { return }
        let chainLocation = NftRulesetBuilder.withHandle(location, object)
        var chain = FirewallChain(name: name, policyLocation: chainLocation, location: chainLocation)
        if let hookName = object["hook"] as? String {
            guard let hook = Hook(rawValue: hookName) else { error(chainLocation, "unknown hook '\(hookName)'"); return }
            chain.hook = hook
            chain.type = object["type"] as? String ?? "filter"
            guard let priority = NftRulesetBuilder.priority(object["prio"], hook: hook, family: tables[tableAt].family) else {
                error(chainLocation, "invalid chain priority '\(object["prio"] ?? "")'"); return
            }
            chain.priority = priority
            switch object["policy"] as? String ?? "accept" {
            case "accept": chain.policy = .accept
            case "drop": chain.policy = .drop
            case let other: error(chainLocation, "invalid chain policy '\(other)'")
            }
        }
        if let existing = tables[tableAt].chains.firstIndex(where: { $0.name == name }) {
            // `chain x { ... }` may be declared before its hook is given (nft -f scripts).
            if chain.hook != nil { tables[tableAt].chains[existing].hook = chain.hook; tables[tableAt].chains[existing].priority = chain.priority; tables[tableAt].chains[existing].policy = chain.policy; tables[tableAt].chains[existing].type = chain.type }
            return
        }
        tables[tableAt].chains.append(chain)
    }

    static func withHandle(_ location: SourceLocation, _ object: [String: Any]) -> SourceLocation {
        var location = location
        if let handle = object["handle"] as? Int { location.handle = handle }
        return location
    }

    // MARK: sets

    private mutating func addSet(_ object: [String: Any], location: SourceLocation, isMap: Bool) {
        guard let tableAt = table(for: object, location: location), let name = object["name"] as? String else { return }
        let setLocation = NftRulesetBuilder.withHandle(location, object)
        let typeValue = object["type"]
        let type = (typeValue as? String) ?? ((typeValue as? [Any])?.map { "\($0)" }.joined(separator: " . ") ?? "unknown")
        var set = NamedSet(name: name, type: type, family: type == "ipv4_addr" ? .ipv4 : type == "ipv6_addr" ? .ipv6 : nil, location: setLocation)
        if isMap {
            // A map's entries are pairs: kept for `vmap @name`, not read as set members.
            set.hasUnknownEntries = true
            mapEntries[key(tables[tableAt].family.rawValue, tables[tableAt].name) + "\u{1F}" + name] = object["elem"] as? [Any] ?? []
        }
        let elements = isMap ? [] : object["elem"] as? [Any] ?? []
        var v4: [ClosedRange<UInt128>] = [], v6: [ClosedRange<UInt128>] = []
        var ports: [ClosedRange<UInt16>] = []
        for element in elements {
            let value = NftRulesetBuilder.unwrapElement(element)
            switch type {
            case "ipv4_addr", "ipv6_addr":
                guard let (family, range) = NftValues.addressRange(value) else {
                    error(setLocation, "set \(name): '\(value)' is not an address"); continue
                }
                if family == .ipv4 { v4.append(range) } else { v6.append(range) }
            case "inet_service":
                guard let range = NftValues.portRange(value) else { error(setLocation, "set \(name): '\(value)' is not a port"); continue }
                ports.append(range)
            case "ipv4_addr . inet_service", "ipv6_addr . inet_service", "inet_service . ipv4_addr", "inet_service . ipv6_addr":
                // Either order: `ip saddr . tcp dport` or `tcp dport . ip saddr`.
                let portFirst = type.hasPrefix("inet_service")
                guard let pair = (value as? [String: Any])?["concat"] as? [Any], pair.count == 2,
                      case let parts = portFirst ? [pair[1], pair[0]] : pair,
                      let (family, range) = NftValues.addressRange(parts[0]), let port = NftValues.portRange(parts[1]) else {
                    error(setLocation, "set \(name): '\(NftValues.describe(value))' is not an address . port pair"); continue
                }
                var addresses = DualStackSet()
                addresses[family] = AddressSet(family: family, ranges: [range])
                set.addressPorts.append((addresses, PortSet(port), true))
            default:
                set.hasUnknownEntries = true
            }
        }
        set.addresses = DualStackSet(ipv4: AddressSet(family: .ipv4, ranges: v4), ipv6: AddressSet(family: .ipv6, ranges: v6))
        set.ports = PortSet(ranges: ports)
        // Dynamic sets (filled by rules at run time) have unknown contents.
        if let flags = object["flags"] as? [String], flags.contains("dynamic") { set.hasUnknownEntries = true }
        tables[tableAt].sets[name] = set
    }

    static func unwrapElement(_ value: Any) -> Any {
        if let wrapped = value as? [String: Any], let elem = wrapped["elem"] as? [String: Any], let inner = elem["val"] { return inner }
        return value
    }

    // MARK: rules

    private mutating func addRule(_ object: [String: Any], location: SourceLocation) {
        guard let tableAt = table(for: object, location: location), let chainName = object["chain"] as? String else { return }
        let ruleLocation = NftRulesetBuilder.withHandle(location, object)
        guard let chainAt = tables[tableAt].chains.firstIndex(where: { $0.name == chainName }) else {
            error(ruleLocation, "rule for chain '\(chainName)' which does not exist in table \(tables[tableAt].displayName)"); return
        }
        guard let expressions = object["expr"] as? [Any] else { error(ruleLocation, "rule without expressions"); return }
        let text = (object["text"] as? String) ?? NftRulesetBuilder.summary(expressions)
        let family = tables[tableAt].family
        var matches: [Match] = []
        var action: RuleAction = .continue
        var maps: [(key: [String: Any], entries: [Any])] = []
        var decided = false
        for expression in expressions {
            guard let statement = expression as? [String: Any], let (name, body) = statement.first else {
                matches.append(.unknown("\(expression)")); continue
            }
            if decided {
                // Statements after a verdict are never reached.
                continue
            }
            switch name {
            case "match":
                var problems: [String] = []
                var matchBody = body as? [String: Any] ?? [:]
                if let left = matchBody["left"] as? [String: Any], let keys = left["concat"] as? [[String: Any]],
                   let elements = (matchBody["right"] as? [String: Any])?["set"] as? [Any],
                   case let fields = keys.map({ key -> String in
                       let payload = key["payload"] as? [String: Any]
                       return "\(payload?["protocol"] ?? "?") \(payload?["field"] ?? "?")"
                   }),
                   fields.count == 2, Set(fields) == ["ip saddr", "tcp dport"] || Set(fields) == ["ip6 saddr", "tcp dport"] {
                    // An anonymous set of address . port pairs becomes a named one of this table, as nft
                    // itself does (named by its place among the table's sets, the same in every dump).
                    // Other concatenations (`ip saddr . iifname`) stay anonymous: the match is unknown.
                    let addressType = fields.contains("ip6 saddr") ? "ipv6_addr" : "ipv4_addr"
                    let setType = fields[0] == "tcp dport" ? "inet_service . \(addressType)" : "\(addressType) . inet_service"
                    let anonymous = "__concat\(tables[tableAt].sets.count)"
                    addSet(["family": family.rawValue, "table": tables[tableAt].name, "name": anonymous, "type": setType, "elem": elements],
                           location: ruleLocation, isMap: false)
                    matchBody["right"] = "@" + anonymous
                }
                matches += NftMatches.match(matchBody, tableFamily: family, sets: tables[tableAt].sets, problems: &problems)
                for problem in problems { error(ruleLocation, problem) }
            case "accept": action = .verdict(.accept); decided = true
            case "drop": action = .verdict(.drop); decided = true
            case "reject":
                action = .verdict(.reject(NftRulesetBuilder.rejectType(body as? [String: Any], family: family, matches: &matches))); decided = true
            case "jump", "goto":
                guard let target = (body as? [String: Any])?["target"] as? String else { matches.append(.unknown("\(name) without target")); continue }
                if tables[tableAt].chain(named: target) == nil {
                    error(ruleLocation, "\(name) to chain '\(target)' which does not exist")
                    action = .unknown("\(name) to missing chain \(target)")
                } else {
                    action = name == "jump" ? .jump(target) : .goto(target)
                }
                decided = true
            case "return": action = .return; decided = true
            case "continue": break
            case "limit":
                let limit = body as? [String: Any] ?? [:]
                matches.append(.rateLimit(RateLimit(kind: "limit", detail: "\(limit["inv"] as? Bool == true ? "over " : "")\(limit["rate"] ?? "?")/\(limit["per"] ?? "?")")))
            case "ct count":
                let count = body as? [String: Any] ?? [:]
                matches.append(.rateLimit(RateLimit(kind: "ct count", detail: "\(count["inv"] as? Bool == true ? "over" : "under") \(count["val"] ?? "?")")))
            case "meter":
                matches.append(.rateLimit(RateLimit(kind: "meter", detail: (body as? [String: Any])?["name"] as? String ?? "")))
            case "set":
                // `add @x { ip saddr limit rate ... }`: a meter written as a dynamic set statement.
                let statementBody = body as? [String: Any] ?? [:]
                if let inner = statementBody["stmt"] as? [Any], !inner.isEmpty {
                    matches.append(.rateLimit(RateLimit(kind: "meter", detail: statementBody["set"] as? String ?? "")))
                }
            case "quota":
                matches.append(.rateLimit(RateLimit(kind: "quota", detail: "\(body)")))
            case "dnat":
                let statement = body as? [String: Any] ?? [:]
                let port = statement["port"]
                // Through a map, only the keys it holds are translated: whether this packet is, is not read.
                if statement.values.contains(where: { ($0 as? [String: Any])?["map"] != nil }) || statement["map"] != nil {
                    matches.append(.unknown("dnat through a map"))
                }
                action = .dnat(port: (port as? Int).flatMap { UInt16(exactly: $0) }); decided = true
            case "redirect", "queue", "tproxy", "synproxy", "fwd", "dup":
                action = .unknown(name); decided = name != "dup"
            case "snat", "masquerade":
                action = .verdict(.accept); decided = true
            case "vmap":
                let map = body as? [String: Any] ?? [:]
                if let key = map["key"] as? [String: Any], let data = map["data"] as? [String: Any], let entries = data["set"] as? [Any] {
                    maps.append((key, entries))
                } else if let key = map["key"] as? [String: Any], let name = map["data"] as? String, name.hasPrefix("@"),
                          let entries = mapEntries[self.key(family.rawValue, tables[tableAt].name) + "\u{1F}" + name.dropFirst()] {
                    maps.append((key, entries.map(NftRulesetBuilder.unwrapElement)))
                } else {
                    action = .unknown("verdict map \(map["data"] ?? "")"); decided = true
                }
            case "xt":
                let xt = body as? [String: Any] ?? [:]
                if xt["name"] as? String == "comment" {
                    // iptables-nft keeps `-m comment` as an xt match: it matches every packet.
                    break
                } else if xt["type"] as? String == "target" {
                    action = .unknown("xt target \(xt["name"] ?? "?")"); decided = true
                } else {
                    matches.append(.unknown("xt \(xt["type"] ?? "match") \(xt["name"] ?? "?")"))
                }
            default:
                if ["counter", "log", "comment", "mangle", "notrack", "meta", "ct", "nflog", "secmark", "dup", "flow"].contains(name) { break }
                matches.append(.unknown(name))
            }
        }
        if maps.isEmpty {
            tables[tableAt].chains[chainAt].rules.append(FirewallRule(location: ruleLocation, text: text, matches: matches, action: action))
            return
        }
        // A verdict map is one rule per key with the rule's other matches (keys are disjoint).
        let map = maps[0]
        for entry in map.entries {
            guard let pair = entry as? [Any], pair.count == 2, let verdict = pair[1] as? [String: Any], let (verdictName, verdictBody) = verdict.first else { continue }
            let keyMatches = NftMatches.match(["op": "==", "left": map.key, "right": pair[0]], tableFamily: family, sets: tables[tableAt].sets)
            let entryAction: RuleAction
            switch verdictName {
            case "accept": entryAction = .verdict(.accept)
            case "drop": entryAction = .verdict(.drop)
            case "return": entryAction = .return
            case "continue": entryAction = .continue
            case "jump", "goto":
                let target = (verdictBody as? [String: Any])?["target"] as? String ?? "?"
                entryAction = verdictName == "jump" ? .jump(target) : .goto(target)
                if tables[tableAt].chain(named: target) == nil { error(ruleLocation, "\(verdictName) to chain '\(target)' which does not exist") }
            default: entryAction = .unknown(verdictName)
            }
            tables[tableAt].chains[chainAt].rules.append(FirewallRule(location: ruleLocation, text: text, matches: matches + keyMatches, action: entryAction))
        }
    }

    static func rejectType(_ body: [String: Any]?, family: TableFamily, matches: inout [Match]) -> String {
        guard let body, let type = body["type"] as? String else {
            // In an inet table a rule already tied to one family gets that family's ICMP (nft does the same).
            let tied: AddressFamily? = family == .ip ? .ipv4 : family == .ip6 ? .ipv6
                : matches.contains(.family(.ipv4)) ? .ipv4 : matches.contains(.family(.ipv6)) ? .ipv6 : nil
            switch tied {
            case .ipv4?: return "icmp-port-unreachable"
            case .ipv6?: return "icmp6-port-unreachable"
            case nil: return "icmpx-port-unreachable"
            }
        }
        let code = body["expr"] as? String ?? "port-unreachable"
        switch type {
        case "tcp reset":
            if !matches.contains(.proto([6], negated: false)) { matches.append(.proto([6], negated: false)) }
            return "tcp-reset"
        case "icmp":
            // In an inet table, an ICMP reject only applies to IPv4 packets (nft adds that dependency).
            if family != .ip { matches.append(.family(.ipv4)) }
            return "icmp-" + code
        case "icmpv6":
            if family != .ip6 { matches.append(.family(.ipv6)) }
            return "icmp6-" + code
        default:
            return "icmpx-" + code
        }
    }

    /// A compact textual form of a JSON rule for messages.
    static func summary(_ expressions: [Any]) -> String {
        var parts: [String] = []
        for expression in expressions {
            guard let statement = expression as? [String: Any], let (name, body) = statement.first else { continue }
            if name == "match", let match = body as? [String: Any] {
                let op = match["op"] as? String ?? "=="
                parts.append("\(NftValues.describe(match["left"] ?? "")) \(op == "==" || op == "in" ? "" : op + " ")\(NftValues.describe(match["right"] ?? ""))")
            } else if name == "counter" {
                continue
            } else if let target = (body as? [String: Any])?["target"] as? String {
                parts.append("\(name) \(target)")
            } else {
                parts.append(name)
            }
        }
        let text = parts.joined(separator: " ")
        return text.count > 160 ? String(text.prefix(157)) + "..." : text
    }
}

/// Values of nft expressions: addresses, prefixes, ranges, ports, sets.
enum NftValues {
    static func addressRange(_ value: Any) -> (AddressFamily, ClosedRange<UInt128>)? {
        if let text = value as? String {
            if let dash = text.firstIndex(of: "-"), let low = IPAddress(text[..<dash]), let high = IPAddress(text[text.index(after: dash)...]), low.family == high.family, low <= high {
                return (low.family, low.value...high.value)
            }
            guard let cidr = CIDR(text) else { return nil }
            return (cidr.family, cidr.range)
        }
        if let object = value as? [String: Any] {
            if let prefix = object["prefix"] as? [String: Any], let address = prefix["addr"] as? String, let length = prefix["len"] as? Int,
               let ip = IPAddress(address), length >= 0, length <= ip.family.bits {
                let cidr = CIDR(address: ip, prefixLength: length)
                return (cidr.family, cidr.range)
            }
            if let range = object["range"] as? [Any], range.count == 2, let lowText = range[0] as? String, let highText = range[1] as? String,
               let low = IPAddress(lowText), let high = IPAddress(highText), low.family == high.family, low <= high {
                return (low.family, low.value...high.value)
            }
        }
        return nil
    }

    static func portRange(_ value: Any) -> ClosedRange<UInt16>? {
        if let number = value as? Int { return UInt16(exactly: number).map { $0...$0 } }
        if let text = value as? String { return PortText.range(text, separator: "-") }
        if let object = value as? [String: Any], let range = object["range"] as? [Any], range.count == 2,
           let low = portRange(range[0]), let high = portRange(range[1]), low.lowerBound <= high.lowerBound {
            return low.lowerBound...high.lowerBound
        }
        return nil
    }

    /// The members of a right-hand side: one value, an anonymous set, or a list.
    static func members(_ value: Any) -> [Any] {
        if let object = value as? [String: Any], let set = object["set"] as? [Any] { return set.map(NftRulesetBuilder.unwrapElement) }
        if let list = value as? [Any] { return list }
        return [value]
    }

    static func describe(_ value: Any) -> String {
        if let text = value as? String { return text }
        if let number = value as? Int { return String(number) }
        if let list = value as? [Any] { return list.map(describe).joined(separator: ",") }
        if let object = value as? [String: Any] {
            if let payload = object["payload"] as? [String: Any] { return "\(payload["protocol"] ?? "") \(payload["field"] ?? "")" }
            if let meta = object["meta"] as? [String: Any] { return "meta \(meta["key"] ?? "")" }
            if let ct = object["ct"] as? [String: Any] { return "ct \(ct["key"] ?? "")" }
            if let prefix = object["prefix"] as? [String: Any] { return "\(prefix["addr"] ?? "")/\(prefix["len"] ?? "")" }
            if let range = object["range"] as? [Any] { return range.map(describe).joined(separator: "-") }
            if let set = object["set"] as? [Any] { return "{ " + set.map(describe).joined(separator: ", ") + " }" }
            if let and = object["&"] as? [Any] { return and.map(describe).joined(separator: " & ") }
        }
        return "\(value)"
    }
}

/// Turns one nft `match` expression into model matches.
enum NftMatches {
    /// `sets` are the table's named sets, for port sets (`tcp dport @web`), resolved here.
    static func match(_ body: [String: Any], tableFamily: TableFamily, sets: [String: NamedSet]) -> [Match] {
        var problems: [String] = []
        return match(body, tableFamily: tableFamily, sets: sets, problems: &problems)
    }

    /// `problems` collects values nft itself would refuse (an address that does not parse).
    static func match(_ body: [String: Any], tableFamily: TableFamily, sets: [String: NamedSet], problems: inout [String]) -> [Match] {
        let op = body["op"] as? String ?? "=="
        let negated = op == "!="
        guard op == "==" || op == "!=" || op == "in" else { return [.unknown(summary(body))] }
        guard let left = body["left"] as? [String: Any], let right = body["right"] else { return [.unknown(summary(body))] }
        if let payload = left["payload"] as? [String: Any], let proto = payload["protocol"] as? String, let field = payload["field"] as? String {
            switch (proto, field) {
            case ("ip", "saddr"), ("ip", "daddr"), ("ip6", "saddr"), ("ip6", "daddr"):
                let family: AddressFamily = proto == "ip" ? .ipv4 : .ipv6
                let direction: Direction = field == "saddr" ? .source : .destination
                if let name = right as? String, name.hasPrefix("@") {
                    return [.family(family), .address(direction, .named(String(name.dropFirst())), negated: negated)]
                }
                var ranges: [ClosedRange<UInt128>] = []
                for member in NftValues.members(right) {
                    guard let (memberFamily, range) = NftValues.addressRange(member), memberFamily == family else {
                        if let text = member as? String, !text.hasPrefix("$") {
                            problems.append("'\(text)' is not an \(family == .ipv4 ? "IPv4" : "IPv6") address or prefix")
                        }
                        return [.unknown(summary(body))]
                    }
                    ranges.append(range)
                }
                var set = DualStackSet()
                set[family] = AddressSet(family: family, ranges: ranges)
                return [.family(family), .address(direction, .literal(set), negated: negated)]
            case ("tcp", "dport"), ("tcp", "sport"), ("udp", "dport"), ("udp", "sport"), ("th", "dport"), ("th", "sport"), ("sctp", "dport"), ("dccp", "dport"):
                var result: [Match] = []
                if let number = ProtocolNames.number(proto) { result.append(.proto([number], negated: false)) }
                let direction: Direction = field == "dport" ? .destination : .source
                if let name = right as? String, name.hasPrefix("@") {
                    guard let set = sets[String(name.dropFirst())], set.type == "inet_service", !set.hasUnknownEntries else {
                        return result + [.unknown("\(proto) \(field) \(negated ? "!= " : "")\(name) (set not given or not a port set)")]
                    }
                    return result + [.port(direction, set.ports, negated: negated)]
                }
                var ports: [ClosedRange<UInt16>] = []
                for member in NftValues.members(right) {
                    guard let range = NftValues.portRange(member) else { return result + [.unknown(summary(body))] }
                    ports.append(range)
                }
                return result + [.port(direction, PortSet(ranges: ports), negated: negated)]
            case ("ip", "protocol"), ("ip6", "nexthdr"):
                return protocols(right, negated: negated, body: body) + [.family(proto == "ip" ? .ipv4 : .ipv6)]
            case ("tcp", "flags"):
                // The probe carries SYN alone: `tcp flags syn` (== syn) holds, `tcp flags { … }` / `in`
                // (any of the bits) holds when syn is among them.
                let flags = Set(NftValues.members(right).map { "\($0)" })
                let holds: Bool
                if op == "in" || (right as? [String: Any])?["set"] != nil {
                    holds = flags.contains("syn")
                } else if flags.count == 1 {
                    holds = flags == ["syn"]
                } else {
                    return [.proto([6], negated: false), .unknown(summary(body))]
                }
                return [.proto([6], negated: false), holds != negated ? .always(summary(body)) : .never(summary(body))]
            case ("icmp", _), ("icmpv6", _), ("udp", _), ("udplite", _), ("sctp", _), ("dccp", _), ("esp", _), ("ah", _), ("comp", _):
                // A field of another protocol's header: nft adds the protocol dependency, so a TCP SYN never matches.
                return [.proto([ProtocolNames.number(proto) ?? 0], negated: false)]
            default:
                return [.unknown(summary(body))]
            }
        }
        if let concat = left["concat"] as? [[String: Any]] {
            return concatenation(concat, right: right, negated: negated, body: body)
        }
        if let exthdr = left["exthdr"] as? [String: Any] {
            // An IPv6 extension header: a TCP SYN carries none. `exthdr frag missing` holds; any
            // field of a missing header makes the rule stop (never matches, negated or not).
            if let exists = (right as? Bool) ?? (right as? String).flatMap({ $0 == "exists" ? true : $0 == "missing" ? false : nil }) {
                return [(exists == false) != negated ? .always(summary(body)) : .never(summary(body))]
            }
            return [.never("exthdr \(exthdr["name"] ?? "?") (a TCP SYN carries no IPv6 extension header)")]
        }
        if let meta = left["meta"] as? [String: Any], let key = meta["key"] as? String {
            switch key {
            case "l4proto":
                return protocols(right, negated: negated, body: body)
            case "iifname", "oifname", "iif", "oif":
                if let name = right as? String, name.hasPrefix("@") {
                    // A named set of interface names: its members are not read here.
                    return key.hasPrefix("i") ? [.unknown(summary(body))] : [.interface(input: false, names: [name], negated: negated)]
                }
                let names = NftValues.members(right).map { member -> String in
                    let text = "\(member)"
                    return text.hasSuffix("*") ? String(text.dropLast()) + "+" : text
                }
                return [.interface(input: key.hasPrefix("i"), names: names, negated: negated)]
            case "iiftype":
                // Only lo is of type loopback; Ethernet, PPP and tunnels may all be public.
                let types = Set(NftValues.members(right).map { "\($0)" })
                if types == ["loopback"] { return [.interface(input: true, names: ["lo"], negated: negated)] }
                return [.unknown(summary(body))]
            case "nfproto":
                let names = NftValues.members(right).map { "\($0)" }
                if names == ["ipv4"] { return [negated ? .family(.ipv6) : .family(.ipv4)] }
                if names == ["ipv6"] { return [negated ? .family(.ipv4) : .family(.ipv6)] }
                return [.unknown(summary(body))]
            case "pkttype":
                let names = Set(NftValues.members(right).map { "\($0)" })
                return [(names.contains("host") != negated) ? .always(summary(body)) : .never(summary(body))]
            default:
                return [.unknown(summary(body))]
            }
        }
        if let ct = left["ct"] as? [String: Any], let key = ct["key"] as? String, key == "state" {
            let states = Set(NftValues.members(right).map { "\($0)".lowercased() })
            return [.connectionState(states, negated: negated)]
        }
        if let fib = left["fib"] as? [String: Any], fib["result"] as? String == "type",
           let flags = fib["flags"] as? [String], flags.contains("daddr") {
            let types = Set(NftValues.members(right).map { "\($0)".uppercased() })
            return [.addressType(.destination, types, negated: negated)]
        }
        if let and = left["&"] as? [Any], and.count == 2, let payload = (and[0] as? [String: Any])?["payload"] as? [String: Any],
           payload["protocol"] as? String == "tcp", payload["field"] as? String == "flags" {
            let mask = Set(NftValues.members(and[1]).map { "\($0)" })
            let compared = Set(NftValues.members(right).map { "\($0)" })
            let matchesProbe = mask.intersection(["syn"]) == compared.subtracting(["0"])
            return [.proto([6], negated: false), (matchesProbe != negated) ? .always(summary(body)) : .never(summary(body))]
        }
        return [.unknown(summary(body))]
    }

    /// `ip saddr . tcp dport @pairs` or `tcp dport . ip saddr @pairs` (or an anonymous set, which
    /// the builder names): the source address and TCP port pairs, as an ipset `hash:net,port` is
    /// matched with `src,dst`. Other concatenations (`ip saddr . iifname`, …) stay unknown.
    static func concatenation(_ keys: [[String: Any]], right: Any, negated: Bool, body: [String: Any]) -> [Match] {
        func field(_ key: [String: Any]) -> String {
            guard let payload = key["payload"] as? [String: Any] else { return "?" }
            return "\(payload["protocol"] ?? "?") \(payload["field"] ?? "?")"
        }
        var shape = keys.map(field)
        if shape.count == 2, shape[0] == "tcp dport" { shape.reverse() }
        guard shape.count == 2, shape[0] == "ip saddr" || shape[0] == "ip6 saddr", shape[1] == "tcp dport",
              let name = right as? String, name.hasPrefix("@") else { return [.unknown(summary(body))] }
        return [.family(shape[0] == "ip saddr" ? .ipv4 : .ipv6), .proto([6], negated: false),
                .address(.source, .named(String(name.dropFirst()) + ",port"), negated: negated)]
    }

    private static func protocols(_ right: Any, negated: Bool, body: [String: Any]) -> [Match] {
        var numbers: Set<UInt8> = []
        for member in NftValues.members(right) {
            if let number = member as? Int, let value = UInt8(exactly: number) { numbers.insert(value); continue }
            guard let number = ProtocolNames.number("\(member)") else { return [.unknown(summary(body))] }
            numbers.insert(number)
        }
        return [.proto(numbers, negated: negated)]
    }

    static func summary(_ body: [String: Any]) -> String {
        let op = body["op"] as? String ?? "=="
        return "\(NftValues.describe(body["left"] ?? "")) \(op == "==" || op == "in" ? "" : op + " ")\(NftValues.describe(body["right"] ?? ""))"
    }
}
