import OriginAuditCore

/// The exact outcomes of an uncertain probe (DESIGN.md §3, "unknown must contain the truth").
///
/// The flattened sweep is sound but merges paths: a `goto` or `RETURN` taken "maybe" leaves the
/// later rules of its chain reached "maybe", so an outcome only a packet that did not take it can
/// reach may be listed beside one only a packet that did take it can reach. For a probe the sweep
/// left uncertain, the chains are walked concretely, as the kernel runs them, once per combination
/// of truth values of the uncertain matches the walk meets, and the outcomes are their union.
///
/// What one uncertain match may answer in one world:
/// - a deterministic test of the packet (an unmodelled match, a named set whose contents are not
///   known, the origin's own address, a source-port range) answers the same wherever the packet
///   meets it: an address or port test by what it tests, any other by the rule and match it is;
/// - a rate limit answers afresh at each evaluation (each one takes a token), except a `recent
///   --rcheck`, which reads the list: the same rule answers the same until a `recent --set`,
///   `--update` or `--remove` changes the lists.
/// Past `maxWalkVariables` uncertain matches on one probe's paths, or `maxWalkSteps` rules walked
/// (`maxWalkStepsPerRun` for all probes of one question), the sweep's outcomes stay, and the
/// decision says they are an upper bound.
extension FirewallEvaluator {
    /// Uncertain matches on one probe's paths whose combinations are all tried (2^12 worlds).
    public static let enumeratedUncertainMatches = 12
}

extension FirewallEvaluator.Run {
    static let maxWalkVariables = FirewallEvaluator.enumeratedUncertainMatches
    /// Rules walked per probe, over all its worlds.
    static let maxWalkSteps = 2_000_000
    /// Rules walked per question (one family's partition), over all its probes.
    static let maxWalkStepsPerRun = 20_000_000

    struct WalkRuleKey: Hashable {
        var table: Int, chain: Int, rule: Int
        var port: UInt16
        var afterDNAT: Bool
        var beforeConntrack: Bool
        var interface: String
        var destination: UInt128?
    }

    /// One uncertain match of a compiled rule.
    enum WalkTest {
        /// A test of the packet: the same answer wherever it is met (negated: the answer inverted).
        case predicate(Match, negated: Bool)
        /// An unmodelled test: the same answer wherever this match of this rule is met.
        case site(Int)
        /// `recent --rcheck`: the same answer at this match of this rule while the lists do not change.
        case recentCheck(Int)
        /// A rate limit: a new answer at every evaluation.
        case fresh
    }

    /// A rule compiled for one probe: the sources it matches, and its uncertain matches.
    struct WalkRule {
        var sources: AddressSet
        var tests: [WalkTest]
        /// A `recent --set`, `--update` or `--remove`: reaching the rule may change the lists.
        var changesRecent: Bool
    }

    enum WalkVariable: Hashable {
        case predicate(table: Int, match: Match)
        case site(table: Int, chain: Int, rule: Int, match: Int, epoch: Int)
        case evaluation(Int)
    }

    /// One world being walked: the truth values chosen so far, replaying `prefix` first.
    struct Walk {
        var prefix: [Bool]
        var taken: [Bool] = []
        var values: [WalkVariable: Bool] = [:]
        var evaluations = 0
        var recentEpoch = 0
        var overBudget = false

        init(prefix: [Bool]) { self.prefix = prefix }

        mutating func value(_ variable: WalkVariable) -> Bool {
            if let known = values[variable] { return known }
            let index = taken.count
            if index >= FirewallEvaluator.Run.maxWalkVariables { overBudget = true; return false }
            let value = index < prefix.count ? prefix[index] : false
            taken.append(value)
            values[variable] = value
            return value
        }
    }

    /// How one base chain ended for the packet.
    struct ChainEnd {
        var terminal: Terminal
        var rule: RuleReference
        var path: [RuleReference]
    }

    struct WalkLeaf {
        var terminal: Terminal
        var decidedBy: RuleReference
        var path: [RuleReference]
        var dnat: RuleReference?
    }

