import Testing
import OriginAuditCore
import TestSupport
@testable import Firewall

/// "Unknown" must contain the truth: for random rulesets with k uncertain matches (unmodelled
/// matches and rate limits), the outcomes the evaluator lists contain the union of the definite
/// outcomes of all 2^k worlds in which each uncertain match is replaced by "always" or "never"
/// (DESIGN.md §3), and a definite answer is the answer of every world. Where the evaluator lists
/// more than the worlds give (a goto or RETURN taken "maybe" loses which packets took it), the
/// count is printed.
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

    /// A filter table with INPUT and up to three user chains, each jumped to at most once (a
    /// packet meets every rule at most once, so worlds are independent choices).
    static func ruleset(seed: UInt64) -> (FirewallModel, uncertain: Int) {
        var random = Random(state: seed)
        var uncertain = 0
        var line = 1
        let chainCount = 1 + random.below(4)
        var chains: [FirewallChain] = []
        var jumped = Set<Int>()
        for index in 0..<chainCount {
            let name = index == 0 ? "INPUT" : "C\(index)"
            var rules: [FirewallRule] = []
            for _ in 0..<(1 + random.below(5)) {
                var matches: [Match] = []
                if random.chance(50) {
                    let cidr = random.chance(70) ? blocks[random.below(blocks.count)] : wider[random.below(wider.count)]
                    matches.append(.address(.source, .literal(DualStackSet(cidrs: [CIDR(cidr)!])), negated: random.chance(20)))
                }
                if random.chance(40) {
                    matches.append(.proto([6], negated: false))
                    matches.append(.port(.destination, PortSet(random.chance(50) ? 80...80 : 443...443), negated: random.chance(20)))
                }
                if random.chance(45) && uncertain < 6 {
                    matches.append(random.chance(50) ? .unknown("u\(uncertain)") : .rateLimit(RateLimit(kind: "limit", detail: "u\(uncertain)")))
                    uncertain += 1
                }
                let action: RuleAction
                let candidates = (index + 1..<chainCount).filter { !jumped.contains($0) }
                switch random.below(8) {
                case 0: action = .verdict(.accept)
                case 1: action = .verdict(.drop)
                case 2: action = .verdict(.reject("tcp-reset"))
                case 3: action = .verdict(.reject("icmp-port-unreachable"))
                case 4 where index > 0: action = .return
                case 5 where !candidates.isEmpty, 6 where !candidates.isEmpty:
                    let target = candidates[random.below(candidates.count)]
                    jumped.insert(target)
                    action = random.chance(70) ? .jump("C\(target)") : .goto("C\(target)")
                default: action = .verdict(random.chance(50) ? .accept : .drop)
                }
                rules.append(FirewallRule(location: SourceLocation(file: "r", line: line, column: 1), text: "rule \(line)", matches: matches, action: action))
                line += 1
            }
            let location = SourceLocation(file: "r", line: 1000 + index, column: 1)
            chains.append(FirewallChain(name: name, hook: index == 0 ? .input : nil, priority: 0, policy: random.chance(50) ? .accept : .drop,
                                        policyLocation: location, rules: rules, location: location))
        }
        let table = FirewallTable(backend: .iptables, family: .ip, name: "filter", chains: chains, location: SourceLocation(file: "r", line: 1, column: 1))
        return (FirewallModel(tables: [table], families: [.ipv4], files: ["r"]), uncertain)
    }

    /// The model with uncertain match i replaced by always (bit i set) or never.
    static func world(_ model: FirewallModel, _ bits: Int) -> FirewallModel {
        var copy = model
        for t in copy.tables.indices {
            for c in copy.tables[t].chains.indices {
                for r in copy.tables[t].chains[c].rules.indices {
                    copy.tables[t].chains[c].rules[r].matches = copy.tables[t].chains[c].rules[r].matches.map { match in
                        let id: String
                        switch match {
                        case .unknown(let text): id = text
                        case .rateLimit(let limit): id = limit.detail
                        default: return match
                        }
                        let i = Int(id.dropFirst())!
                        return bits & (1 << i) != 0 ? .always(id) : .never(id)
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

    @Test func possibleOutcomesContainTheUnionOverAllWorlds() {
        var checked = 0, uncertainCells = 0, wider = 0
        for seed in UInt64(1)...200 {
            let (model, k) = Self.ruleset(seed: seed)
            let predicted = Self.outcomes(model)
            var union: [String: Set<Verdict>] = [:]
            for bits in 0..<(1 << k) {
                for (cell, outcome) in Self.outcomes(Self.world(model, bits)) {
                    #expect(outcome.kind != .unknown && outcome.kind != .rateLimited, "seed \(seed): a world with every match decided is still uncertain")
                    union[cell, default: []].formUnion(outcome.possible)
                }
            }
            for (cell, outcome) in predicted {
                checked += 1
                let truth = union[cell] ?? []
                if outcome.kind == .unknown || outcome.kind == .rateLimited {
                    uncertainCells += 1
                    #expect(Set(outcome.possible).isSuperset(of: truth), "seed \(seed), \(cell): evaluator says \(outcome), but the \(1 << k) worlds give \(truth.sorted())")
                    if Set(outcome.possible) != truth { wider += 1 }
                } else {
                    #expect([outcome.possible[0]] == truth, "seed \(seed), \(cell): evaluator is certain of \(outcome), the \(1 << k) worlds give \(truth.sorted())")
                }
            }
        }
        print("unknown-union: \(checked) cells of 200 random rulesets compared with all their worlds: \(uncertainCells) uncertain, \(wider) of them listing more outcomes than the worlds give, none missing one")
    }
}
