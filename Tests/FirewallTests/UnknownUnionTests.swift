import Testing
import OriginAuditCore
import TestSupport
@testable import Firewall

/// "Unknown" must contain the truth, and nothing else: for random rulesets with k uncertain matches
/// (unmodelled matches, rate limits, the origin's own address), the outcomes the evaluator lists
/// are exactly the union of the outcomes of all 2^k worlds in which each uncertain match is
/// replaced by "always" or "never" (DESIGN.md §3), and a definite answer is the answer of every
/// world. The rulesets have gotos, RETURNs, nested user chains, chains jumped to from several
/// places, rate limits followed by `REJECT --reject-with tcp-reset`, in iptables and nft tables.
@Suite struct UnknownUnionTests {
    /// A deterministic generator, so a failure names a reproducible seed.
    struct Random {
        var generator: SplitMix
        init(state: UInt64) { generator = SplitMix(state: state) }
        mutating func below(_ n: Int) -> Int { Int(generator.next() % UInt64(n)) }
        mutating func chance(_ percent: Int) -> Bool { below(100) < percent }
    }

    static let blocks = ["192.0.2.0/26", "192.0.2.64/26", "192.0.2.128/26", "192.0.2.192/26"]
    static let wider = ["192.0.2.0/25", "192.0.2.128/25", "192.0.2.0/24"]
    /// Two of the origin's possible own addresses: `-d` with one of them is uncertain when the
    /// origin's address is not given, and the same address tested twice answers the same.
    static let hosts = ["203.0.113.5", "203.0.113.9"]

    /// A filter table with an input base chain and up to five user chains. A chain with a rate
    /// limit is jumped to at most once (each evaluation of a limit takes a token, so a limit met
    /// twice is two matches); a shared chain, jumped to from anywhere, has no rate limit.
    static func ruleset(seed: UInt64) -> (FirewallModel, uncertain: Int) {
        var random = Random(state: seed)
        var uncertain = 0
        var line = 1
        let chainCount = 1 + random.below(6)
        let nft = random.chance(40)
        let shared = Set((2..<max(2, chainCount)).filter { _ in random.chance(35) })
        var chains: [FirewallChain] = []
        var jumped = Set<Int>()
        func name(_ index: Int) -> String { index == 0 ? (nft ? "input" : "INPUT") : "C\(index)" }
        for index in 0..<chainCount {
            var rules: [FirewallRule] = []
            for _ in 0..<(1 + random.below(6)) {
                var matches: [Match] = []
                if random.chance(50) {
                    let cidr = random.chance(70) ? blocks[random.below(blocks.count)] : wider[random.below(wider.count)]
                    matches.append(.address(.source, .literal(DualStackSet(cidrs: [CIDR(cidr)!])), negated: random.chance(20)))
                }
                if random.chance(40) {
                    matches.append(.proto([6], negated: false))
                    matches.append(.port(.destination, PortSet(random.chance(50) ? 80...80 : 443...443), negated: random.chance(20)))
                }
                if random.chance(10) {
                    matches.append(.address(.destination, .literal(DualStackSet(cidrs: [CIDR(hosts[random.below(2)] + "/32")!])), negated: random.chance(25)))
                }
                if random.chance(45) && uncertain < 6 {
                    let limit = !shared.contains(index) && random.chance(55)
                    matches.append(limit ? .rateLimit(RateLimit(kind: "limit", detail: "u\(uncertain)")) : .unknown("u\(uncertain)"))
                    uncertain += 1
                }
                let action: RuleAction
                let candidates = (index + 1..<chainCount).filter { shared.contains($0) || !jumped.contains($0) }
                switch random.below(9) {
                case 0: action = .verdict(.accept)
                case 1: action = .verdict(.drop)
                case 2, 3: action = .verdict(.reject("tcp-reset"))
                case 4: action = .verdict(.reject("icmp-port-unreachable"))
                case 5 where index > 0: action = .return
                case 6 where !candidates.isEmpty, 7 where !candidates.isEmpty:
                    let target = candidates[random.below(candidates.count)]
                    jumped.insert(target)
                    action = random.chance(60) ? .jump(name(target)) : .goto(name(target))
                default: action = .verdict(random.chance(50) ? .accept : .drop)
                }
                rules.append(FirewallRule(location: SourceLocation(file: "r", line: line, column: 1), text: "rule \(line)", matches: matches, action: action))
                line += 1
            }
            let location = SourceLocation(file: "r", line: 1000 + index, column: 1)
            chains.append(FirewallChain(name: name(index), hook: index == 0 ? .input : nil, priority: 0, policy: random.chance(50) ? .accept : .drop,
                                        policyLocation: location, rules: rules, location: location))
        }
        let table = FirewallTable(backend: nft ? .nftables : .iptables, family: nft ? .inet : .ip, name: "filter", chains: chains,
                                  location: SourceLocation(file: "r", line: 1, column: 1))
        return (FirewallModel(tables: [table], families: [.ipv4], files: ["r"]), uncertain)
    }

