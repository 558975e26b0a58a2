import Foundation
import OriginAuditCore

/// The formats a firewall input can come in.
public enum FirewallInputKind: String, Sendable, Hashable {
    /// `iptables-save` / `ip6tables-save` output (legacy or nf_tables, with or without counters).
    case iptablesSave
    /// `iptables -S` output.
    case iptablesRules
    /// `ipset save` output.
    case ipset
    /// `nft -j list ruleset`.
    case nftJSON
    /// `nft list ruleset`.
    case nftText
}

/// One firewall file to load.
public struct FirewallInput: Sendable {
    public var kind: FirewallInputKind
    /// The family when the user said so (`--ip6tables`) or the name says so (`rules.v6`);
    /// nil lets the parser decide from the content.
    public var familyHint: AddressFamily?
    public var displayPath: String
    public var bytes: [UInt8]

    public init(kind: FirewallInputKind, familyHint: AddressFamily? = nil, displayPath: String, bytes: [UInt8]) {
        self.kind = kind
        self.familyHint = familyHint
        self.displayPath = displayPath
        self.bytes = bytes
    }
}

/// Parses every firewall input into one `FirewallModel`.
public enum FirewallLoader {
    /// Parses each input with the parser for its kind and merges the results; parse problems are
    /// `input.parse-error` findings with file:line, and every other line is still used.
    public static func load(_ inputs: [FirewallInput]) -> LoadResult<FirewallModel> {
        var model = FirewallModel()
        var findings: [Finding] = []
        var notes: [String] = []
        // ipsets first: rules in any file may name them. The files are parsed concurrently (a
        // large ipset save and a large iptables-save each take a core) and merged in this order.
        let ordered = inputs.sorted(by: { ($0.kind == .ipset ? 0 : 1) < ($1.kind == .ipset ? 0 : 1) })
        let parsed = ConcurrentSlots.fill(count: ordered.count) { parse(ordered[$0]) }
        for (input, result) in zip(ordered, parsed) {
            model.files.append(input.displayPath)
            switch result {
            case .iptables(let tables, let family, let problems)?:
                model.tables += tables
                model.families.insert(family)
                findings += problems
            case .ipset(let sets, let problems)?:
                model.ipsets.merge(sets) { first, _ in first }
                findings += problems
            case .nft(let other, let problems)?:
                model.merge(other)
                findings += problems
            case nil:
                findings.append(Finding(ruleId: "input.parse-error", message: "binary data where a firewall ruleset was expected",
                                        location: SourceLocation(file: input.displayPath, line: 1, column: 1)))
            }
        }
        model.files = inputs.map(\.displayPath)
        // iptables-nft tables appear in both iptables-save and `nft list ruleset`; the iptables form
        // keeps every match's options (the nft JSON only says `xt match multiport`), so it wins.
        let iptablesTables = Set(model.tables.filter { $0.backend == .iptables }.map { "\($0.family.rawValue) \($0.name)" })
        let duplicates = model.tables.filter { $0.backend == .nftables && iptablesTables.contains("\($0.family.rawValue) \($0.name)") }
        if !duplicates.isEmpty {
            model.tables.removeAll { $0.backend == .nftables && iptablesTables.contains("\($0.family.rawValue) \($0.name)") }
            notes.append("firewall: nftables table(s) \(duplicates.map(\.displayName).joined(separator: ", ")) are the iptables-nft tables also given as iptables-save output; the iptables-save form was used")
        }
        // One pass over the rules where they are (a list of every rule would be a copy of them all).
        var xtCount = 0
        var firstXT: SourceLocation?
        var interfaceNames = Set<String>()
        var anyDNAT = false
        for table in model.tables {
            for chain in table.chains {
                for rule in chain.rules {
                    var xt = false
                    for match in rule.matches {
                        switch match {
                        case .interface(true, let names, _): interfaceNames.formUnion(names)
                        case .unknown(let text) where text.hasPrefix("xt "): xt = true
                        default: break
                        }
                    }
                    switch rule.action {
                    case .dnat: anyDNAT = true
                    case .unknown(let text) where text.hasPrefix("xt "): xt = true
                    default: break
                    }
                    if xt && table.backend == .nftables {
                        xtCount += 1
                        firstXT = firstXT ?? rule.location
                    }
                }
            }
        }
        interfaceNames.remove("lo")
        if let firstXT {
            notes.append("firewall: \(xtCount) nftables rule(s) use xt (iptables-nft compatibility) statements whose options nft does not print, first at \(firstXT); give iptables-save output for those tables")
        }
        findings += jumpCycles(model)
        if !interfaceNames.isEmpty {
            notes.append("firewall: input-interface matches (\(interfaceNames.sorted().prefix(5).joined(separator: ", "))) name interfaces: the CDN's traffic is taken to arrive on the --public-interface given (live: the default routes' interfaces); when none is known, never on lo or a container bridge (docker*, br-*, veth*, …), and where the rules treat the other interfaces differently the outcome is given for each")
        }
        if anyDNAT {
            notes.append("firewall: DNAT'd traffic is judged by the forward chains at the translated port, as for Docker's published ports; a DNAT to the host's own address is not modelled")
        }
        for table in model.tables where table.family == .netdev || table.family == .bridge || table.family == .arp {
            notes.append("nftables table \(table.displayName) (\(table.location)) is not evaluated: the \(table.family.rawValue) family is outside the IP input path this audit models")
        }
        return LoadResult(model: model, findings: findings, notes: notes, files: inputs.map(\.displayPath))
    }