    /// The decision for the probe at `address` (of the current interface class) to `port`, from
    /// every world of the uncertain matches it meets; `decision` (the sweep's) when there are too
    /// many of them, marked as an upper bound.
    mutating func exactDecision(_ decision: Decision, address: UInt128, port: UInt16) -> Decision {
        var prefix: [Bool] = []
        var leaves: [WalkLeaf] = []
        var steps = 0
        let limit = min(Self.maxWalkSteps, walkStepsLeft)
        defer { walkStepsLeft -= steps }
        while true {
            var walk = Walk(prefix: prefix)
            let leaf = walkPipeline(address: address, port: port, walk: &walk, steps: &steps)
            if walk.overBudget || steps > limit {
                var bounded = decision
                bounded.outcomesAreUpperBound = true
                return bounded
            }
            leaves.append(leaf)
            guard let last = walk.taken.lastIndex(of: false) else { break }
            prefix = Array(walk.taken[..<last]) + [true]
        }
        var verdicts: Set<Verdict> = []
        var open = false
        for leaf in leaves {
            if case .verdict(let verdict) = leaf.terminal { verdicts.insert(verdict) } else { open = true }
        }
        if !open && verdicts.count == 1, let verdict = verdicts.first {
            // Every world agrees: certain, explained by the world in which no uncertain match holds.
            let leaf = leaves[0]
            return Decision(outcome: .definite(verdict), decidedBy: leaf.decidedBy, path: leaf.path.filter { $0 != leaf.decidedBy },
                            uncertainBecause: [], dnat: leaf.dnat, otherwise: nil)
        }
        var exact = decision
        exact.outcome.possible = open ? [] : verdicts.sorted()
        if open { exact.outcome.kind = .unknown }
        return exact
    }

    /// One world: the base chains of the input path (or, after DNAT, the forward path) in order.
    mutating func walkPipeline(address: UInt128, port: UInt16, walk: inout Walk, steps: inout Int) -> WalkLeaf {
        let chains = evaluator.pipeline(family)
        var path: [RuleReference] = []
        var accepted: RuleReference?
        var dnat: RuleReference?
        var forwardPort = port
        for (stage, list) in [chains.prerouting, chains.input, chains.forward].enumerated() {
            if stage == 1 && dnat != nil { continue }
            if stage == 2 && dnat == nil { continue }
            for (t, c) in list {
                let end = walkChain(table: t, chain: c, address: address, port: stage == 2 ? forwardPort : port,
                                    afterDNAT: stage == 2, walk: &walk, steps: &steps)
                switch end.terminal {
                case .verdict(.accept):
                    path += end.path + [end.rule]
                    accepted = end.rule
                case .dnat(let target):
                    path += end.path + [end.rule]
                    if dnat == nil { forwardPort = target ?? port }
                    dnat = dnat ?? end.rule
                case .verdict, .unknown:
                    return WalkLeaf(terminal: end.terminal, decidedBy: end.rule, path: path + end.path, dnat: dnat)
                }
            }
        }
        return WalkLeaf(terminal: .verdict(.accept), decidedBy: accepted ?? noRule, path: path, dnat: dnat)
    }