    /// The model with uncertain match i replaced by always (bit i set) or never; the destination
    /// test of host h by bit k + h, the same wherever it is met.
    static func world(_ model: FirewallModel, _ bits: Int, uncertain k: Int) -> FirewallModel {
        var copy = model
        for t in copy.tables.indices {
            for c in copy.tables[t].chains.indices {
                for r in copy.tables[t].chains[c].rules.indices {
                    copy.tables[t].chains[c].rules[r].matches = copy.tables[t].chains[c].rules[r].matches.map { match in
                        let bit: Int
                        var holds = true
                        switch match {
                        case .unknown(let text): bit = Int(text.dropFirst())!
                        case .rateLimit(let limit): bit = Int(limit.detail.dropFirst())!
                        case .address(.destination, .literal(let set), let negated):
                            bit = k + hosts.firstIndex { set.ipv4.contains(IPAddress($0)!) }!
                            holds = !negated
                        default: return match
                        }
                        return (bits & (1 << bit) != 0) == holds ? .always("w\(bit)") : .never("w\(bit)")
                    }
                }
            }
        }
        return copy
    }

    /// Verdict per (block, port) of a model.
    static func outcomes(_ model: FirewallModel) -> [String: Outcome] {
        var result: [String: Outcome] = [:]
        let evaluator = FirewallEvaluator(model: model)
        for block in blocks {
            for port: UInt16 in [80, 443] {
                let parts = evaluator.evaluate(family: .ipv4, sources: AddressSet(family: .ipv4, cidrs: [CIDR(block)!]), ports: PortSet(port...port))
                #expect(parts.count == 1, "\(block) tcp/\(port) split into \(parts.count) parts")
                result["\(block) \(port)"] = parts.first?.decision.outcome
            }
        }
        return result
    }

    @Test func possibleOutcomesAreExactlyTheUnionOverAllWorlds() {
        var checked = 0, uncertainCells = 0, worlds = 0
        for seed in UInt64(1)...250 {
            let (model, k) = Self.ruleset(seed: seed)
            let predicted = Self.outcomes(model)
            var union: [String: Set<Verdict>] = [:]
            let variables = k + Self.hosts.count
            let hostBits = Self.hosts.indices.filter { h in
                model.tables[0].chains.contains { $0.rules.contains { $0.matches.contains { match in
                    if case .address(.destination, .literal(let set), _) = match { return set.ipv4.contains(IPAddress(Self.hosts[h])!) }
                    return false
                } } }
            }.reduce(0) { $0 | 1 << (k + $1) }
            // Host bits the ruleset never tests stay 0: the other worlds are the same.
            // A packet goes to one address: the two host tests never both hold.
            let both = 3 << k
            for bits in 0..<(1 << variables) where bits & ~((1 << k) - 1) & ~hostBits == 0 && bits & both != both {
                worlds += 1
                for (cell, outcome) in Self.outcomes(Self.world(model, bits, uncertain: k)) {
                    #expect(outcome.kind != .unknown && outcome.kind != .rateLimited, "seed \(seed): a world with every match decided is still uncertain")
                    union[cell, default: []].formUnion(outcome.possible)
                }
            }
            for (cell, outcome) in predicted {
                checked += 1
                let truth = union[cell] ?? []
                if outcome.kind == .unknown || outcome.kind == .rateLimited {
                    uncertainCells += 1
                    #expect(Set(outcome.possible) == truth, "seed \(seed), \(cell): evaluator says \(outcome), but the \(1 << variables) worlds give \(truth.sorted())")
                    #expect(truth.count > 1, "seed \(seed), \(cell): uncertain, but every world gives \(truth.sorted())")
                } else {
                    #expect([outcome.possible[0]] == truth, "seed \(seed), \(cell): evaluator is certain of \(outcome), the \(1 << variables) worlds give \(truth.sorted())")
                }
            }
        }
        print("unknown-union: \(checked) cells of 250 random rulesets compared with all their \(worlds) worlds: \(uncertainCells) uncertain, each listing exactly the outcomes of its worlds")
    }
}

/// Past the number of uncertain matches whose combinations are tried, the outcomes stay the
/// sweep's sound ones and the decision says they are an upper bound, never silently.
@Suite struct UnknownUnionBoundTests {
    @Test func tooManyUncertainMatchesOnOnePathAreSaidToBeAnUpperBound() {
        func rule(_ line: Int, _ matches: [Match], _ action: RuleAction) -> FirewallRule {
            FirewallRule(location: SourceLocation(file: "r", line: line, column: 1), text: "rule \(line)", matches: matches, action: action)
        }
        func model(uncertain count: Int) -> FirewallModel {
            // INPUT jumps to C, whose unknown matches each RETURN; C ends by dropping, INPUT accepts.
            let returns = (0..<count).map { rule(10 + $0, [.unknown("u\($0)")], .return) }
            let location = SourceLocation(file: "r", line: 1, column: 1)
            let input = FirewallChain(name: "INPUT", hook: .input, policy: .accept, policyLocation: location,
                                      rules: [rule(2, [], .jump("C"))], location: location)
            let chain = FirewallChain(name: "C", policyLocation: location, rules: returns + [rule(99, [], .verdict(.drop))], location: location)
            return FirewallModel(tables: [FirewallTable(backend: .iptables, family: .ip, name: "filter", chains: [input, chain], location: location)],
                                 families: [.ipv4], files: ["r"])
        }
        let limit = FirewallEvaluator.enumeratedUncertainMatches
        for (count, bounded) in [(limit, false), (limit + 1, true)] {
            let parts = FirewallEvaluator(model: model(uncertain: count)).evaluate(family: .ipv4, sources: AddressSet(family: .ipv4, cidrs: [CIDR("192.0.2.0/24")!]), ports: PortSet(443...443))
            #expect(parts.count == 1)
            #expect(parts.first?.decision.outcome.possible == [.accept, .drop], "\(count) uncertain matches")
            #expect(parts.first?.decision.outcomesAreUpperBound == bounded, "\(count) uncertain matches")
        }
    }
}