    /// What one input holds, parsed on its own.
    private enum ParsedInput {
        case iptables([FirewallTable], AddressFamily, [Finding])
        case ipset([String: NamedSet], [Finding])
        case nft(FirewallModel, [Finding])
    }

    /// Parses one input with the parser for its kind; nil for binary data.
    private static func parse(_ input: FirewallInput) -> ParsedInput? {
        if TextScan.looksBinary(input.bytes) { return nil }
        switch input.kind {
        case .iptablesSave, .iptablesRules:
            var parser = IptablesParser(file: input.displayPath, familyHint: input.familyHint)
            let (tables, family) = parser.parse(input.bytes, rulesOnly: input.kind == .iptablesRules)
            return .iptables(tables, family, parser.findings)
        case .ipset:
            var parser = IPSetParser(file: input.displayPath)
            parser.parse(input.bytes)
            return .ipset(parser.sets, parser.findings)
        case .nftJSON:
            let result = NftJSONParser.parse(input.bytes, file: input.displayPath)
            return .nft(result.model, result.findings)
        case .nftText:
            let result = NftTextParser.parse(input.bytes, file: input.displayPath)
            return .nft(result.model, result.findings)
        }
    }

    /// Jump/goto cycles, one finding per cycle at the rule that closes it: the kernel refuses such
    /// a ruleset (iptables-restore: "Too many levels of symbolic links", nft: "Too many links").
    static func jumpCycles(_ model: FirewallModel) -> [Finding] {
        var findings: [Finding] = []
        for table in model.tables {
            var state: [String: Int] = [:] // 1 = on the stack, 2 = done
            func visit(_ name: String, depth: Int) {
                guard depth < 256, let chain = table.chain(named: name) else { return }
                state[name] = 1
                for rule in chain.rules {
                    let target: String
                    switch rule.action {
                    case .jump(let name), .goto(let name): target = name
                    default: continue
                    }
                    if state[target] == 1 {
                        findings.append(Finding(ruleId: "input.parse-error",
                                                message: "jump loop: chain \(name) jumps back to \(target), which is already on the path (the kernel rejects this ruleset)",
                                                location: rule.location))
                    } else if state[target] == nil {
                        visit(target, depth: depth + 1)
                    }
                }
                state[name] = 2
            }
            for chain in table.chains where state[chain.name] == nil { visit(chain.name, depth: 0) }
        }
        return findings
    }

    /// Convenience for tests and tools: loads text of one kind.
    public static func load(text: String, kind: FirewallInputKind, file: String, familyHint: AddressFamily? = nil) -> LoadResult<FirewallModel> {
        load([FirewallInput(kind: kind, familyHint: familyHint, displayPath: file, bytes: Array(text.utf8))])
    }
}

/// Parses `nft -j list ruleset`. Rules are located by their kernel handle (the JSON has no lines
/// of its own when printed by nft; objects on separate lines also get their line).
enum NftJSONParser {
    static func parse(_ bytes: [UInt8], file: String) -> (model: FirewallModel, findings: [Finding]) {
        let object: Any
        do {
            object = try JSONReader.parse(bytes)
        } catch {
            let position = LineIndex(bytes).position(of: min(error.offset, bytes.count))
            return (FirewallModel(files: [file]), [Finding(ruleId: "input.parse-error", message: "invalid JSON: \(error.message)",
                                                              location: SourceLocation(file: file, line: position.line, column: position.column))])
        }
        guard let root = object as? [String: Any], let list = root["nftables"] as? [Any] else {
            return (FirewallModel(files: [file]), [Finding(ruleId: "input.parse-error", message: "expected {\"nftables\": [...]} as printed by nft -j list ruleset",
                                                              location: SourceLocation(file: file, line: 1, column: 1))])
        }
        var builder = NftRulesetBuilder(file: file)
        let lines = objectLines(bytes, count: list.count)
        // Tables, sets and chains before rules: a jump may name a chain listed later.
        let objects: [(object: [String: Any], index: Int)] = list.enumerated().compactMap { item in
            (item.element as? [String: Any]).map { (object: $0, index: item.offset) }
        }
        func location(_ index: Int) -> SourceLocation { SourceLocation(file: file, line: lines?[index] ?? 0) }
        for (object, index) in objects where object["rule"] == nil { builder.add(object, location: location(index)) }
        for (object, index) in objects where object["rule"] != nil { builder.add(object, location: location(index)) }
        var model = FirewallModel(tables: builder.tables, files: [file])
        model.families = Set(builder.tables.flatMap { table in AddressFamily.allCases.filter { table.family.applies(to: $0) } })
        return (model, builder.findings)
    }

    /// When every top-level object starts on its own line (pretty-printed JSON), its line numbers.
    static func objectLines(_ bytes: [UInt8], count: Int) -> [Int]? {
        var lines: [Int] = []
        var depth = 0, line = 1
        var inString = false, escaped = false
        for byte in bytes {
            if byte == 0x0A { line += 1 }
            if inString {
                if escaped { escaped = false } else if byte == 0x5C { escaped = true } else if byte == 0x22 { inString = false }
                continue
            }
            switch byte {
            case 0x22: inString = true
            case 0x7B, 0x5B:
                if depth == 2 && byte == 0x7B { lines.append(line) }
                depth += 1
            case 0x7D, 0x5D: depth -= 1
            default: break
            }
        }
        guard lines.count == count, Set(lines).count == lines.count else { return nil }
        return lines
    }
}