    /// One base chain with the chains it jumps to, as the kernel runs them.
    mutating func walkChain(table t: Int, chain c: Int, address: UInt128, port: UInt16, afterDNAT: Bool,
                            walk: inout Walk, steps: inout Int) -> ChainEnd {
        let table = model.tables[t]
        let base = table.chains[c]
        let hook = base.hook ?? .input
        let beforeConntrack = hook == .prerouting && base.priority < -200
        let policy = policyReference(table: table, chain: base)
        // Each frame: the chain, its next rule, and the jump that entered it.
        var frames: [(chain: Int, next: Int, via: RuleReference?)] = [(c, 0, nil)]
        while let frame = frames.last {
            let chain = table.chains[frame.chain]
            guard frame.next < chain.rules.count else {
                frames.removeLast()
                if frames.isEmpty { return ChainEnd(terminal: .verdict(base.policy), rule: policy, path: []) }
                continue
            }
            frames[frames.count - 1].next += 1
            steps += 1
            if steps > min(Self.maxWalkSteps, walkStepsLeft) { return ChainEnd(terminal: .unknown("too many rules walked"), rule: policy, path: []) }
            let key = WalkRuleKey(table: t, chain: frame.chain, rule: frame.next, port: port, afterDNAT: afterDNAT,
                                  beforeConntrack: beforeConntrack, interface: interface, destination: destination)
            guard walkMatches(key, hook: hook, address: address, walk: &walk) else { continue }
            let rule = chain.rules[frame.next]
            let reference = reference(rule, table: table, chain: chain)
            let path = frames.compactMap(\.via)
            switch rule.action {
            case .verdict(let verdict): return ChainEnd(terminal: .verdict(verdict), rule: reference, path: path)
            case .dnat(let target): return ChainEnd(terminal: .dnat(target), rule: reference, path: path)
            case .unknown(let what): return ChainEnd(terminal: .unknown(what), rule: reference, path: path)
            case .continue: continue
            case .return:
                frames.removeLast()
                if frames.isEmpty { return ChainEnd(terminal: .verdict(base.policy), rule: reference, path: path) }
            case .jump(let target), .goto(let target):
                if frames.contains(where: { table.chains[$0.chain].name == target }) || frames.count >= Self.maxDepth {
                    return ChainEnd(terminal: .unknown(frames.count >= Self.maxDepth ? "jumps nested too deep" : "jump loop through \(target)"),
                                    rule: reference, path: path)
                }
                guard let next = table.chains.firstIndex(where: { $0.name == target }) else {
                    return ChainEnd(terminal: .unknown("missing chain \(target)"), rule: reference, path: path)
                }
                if case .goto = rule.action {
                    // A goto's chain returns to the caller of the chain that went to it.
                    frames[frames.count - 1] = (next, 0, reference)
                } else {
                    frames.append((next, 0, reference))
                }
            }
        }
        return ChainEnd(terminal: .verdict(base.policy), rule: policy, path: [])
    }

    /// Whether the rule matches the packet at `address` in this world.
    mutating func walkMatches(_ key: WalkRuleKey, hook: Hook, address: UInt128, walk: inout Walk) -> Bool {
        let compiled: WalkRule?
        if let cached = walkRules[key] { compiled = cached } else {
            compiled = compileForWalk(key, hook: hook)
            walkRules[key] = compiled
        }
        guard let rule = compiled, rule.sources.isAll || rule.sources.intervals.contains(address) else { return false }
        // xt_recent's --update and --remove change the list when evaluated, whether or not the rule then matches.
        if rule.changesRecent { walk.recentEpoch += 1 }
        for test in rule.tests {
            let value: Bool
            switch test {
            case .predicate(let match, let negated):
                value = walk.value(.predicate(table: key.table, match: match)) != negated
            case .site(let index):
                value = walk.value(.site(table: key.table, chain: key.chain, rule: key.rule, match: index, epoch: 0))
            case .recentCheck(let index):
                value = walk.value(.site(table: key.table, chain: key.chain, rule: key.rule, match: index, epoch: walk.recentEpoch))
            case .fresh:
                walk.evaluations += 1
                value = walk.value(.evaluation(walk.evaluations))
            }
            if !value { return false }
        }
        return true
    }

    mutating func compileForWalk(_ key: WalkRuleKey, hook: Hook) -> WalkRule? {
        let table = model.tables[key.table]
        let rule = table.chains[key.chain].rules[key.rule]
        var compiled = WalkRule(sources: AddressSet.all(family), tests: [], changesRecent: false)
        for (index, match) in rule.matches.enumerated() {
            switch match {
            case .always(let text) where text.hasPrefix("recent"): compiled.changesRecent = true
            case .rateLimit(let limit) where limit.kind == "recent" && !limit.detail.contains("--rcheck"): compiled.changesRecent = true
            default: break
            }
            switch evaluate(match, table: table, hook: hook, port: key.port, afterDNAT: key.afterDNAT, beforeConntrack: key.beforeConntrack) {
            case .never: return nil
            case .sources(let set):
                if set.isAll { continue }
                compiled.sources.formIntersection(set)
                if compiled.sources.isEmpty { return nil }
            case .uncertain:
                switch match {
                case .rateLimit(let limit) where limit.kind == "recent" && limit.detail == "--rcheck": compiled.tests.append(.recentCheck(index))
                case .rateLimit: compiled.tests.append(.fresh)
                case .address(let direction, let spec, let negated): compiled.tests.append(.predicate(.address(direction, spec, negated: false), negated: negated))
                case .port(let direction, let set, let negated): compiled.tests.append(.predicate(.port(direction, set, negated: false), negated: negated))
                default: compiled.tests.append(.site(index))
                }
            }
        }
        return compiled
    }
}
