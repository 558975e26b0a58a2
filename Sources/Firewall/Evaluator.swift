import Foundation
import OriginAuditCore

/// A rule or chain policy that decided (or made uncertain) what happens to some traffic.
public struct RuleReference: Hashable, Sendable, Codable, CustomStringConvertible {
    public var location: SourceLocation
    /// `filter INPUT` (iptables) or `inet filter input` (nftables).
    public var chain: String
    /// The rule as written, or `policy DROP`.
    public var text: String

    public init(location: SourceLocation, chain: String, text: String) {
        self.location = location
        self.chain = chain
        self.text = text
    }

    public var description: String { "\(location) [\(chain)] \(text)" }
}

/// What finally happens to a TCP SYN (DESIGN.md §3).
public enum OutcomeKind: String, Sendable, Codable, Hashable, Comparable {
    case accept, drop, reject, unknown
    case rateLimited = "rate-limited"

    /// Ordered from best (accept) to worst (drop) for the CDN.
    public static func < (a: OutcomeKind, b: OutcomeKind) -> Bool { a.rank < b.rank }
    private var rank: Int {
        switch self {
        case .accept: 0
        case .rateLimited: 1
        case .unknown: 2
        case .reject: 3
        case .drop: 4
        }
    }
}

/// The outcome for part of the probe space: a definite verdict, or (unknown / rate-limited) the
/// verdicts the packet may get depending on what the evaluator could not decide.
public struct Outcome: Hashable, Sendable, Codable, CustomStringConvertible {
    public var kind: OutcomeKind
    /// For `reject`: the reply (`tcp-reset`, `icmp-port-unreachable`, …).
    public var rejectWith: String?
    /// Every verdict the packet may get (one for a definite outcome).
    public var possible: [Verdict]

    /// Every reading lets the packet in: what "the CDN is allowed" must satisfy (pessimistic reading).
    public var certainlyAccepted: Bool { kind == .accept }
    /// Some reading lets the packet in; an unmodelled target might too.
    public var possiblyAccepted: Bool { kind == .unknown || possible.contains(.accept) }

    /// The outcome of a verdict every reading agrees on.
    public static func definite(_ verdict: Verdict) -> Outcome {
        switch verdict {
        case .accept: Outcome(kind: .accept, possible: [verdict])
        case .drop: Outcome(kind: .drop, possible: [verdict])
        case .reject(let type): Outcome(kind: .reject, rejectWith: type, possible: [verdict])
        }
    }

    public var description: String {
        switch kind {
        case .accept: "accept"
        case .drop: "drop"
        case .reject: "reject (\(rejectWith ?? "?"))"
        case .unknown: possible.isEmpty ? "unknown (any outcome)" : "unknown (\(possible.map(\.description).joined(separator: " or ")))"
        case .rateLimited: "rate-limited (\(possible.map(\.description).joined(separator: " or ")))"
        }
    }
}

/// How an outcome came about.
public struct Decision: Hashable, Sendable, Codable {
    public var outcome: Outcome
    /// The rule whose verdict is final; for unknown / rate-limited, the first rule that made it so.
    public var decidedBy: RuleReference
    /// Jumps and earlier base chains' accepts that led to `decidedBy`.
    public var path: [RuleReference]
    /// Rules with unmodelled matches or rate limits on the way.
    public var uncertainBecause: [RuleReference]
    /// The DNAT rule that sent the traffic to the forward hook (Docker's published ports).
    public var dnat: RuleReference?
    /// For unknown / rate-limited outcomes: what decides when none of the uncertain rules applies.
    public var otherwise: RuleReference?
    /// When the public interface is not known and the interfaces the rules distinguish get
    /// different outcomes: the outcome on each (the decision is then `unknown`, their union).
    public var byInterface: [InterfaceDecision] = []
    /// The probe met more uncertain matches than are tried in every combination: `outcome.possible`
    /// holds every outcome the kernel may give, and possibly some no combination gives.
    public var outcomesAreUpperBound = false
}

/// The outcome for SYNs arriving on one class of interfaces, to one class of the origin's
/// possible addresses (DESIGN.md §3, interfaces and destinations).
public struct InterfaceDecision: Hashable, Sendable, Codable {
    /// `enp1s0`, `wan* (other than those named)`, `any other interface`.
    public var interface: String
    /// `203.0.113.5`, `other addresses`; nil when the destination makes no difference.
    public var destination: String? = nil
    public var outcome: Outcome
    public var decidedBy: RuleReference
}

/// Addresses of the origin that behave alike in every `-d` / `ip daddr` rule of the input path:
/// one representative, and how reports call them.
public struct DestinationClass: Hashable, Sendable {
    /// nil: not known and not told apart (such rules stay uncertain).
    public var address: UInt128?
    public var label: String
}

/// Interfaces that behave alike in every rule: one representative name, and how reports call them.
public struct InterfaceClass: Hashable, Sendable {
    /// A name the rules treat like every other member (possibly synthetic for "any other").
    public var name: String
    public var label: String
}

/// One cell of the partition: these sources to these ports get this decision.
public struct OutcomePart: Sendable, Hashable {
    public var family: AddressFamily
    public var sources: AddressSet
    public var ports: PortSet
    public var decision: Decision
}

/// An accept rule that some of the sources it names never reach.
public struct ShadowedAccept: Sendable, Hashable {
    public var rule: RuleReference
    public var family: AddressFamily
    public var sources: AddressSet
    public var ports: PortSet
    public var shadowedBy: Decision
}

/// Computes, for sets of source addresses × TCP × destination ports, the partition of that space
/// by final outcome (DESIGN.md §3). Everything is done on interval sets: each base chain is
/// flattened (jumps, gotos and RETURNs become source-set constraints), then one sweep over all
/// rule boundaries finds the first matching rule for every address interval at once.
public struct FirewallEvaluator: Sendable {
    public let model: FirewallModel
    /// The interfaces the CDN's SYN may arrive on, as patterns (`eth0`, `eth+`, `wan*`). Empty:
    /// not known; then every interface except `lo` and container bridges (`docker0`, `br-*`,
    /// `veth*`, …) may be it, and where the rules tell such interfaces apart the outcome is
    /// computed for each class of them (`Decision.byInterface`), never assumed.
    public let publicInterfaces: [String]
    /// The origin's own addresses the CDN connects to (`--origin-address`, live mode's). Empty:
    /// not known; then where `-d`/`ip daddr` rules of the input path tell addresses apart, the
    /// outcome is computed for each class of them (`Decision.byInterface`), never assumed.
    public let originAddresses: [IPAddress]

    /// Base chains already flattened and swept, shared by every question asked of this
    /// evaluator (and of its copies): several rules evaluate the same chains at the same ports.
    let segmentationCache = ComputeOnce<SegmentationCache.Key, ChainSegmentation>()
    /// Each family's interface classes, port cuts and destination classes, found once: each
    /// walks every rule, and every question asks for them. Keyed by family alone: the public
    /// interfaces and origin addresses they depend on are fixed when the evaluator is made.
    let interfaceClassCache = ComputeOnce<AddressFamily, [InterfaceClass]>()
    let portCutCache = ComputeOnce<AddressFamily, Set<UInt16>>()
    let destinationClassCache = ComputeOnce<AddressFamily, [DestinationClass]>()
    /// The sweeps behind `segmentationCache`, each kept once however many ports share it.
    let sweptChains = SweptChains()

    /// Source ports of probes: Linux's default ephemeral range (the CDN's stack is Linux too).
    static let ephemeralPorts = PortSet(32768...60999)

    public init(model: FirewallModel, publicInterfaces: [String] = [], originAddresses: [IPAddress] = []) {
        self.model = model
        self.publicInterfaces = publicInterfaces.map(FirewallEvaluator.pattern)
        self.originAddresses = originAddresses
    }

    /// Probes arriving on exactly one interface (`nil`: not known).
    public init(model: FirewallModel, inInterface: String?, originAddresses: [IPAddress] = []) {
        self.init(model: model, publicInterfaces: inInterface.map { [$0] } ?? [], originAddresses: originAddresses)
    }

    /// A name pattern in iptables' spelling: nft's `wan*` is `wan+`.
    static func pattern(_ text: String) -> String { text.hasSuffix("*") ? String(text.dropLast()) + "+" : text }

    static func interfaceMatches(_ pattern: String, _ name: String) -> Bool {
        pattern.hasSuffix("+") ? name.hasPrefix(pattern.dropLast()) : pattern == name
    }

    /// Names a CDN's SYN never arrives on when the public interface is not given.
    static let containerInterfaces = ["docker", "br-", "veth", "virbr", "cni", "lxc", "lxd", "incusbr", "podman", "cali", "flannel", "kube", "vxlan", "weave"]

    /// Whether `name` may be the public interface.
    func mayBePublic(_ name: String) -> Bool {
        if !publicInterfaces.isEmpty { return publicInterfaces.contains { FirewallEvaluator.interfaceMatches($0, name) } }
        return name != "lo" && !FirewallEvaluator.containerInterfaces.contains { name.hasPrefix($0) }
    }

    /// The classes of possible public interfaces that the family's rules tell apart: two names in
    /// one class match exactly the same `-i`/`iifname` patterns. One class when the rules do not
    /// depend on which (possible) public interface the SYN arrives on.
    public func interfaceClasses(_ family: AddressFamily) -> [InterfaceClass] {
        interfaceClassCache.value(family) { findInterfaceClasses(family) }
    }

    private func findInterfaceClasses(_ family: AddressFamily) -> [InterfaceClass] {
        var patterns: Set<String> = []
        for table in model.tables where table.family.applies(to: family) {
            for chain in table.chains {
                for rule in chain.rules {
                    for match in rule.matches { if case .interface(true, let names, _) = match { patterns.formUnion(names) } }
                }
            }
        }
        let boundary = publicInterfaces.isEmpty ? ["lo"] + FirewallEvaluator.containerInterfaces.map { $0 + "+" } : publicInterfaces
        let all = patterns.union(boundary).sorted()
        let exact = all.filter { !$0.hasSuffix("+") }
        let stems = all.filter { $0.hasSuffix("+") }.map { String($0.dropLast()) }
        // Every signature is met by a named interface, a stem followed by a character no rule
        // names, or a name no rule names at all.
        var candidates = exact.map { InterfaceClass(name: $0, label: $0) }
        candidates += stems.filter { !$0.isEmpty }.map { InterfaceClass(name: $0 + "\u{1}", label: "other \($0)* interfaces") }
        candidates.append(InterfaceClass(name: "\u{1}", label: "any other interface"))
        var seen: Set<[Bool]> = []
        var classes: [InterfaceClass] = []
        for candidate in candidates where mayBePublic(candidate.name) {
            let signature = patterns.sorted().map { FirewallEvaluator.interfaceMatches($0, candidate.name) }
            if seen.insert(signature).inserted { classes.append(candidate) }
        }
        if classes.count == 1 || classes.isEmpty { return [classes.first ?? candidates.last!] }
        return classes
    }

    /// Destination sets that may or may not hold the origin's address: the ordinary part of every
    /// literal `-d` / `ip daddr` set of the family's rules that neither holds no ordinary address
    /// nor all of them.
    func destinationSets(_ family: AddressFamily) -> [AddressSet] {
        let special = AddressSet(family: family, cidrs: Run.specialDestinations)
        var sets: Set<AddressSet> = []
        for table in model.tables where table.family.applies(to: family) {
            for chain in table.chains {
                for rule in chain.rules {
                    for match in rule.matches {
                        guard case .address(.destination, .literal(let literal), _) = match else { continue }
                        let ordinary = literal[family].subtracting(special)
                        if !ordinary.isEmpty && !ordinary.union(special).isAll { sets.insert(ordinary) }
                    }
                }
            }
        }
        return sets.sorted { ($0.intervals.ranges.first?.lowerBound ?? 0) < ($1.intervals.ranges.first?.lowerBound ?? 0) }
    }

    /// Most classes of destinations computed separately; past it such rules stay uncertain.
    static let maxDestinationClasses = 8

    /// The classes of the origin's possible addresses that the family's `-d` rules tell apart:
    /// the given origin addresses, or else every region of addresses those rules cut the space
    /// into. One class (possibly "not known") when the rules do not depend on it.
    public func destinationClasses(_ family: AddressFamily) -> [DestinationClass] {
        destinationClassCache.value(family) { computeDestinationClasses(family) }
    }

    func computeDestinationClasses(_ family: AddressFamily) -> [DestinationClass] {
        let sets = destinationSets(family)
        func signature(_ address: UInt128) -> [Bool] { sets.map { $0.intervals.contains(address) } }
        let given = originAddresses.filter { $0.family == family }
        if !given.isEmpty {
            var seen: Set<[Bool]> = []
            let classes = given.filter { seen.insert(signature($0.value)).inserted }.map { DestinationClass(address: $0.value, label: $0.description) }
            return classes
        }
        guard !sets.isEmpty else { return [DestinationClass(address: nil, label: "any address")] }
        let special = AddressSet(family: family, cidrs: Run.specialDestinations)
        // Elementary regions between every boundary of the sets.
        var cuts: Set<UInt128> = [0]
        for set in sets + [special] {
            for range in set.intervals.ranges {
                cuts.insert(range.lowerBound)
                if range.upperBound < family.maxValue { cuts.insert(range.upperBound + 1) }
            }
        }
        let starts = cuts.sorted()
        var regions: [[Bool]: [ClosedRange<UInt128>]] = [:]
        var order: [[Bool]] = []
        for (i, start) in starts.enumerated() {
            let end = i + 1 < starts.count ? starts[i + 1] - 1 : family.maxValue
            if special.intervals.contains(start) { continue }
            let key = signature(start)
            if regions[key] == nil { order.append(key) }
            regions[key, default: []].append(start...end)
        }
        guard order.count <= FirewallEvaluator.maxDestinationClasses else { return [DestinationClass(address: nil, label: "any address")] }
        // The regions the rules name first, then every other address.
        return (order.filter { $0.contains(true) } + order.filter { !$0.contains(true) }).map { key in
            let addresses = AddressSet(family: family, ranges: regions[key]!)
            let first = addresses.intervals.ranges[0]
            let label = !key.contains(true) ? "other addresses"
                : addresses.intervals.ranges.count == 1 && first.lowerBound == first.upperBound
                ? IPAddress(family: family, value: first.lowerBound).description : addresses.summary(limit: 4)
            return DestinationClass(address: first.lowerBound, label: label)
        }
    }

    /// The partition of `sources` × `ports` (both families) by outcome.
    public func evaluate(sources: DualStackSet, ports: PortSet) -> [OutcomePart] {
        AddressFamily.allCases.flatMap { family in
            sources[family].isEmpty ? [] : evaluate(family: family, sources: sources[family], ports: ports)
        }
    }

    /// The partition for one family.
    public func evaluate(family: AddressFamily, sources: AddressSet, ports: PortSet) -> [OutcomePart] {
        var run = Run(evaluator: self, family: family)
        return run.partition(sources: sources, ports: ports)
    }

    /// Accept rules on the input path that name some of `sources` explicitly but are never reached
    /// by them, because an earlier rule drops or rejects them.
    public func shadowedAccepts(sources: DualStackSet, ports: PortSet) -> [ShadowedAccept] {
        AddressFamily.allCases.flatMap { family -> [ShadowedAccept] in
            guard !sources[family].isEmpty else { return [] }
            var run = Run(evaluator: self, family: family)
            return run.shadowed(sources: sources[family], ports: ports)
        }
    }

    /// One decision from the decisions of every interface class: theirs when they agree on the
    /// outcome; otherwise `unknown` with the union of their possible verdicts and each class's outcome.
    static func combine(_ decisions: [Decision], _ classes: [(interface: InterfaceClass, destination: DestinationClass)]) -> Decision {
        guard let first = decisions.first, decisions.contains(where: { $0.outcome != first.outcome }) else { return decisions[0] }
        // An outcome that may be anything (an unmodelled target) makes the union anything.
        let open = decisions.contains { $0.outcome.kind == .unknown && $0.outcome.possible.isEmpty }
        let possible = open ? [] : Set(decisions.flatMap(\.outcome.possible)).sorted()
        var uncertain: [RuleReference] = []
        for decision in decisions {
            for reference in decision.uncertainBecause where !uncertain.contains(reference) { uncertain.append(reference) }
        }
        var combined = Decision(outcome: Outcome(kind: .unknown, possible: possible), decidedBy: first.decidedBy, path: [],
                                uncertainBecause: uncertain, dnat: decisions.compactMap(\.dnat).first, otherwise: nil,
                                byInterface: zip(classes, decisions).map {
                                    InterfaceDecision(interface: $0.interface.label, destination: $0.destination.address == nil ? nil : $0.destination.label,
                                                      outcome: $1.outcome, decidedBy: $1.decidedBy)
                                })
        combined.outcomesAreUpperBound = decisions.contains { $0.outcomesAreUpperBound }
        return combined
    }

    /// Base chains on the input path of a family, in the order the kernel runs them.
    func pipeline(_ family: AddressFamily) -> (prerouting: [(Int, Int)], input: [(Int, Int)], forward: [(Int, Int)]) {
        var pre: [(Int, Int, Int)] = [], input: [(Int, Int, Int)] = [], forward: [(Int, Int, Int)] = []
        for (t, table) in model.tables.enumerated() where table.family.applies(to: family) {
            for (c, chain) in table.chains.enumerated() {
                guard let hook = chain.hook else { continue }
                switch hook {
                case .prerouting: pre.append((chain.priority, t, c))
                case .input where chain.type != "nat": input.append((chain.priority, t, c))
                case .forward: forward.append((chain.priority, t, c))
                default: break
                }
            }
        }
        func order(_ list: [(Int, Int, Int)]) -> [(Int, Int)] {
            list.enumerated().sorted { ($0.element.0, $0.offset) < ($1.element.0, $1.offset) }.map { ($0.element.1, $0.element.2) }
        }
        return (order(pre), order(input), order(forward))
    }
}

/// How sure a flattened entry is to match the addresses it names.
enum Certainty: Int, Comparable {
    case always = 0, rateLimited = 1, unknown = 2
    static func < (a: Certainty, b: Certainty) -> Bool { a.rawValue < b.rawValue }
}

/// What a flattened entry does.
enum Terminal: Hashable {
    case verdict(Verdict)
    case dnat(UInt16?)
    case unknown(String)
}

/// Where an entry's sources start or stop, in the sweep: ordered by address (then entry).
struct Boundary: Comparable {
    var position: UInt128
    var entry: Int

    static func < (a: Boundary, b: Boundary) -> Bool { (a.position, a.entry) < (b.position, b.entry) }
}

/// One rule of a base chain after jumps are inlined: the sources it decides for, and how.
struct FlatEntry: Equatable {
    var sources: AddressSet
    var certainty: Certainty
    var terminal: Terminal
    var rule: RuleReference
    var path: [RuleReference]
    var uncertainBecause: [RuleReference]
}

/// A chain's result on one address interval: the first certain entry, and uncertain ones before it.
struct ChainDecision: Hashable {
    var definite: Int
    var maybes: [Int]
}

/// The flattened entries of one base chain with its sweep result.
struct ChainSegmentation {
    var entries: [FlatEntry]
    var decisions: [ChainDecision]
    /// Sorted starts of segments; segment i covers starts[i] ..< starts[i+1] with decisions[ids[i]].
    /// (Kept for every chain swept, as long as the evaluator: at their exact size, ids in 32 bits.)
    var starts: [UInt128]
    var ids: [Int32]
    /// Which sweep this is, unique per evaluator (`SweptChains`): equal ids, equal segmentations.
    var id = 0
}

extension FirewallEvaluator {
    struct Run {
        let evaluator: FirewallEvaluator
        let family: AddressFamily
        /// The interface the probe arrives on: a representative of one interface class.
        var interface: String
        /// The origin's address the probe goes to: a representative of one destination class (nil: not known).
        var destination: UInt128?
        var resolvedSets: [String: (AddressSet, Bool)] = [:]
        /// Rules compiled for concrete walks (`exactDecision`), by where they are and what they were compiled for.
        var walkRules: [WalkRuleKey: WalkRule?] = [:]
        /// Rules the concrete walks of this question may still walk.
        var walkStepsLeft = Run.maxWalkStepsPerRun
        static let maxEntries = 2_000_000
        static let maxDepth = 64

        init(evaluator: FirewallEvaluator, family: AddressFamily, interface: String? = nil) {
            self.evaluator = evaluator
            self.family = family
            self.interface = interface ?? evaluator.interfaceClasses(family)[0].name
            self.destination = evaluator.destinationClasses(family)[0].address
        }

        /// Every (interface class, destination class) pair the family's rules tell apart.
        func classes() -> [(interface: InterfaceClass, destination: DestinationClass)] {
            let destinations = evaluator.destinationClasses(family)
            return evaluator.interfaceClasses(family).flatMap { interfaceClass in destinations.map { (interfaceClass, $0) } }
        }

        var model: FirewallModel { evaluator.model }

        /// What decides when no base chain is on the input path (the packet is accepted).
        var noRule: RuleReference {
            RuleReference(location: SourceLocation(file: model.files.first ?? ""), chain: "-", text: "no base chain on the input path")
        }

        // MARK: port atoms

        /// Splits the probe ports into pieces every rule treats alike.
        func portAtoms(_ ports: PortSet) -> [PortSet] {
            let cuts = evaluator.portCutCache.value(family) { portCuts() }
            var atoms: [PortSet] = []
            for range in ports.ranges {
                var low = range.lowerBound
                let inside = cuts.filter { $0 > range.lowerBound && $0 <= range.upperBound }.sorted()
                for cut in inside {
                    atoms.append(PortSet(low...(cut - 1)))
                    low = cut
                }
                atoms.append(PortSet(low...range.upperBound))
            }
            return atoms
        }

        /// Every port where some rule's destination ports start or end.
        private func portCuts() -> Set<UInt16> {
            var cuts: Set<UInt16> = []
            func addCuts(_ set: PortSet) {
                for range in set.ranges {
                    cuts.insert(range.lowerBound)
                    if range.upperBound < UInt16.max { cuts.insert(range.upperBound + 1) }
                }
            }
            for table in model.tables where table.family.applies(to: family) {
                for chain in table.chains {
                    for rule in chain.rules {
                        for match in rule.matches { if case .port(.destination, let set, _) = match { addCuts(set) } }
                        if case .dnat(let port?) = rule.action { cuts.insert(port); if port < UInt16.max { cuts.insert(port + 1) } }
                    }
                }
            }
            for set in model.ipsets.values { for entry in set.addressPorts { addCuts(entry.ports) } }
            for table in model.tables where table.backend == .nftables {
                for set in table.sets.values { for entry in set.addressPorts { addCuts(entry.ports) } }
            }
            return cuts
        }

        // MARK: compiling one rule

        func reference(_ rule: FirewallRule, table: FirewallTable, chain: FirewallChain) -> RuleReference {
            RuleReference(location: rule.location, chain: "\(table.displayName) \(chain.name)", text: rule.text)
        }

        func policyReference(table: FirewallTable, chain: FirewallChain) -> RuleReference {
            RuleReference(location: chain.policyLocation, chain: "\(table.displayName) \(chain.name)",
                          text: "policy \(chain.policy == .accept ? "ACCEPT" : "DROP")\(table.backend == .nftables ? " (\(chain.policy))" : "")")
        }

        /// The addresses of a named set for this family, and whether its contents are known.
        mutating func resolve(_ name: String, table: FirewallTable, port: UInt16, depth: Int = 0) -> (AddressSet, Bool) {
            let cacheKey = "\(table.backend.rawValue)\u{1F}\(table.displayName)\u{1F}\(name)\u{1F}\(name.hasSuffix(",port") ? port : 0)"
            if let cached = resolvedSets[cacheKey] { return cached }
            var result: (AddressSet, Bool) = (AddressSet.all(family), false)
            if table.backend == .nftables {
                if let set = table.sets[name], set.type.hasSuffix("_addr"), !set.type.contains(" . ") {
                    result = (set.addresses[family], !set.hasUnknownEntries)
                } else if name.hasSuffix(",port"), let set = table.sets[String(name.dropLast(5))],
                          set.type.hasSuffix(" . inet_service") || set.type.hasPrefix("inet_service . ") {
                    // `ip saddr . tcp dport @pairs` (or port first): the addresses paired with this port.
                    let matching = set.addressPorts.filter { $0.ports.contains(port) }
                    result = (AddressSet(family: family, ranges: matching.flatMap { $0.addresses[family].intervals.ranges }), !set.hasUnknownEntries)
                }
            } else {
                let baseName = name.hasSuffix(",port") ? String(name.dropLast(5)) : name
                if let set = model.ipsets[baseName] {
                    if set.type == "list:set" {
                        var union = AddressSet(family: family)
                        var known = depth < 8
                        for member in set.members where depth < 8 {
                            let (addresses, memberKnown) = resolve(name.hasSuffix(",port") ? member + ",port" : member, table: table, port: port, depth: depth + 1)
                            union.formUnion(addresses)
                            known = known && memberKnown
                        }
                        result = (union, known)
                    } else if set.isAddressPortSet {
                        if name.hasSuffix(",port") {
                            let matching = set.addressPorts.filter { $0.tcp && $0.ports.contains(port) }
                            result = (AddressSet(family: family, ranges: matching.flatMap { $0.addresses[family].intervals.ranges }), !set.hasUnknownEntries)
                        }
                    } else {
                        // `src,dst` on a one-dimensional set: the kernel uses the first flag only.
                        result = (set.family == nil || set.family == family ? set.addresses[family] : AddressSet(family: family), !set.hasUnknownEntries)
                    }
                }
            }
            resolvedSets[cacheKey] = result
            return result
        }

        /// Whether the probe's input interface (the class being evaluated) matches a name pattern.
        func inputInterfaceMatches(_ patterns: [String]) -> Bool {
            patterns.contains { FirewallEvaluator.interfaceMatches($0, interface) }
        }

        static let specialDestinations: [CIDR] = ["127.0.0.0/8", "224.0.0.0/4", "255.255.255.255/32", "::1/128", "ff00::/8"].compactMap { CIDR($0) }

        /// What one match of a rule says about the probe.
        enum MatchResult {
            /// Never holds for the probe.
            case never
            /// Holds for these sources (all of them: the match does not depend on the source).
            case sources(AddressSet)
            /// May or may not hold, for every source: how surely (rate limit or unknown).
            case uncertain(Certainty)
        }

        /// One match for the probe (TCP SYN, state NEW, to `port`).
        mutating func evaluate(_ match: Match, table: FirewallTable, hook: Hook, port: UInt16, afterDNAT: Bool,
                               beforeConntrack: Bool) -> MatchResult {
            let all = MatchResult.sources(AddressSet.all(family))
            func holds(_ value: Bool) -> MatchResult { value ? all : .never }
            switch match {
            case .address(let direction, let spec, let negated):
                var set: AddressSet
                var known = true
                switch spec {
                case .literal(let literal): set = literal[family]
                case .named(let name): (set, known) = resolve(name, table: table, port: port)
                }
                if !known { return .uncertain(.unknown) }
                if direction == .source { return .sources(negated ? set.complement() : set) }
                if !afterDNAT, let destination { return holds(set.intervals.contains(destination) != negated) }
                // On the input path the destination is the origin's own address, which the rules do
                // not say: a set holding no ordinary unicast address never matches, one holding all of
                // them always does, any other may or may not hold the address the CDN connects to (a
                // real host's `-d 198.51.100.7 -j ACCEPT` names its address, which may not be the one
                // the CDN uses). After DNAT the destination is the translation's target, which the
                // forward rules name (Docker's `-d 172.17.0.2/32`): any ordinary address is taken for it.
                // (When the origin's address is known, or its class is being evaluated, the set decides, above.)
                let special = AddressSet(family: family, cidrs: Run.specialDestinations)
                let ordinary = set.subtracting(special)
                if ordinary.isEmpty { return holds(negated) }
                if afterDNAT || ordinary.union(special).isAll { return holds(!negated) }
                return .uncertain(.unknown)
            case .proto(let numbers, let negated):
                return holds(numbers.contains(6) != negated)
            case .port(.destination, let set, let negated):
                return holds(set.contains(port) != negated)
            case .port(.source, let set, let negated):
                let ephemeral = FirewallEvaluator.ephemeralPorts
                if set.isSuperset(of: ephemeral) { return holds(!negated) }
                if set.isDisjoint(with: ephemeral) { return holds(negated) }
                return .uncertain(.unknown)
            case .interface(let input, let names, let negated):
                // No output interface on the input path; after DNAT, the container's bridge.
                let matches = input ? inputInterfaceMatches(names) : afterDNAT && hook == .forward
                return holds(matches != negated)
            case .connectionState(let states, let negated):
                let matches = beforeConntrack ? states.contains("invalid") : states.contains("new") || (afterDNAT && states.contains("dnat"))
                return holds(matches != negated)
            case .addressType(let direction, let types, let negated):
                let matches = direction == .destination ? !types.isDisjoint(with: ["LOCAL", "UNICAST"]) : types.contains("UNICAST")
                return holds(matches != negated)
            case .family(let required):
                return holds(required == family)
            case .rateLimit:
                return .uncertain(.rateLimited)
            case .never:
                return .never
            case .always:
                return all
            case .unknown:
                return .uncertain(.unknown)
            }
        }

        /// The sources a rule matches for the probe (TCP SYN, state NEW, to `port`), and how surely.
        /// nil: the rule never matches the probe.
        mutating func compile(_ rule: FirewallRule, table: FirewallTable, hook: Hook, port: UInt16, afterDNAT: Bool,
                              beforeConntrack: Bool = false) -> (AddressSet, Certainty)? {
            var sources = AddressSet.all(family)
            var certainty = Certainty.always
            for match in rule.matches {
                switch evaluate(match, table: table, hook: hook, port: port, afterDNAT: afterDNAT, beforeConntrack: beforeConntrack) {
                case .never: return nil
                case .uncertain(let how): certainty = max(certainty, how)
                case .sources(let set):
                    if set.isAll { continue }
                    sources.formIntersection(set)
                    if sources.isEmpty { return nil }
                }
            }
            return (sources, certainty)
        }

        // MARK: flattening

        struct FlattenState {
            var entries: [FlatEntry] = []
            var truncated = false
        }

        mutating func flatten(tableIndex: Int, chainIndex: Int, port: UInt16, afterDNAT: Bool) -> [FlatEntry] {
            let table = model.tables[tableIndex]
            let chain = table.chains[chainIndex]
            var state = FlattenState()
            let hook = chain.hook ?? .input
            flattenChain(table: table, chain: chain, hook: hook, prefix: AddressSet.all(family), certainty: .always, uncertainBecause: [],
                         path: [], stack: [chain.name], port: port, afterDNAT: afterDNAT, base: chain, state: &state)
            let policy = policyReference(table: table, chain: chain)
            state.entries.append(FlatEntry(sources: AddressSet.all(family), certainty: .always, terminal: .verdict(chain.policy),
                                           rule: policy, path: [], uncertainBecause: []))
            return state.entries
        }

        mutating func flattenChain(table: FirewallTable, chain: FirewallChain, hook: Hook, prefix: AddressSet, certainty: Certainty,
                                   uncertainBecause: [RuleReference], path: [RuleReference], stack: [String], port: UInt16,
                                   afterDNAT: Bool, base: FirewallChain, state: inout FlattenState) {
            var remaining = prefix
            // Addresses a rate-limited or unknown RETURN/goto may have taken away, how surely, and which rules.
            var maybeSkipped = AddressSet(family: family)
            var skipCertainty = Certainty.rateLimited
            var skipBecause: [RuleReference] = []
            func skip(_ sources: AddressSet, _ certainty: Certainty, _ because: [RuleReference]) {
                maybeSkipped.formUnion(sources)
                skipCertainty = max(skipCertainty, certainty)
                for reference in because where !skipBecause.contains(reference) { skipBecause.append(reference) }
            }
            for rule in chain.rules {
                if state.entries.count >= Run.maxEntries {
                    // Too many paths to inline: what is left is unknown, never silently skipped.
                    if !state.truncated {
                        state.truncated = true
                        state.entries.append(FlatEntry(sources: remaining, certainty: .always, terminal: .unknown("ruleset too large to evaluate"),
                                                       rule: reference(rule, table: table, chain: chain), path: path, uncertainBecause: []))
                    }
                    return
                }
                // Connection tracking runs at priority -200 on prerouting: before it, a packet has no state
                // and conntrack/ct state matches see it as INVALID (xt_conntrack, nft_ct).
                let beforeConntrack = hook == .prerouting && base.priority < -200
                guard let (matched, ruleCertainty) = compile(rule, table: table, hook: hook, port: port, afterDNAT: afterDNAT,
                                                             beforeConntrack: beforeConntrack) else { continue }
                let sources = remaining.isAll ? matched : (matched.isAll ? remaining : remaining.intersection(matched))
                if sources.isEmpty { continue }
                let reference = reference(rule, table: table, chain: chain)
                // Addresses a RETURN or goto may have taken away only "maybe" reach this rule.
                var parts: [(AddressSet, Certainty, [RuleReference])] = []
                let combined = max(certainty, ruleCertainty)
                let because = ruleCertainty == .always ? uncertainBecause : uncertainBecause + [reference]
                if maybeSkipped.isEmpty || maybeSkipped.isDisjoint(with: sources) {
                    parts = [(sources, combined, because)]
                } else {
                    parts = [(sources.subtracting(maybeSkipped), combined, because),
                             (sources.intersection(maybeSkipped), max(combined, skipCertainty), because + skipBecause.filter { !because.contains($0) })]
                }
                for (partSources, partCertainty, partBecause) in parts where !partSources.isEmpty {
                    func emit(_ terminal: Terminal) {
                        state.entries.append(FlatEntry(sources: partSources, certainty: partCertainty, terminal: terminal,
                                                       rule: reference, path: path, uncertainBecause: partBecause))
                    }
                    // A rule certain in itself, reached only "maybe" (through an uncertain jump or
                    // after an uncertain RETURN): the packets that do reach it end here, the others
                    // never were in this chain, so no later rule of the chain sees these addresses.
                    // (Certain parts stay for the sweep, which the shadowing analysis reads.)
                    let endsHere = ruleCertainty == .always && partCertainty != .always
                    switch rule.action {
                    case .verdict(let verdict):
                        emit(.verdict(verdict))
                        if endsHere { remaining.subtract(partSources) }
                    case .dnat(let target):
                        emit(.dnat(target))
                        if endsHere { remaining.subtract(partSources) }
                    case .unknown(let what): emit(.unknown(what))
                    case .continue: break
                    case .return:
                        if chain.name == base.name && stack.count == 1 {
                            emit(.verdict(base.policy))
                            if endsHere { remaining.subtract(partSources) }
                        } else if partCertainty == .always || endsHere {
                            remaining.subtract(partSources)
                        } else {
                            skip(partSources, partCertainty, partBecause.isEmpty ? [reference] : partBecause)
                        }
                    case .jump(let target), .goto(let target):
                        let isGoto: Bool
                        if case .goto = rule.action { isGoto = true } else { isGoto = false }
                        if stack.contains(target) || stack.count >= Run.maxDepth {
                            emit(.unknown(stack.contains(target) ? "jump loop through \(target)" : "jumps nested too deep"))
                        } else if let next = table.chain(named: target) {
                            flattenChain(table: table, chain: next, hook: hook, prefix: partSources, certainty: partCertainty,
                                         uncertainBecause: partBecause, path: path + [reference], stack: stack + [target], port: port,
                                         afterDNAT: afterDNAT, base: base, state: &state)
                            if isGoto {
                                if partCertainty == .always || endsHere { remaining.subtract(partSources) } else { skip(partSources, partCertainty, partBecause.isEmpty ? [reference] : partBecause) }
                            }
                        } else {
                            emit(.unknown("missing chain \(target)"))
                        }
                    }
                }
                if remaining.isEmpty { return }
            }
        }

        // MARK: sweep

        /// For every address of the family: the first certain entry and the uncertain ones before it.
        /// The entries' boundaries are met in address order by merging their sorted ranges (one
        /// pending boundary per entry in a heap), not by sorting an array of every boundary: a
        /// 100,000-range set would need 200,000 of them, 6 MB, per chain and port.
        func sweep(_ entries: [FlatEntry]) -> ChainSegmentation {
            let maximum = family.maxValue
            // Entry i's next boundary is the start of range next[i] / 2 when next[i] is even, the
            // address after its end when odd.
            var next = [Int](repeating: 0, count: entries.count)
            var boundaries = MinHeap<Boundary>()
            for (index, entry) in entries.enumerated() where !entry.sources.isEmpty {
                boundaries.push(Boundary(position: entry.sources.intervals.ranges[0].lowerBound, entry: index))
            }
            var active = [Bool](repeating: false, count: entries.count)
            var heap = MinHeap<Int>()
            var maybes: [Int] = []
            var decisions: [ChainDecision] = []
            var decisionIds: [ChainDecision: Int] = [:]
            var starts: [UInt128] = []
            var ids: [Int32] = []
            while let position = boundaries.top?.position {
                while let boundary = boundaries.top, boundary.position == position {
                    boundaries.pop()
                    let index = boundary.entry
                    let ranges = entries[index].sources.intervals.ranges
                    let step = next[index]
                    next[index] = step + 1
                    if step % 2 == 0 {
                        active[index] = true
                        if entries[index].certainty == .always { heap.push(index) } else {
                            let at = maybes.partitionPoint { $0 < index }
                            maybes.insert(index, at: at)
                        }
                        let upper = ranges[step / 2].upperBound
                        if upper < maximum { boundaries.push(Boundary(position: upper + 1, entry: index)) }
                    } else {
                        active[index] = false
                        if entries[index].certainty != .always, let at = maybes.firstIndex(of: index) { maybes.remove(at: at) }
                        if step / 2 + 1 < ranges.count { boundaries.push(Boundary(position: ranges[step / 2 + 1].lowerBound, entry: index)) }
                    }
                }
                while let top = heap.top, !active[top] { heap.pop() }
                guard let definite = heap.top else { continue }
                let decision = ChainDecision(definite: definite, maybes: Array(maybes.prefix { $0 < definite }))
                let id: Int
                if let known = decisionIds[decision] { id = known } else {
                    id = decisions.count
                    decisions.append(decision)
                    decisionIds[decision] = id
                }
                if ids.last == Int32(id) { continue }
                starts.append(position)
                ids.append(Int32(id))
            }
            // Appending leaves up to twice the room needed; the cache keeps these.
            if starts.capacity > starts.count + starts.count / 4 { starts = starts.exactCopy(); ids = ids.exactCopy() }
            return ChainSegmentation(entries: entries, decisions: decisions, starts: starts, ids: ids)
        }

        // MARK: composing base chains

        /// One way a packet can go through the base chains.
        struct Possibility {
            var terminal: Terminal?
            var decidedBy: RuleReference?
            var path: [RuleReference]
            var uncertain: [RuleReference]
            var certainty: Certainty
            var dnat: RuleReference?
        }

        func compose(pre: [(ChainSegmentation, Int)], input: [(ChainSegmentation, Int)], forward: [(ChainSegmentation, Int)]) -> Decision {
            var finished: [Possibility] = []
            func run(_ stages: [(ChainSegmentation, Int)], from start: Int, _ state: Possibility, phase: Int) {
                if start == stages.count {
                    if phase == 0 {
                        if state.dnat != nil { run(forward, from: 0, state, phase: 2) } else { run(input, from: 0, state, phase: 1) }
                    } else {
                        var done = state
                        done.terminal = .verdict(.accept)
                        finished.append(done)
                    }
                    return
                }
                let (segmentation, decisionId) = stages[start]
                let decision = segmentation.decisions[decisionId]
                for index in decision.maybes + [decision.definite] {
                    let entry = segmentation.entries[index]
                    var next = state
                    next.certainty = max(state.certainty, entry.certainty)
                    if entry.certainty != .always { next.uncertain += entry.uncertainBecause.isEmpty ? [entry.rule] : entry.uncertainBecause }
                    switch entry.terminal {
                    case .verdict(.accept):
                        next.path += entry.path + [entry.rule]
                        next.decidedBy = entry.rule
                        run(stages, from: start + 1, next, phase: phase)
                    case .dnat:
                        next.path += entry.path + [entry.rule]
                        next.dnat = entry.rule
                        run(stages, from: start + 1, next, phase: phase)
                    case .verdict, .unknown:
                        next.path += entry.path
                        next.decidedBy = entry.rule
                        next.terminal = entry.terminal
                        if case .unknown = entry.terminal { next.certainty = .unknown; next.uncertain.append(entry.rule) }
                        finished.append(next)
                    }
                }
            }
            run(pre, from: 0, Possibility(terminal: nil, decidedBy: nil, path: [], uncertain: [], certainty: .always, dnat: nil), phase: 0)
            return summarise(finished)
        }

        func summarise(_ possibilities: [Possibility]) -> Decision {
            var verdicts: [Verdict] = []
            var hasUnknownTerminal = false
            for possibility in possibilities {
                switch possibility.terminal {
                case .verdict(let verdict)?: if !verdicts.contains(verdict) { verdicts.append(verdict) }
                default: hasUnknownTerminal = true
                }
            }
            verdicts.sort()
            // The fully certain possibility is the one a definite outcome is explained by.
            let certain = possibilities.last { $0.certainty == .always } ?? possibilities.last!
            let uncertain = possibilities.flatMap(\.uncertain).reduce(into: [RuleReference]()) { if !$0.contains($1) { $0.append($1) } }
            if verdicts.count == 1 && !hasUnknownTerminal {
                let verdict = verdicts[0]
                let outcome = Outcome.definite(verdict)
                return Decision(outcome: outcome, decidedBy: certain.decidedBy ?? noRule, path: certain.path.filter { $0 != certain.decidedBy },
                                uncertainBecause: [], dnat: certain.dnat, otherwise: nil)
            }
            let isUnknown = hasUnknownTerminal || possibilities.contains { $0.certainty == .unknown }
            let first = uncertain.first ?? certain.decidedBy ?? noRule
            // An unmodelled target (NFQUEUE, TARPIT, …) may do anything: no list of verdicts contains it.
            return Decision(outcome: Outcome(kind: isUnknown ? .unknown : .rateLimited, possible: hasUnknownTerminal ? [] : verdicts),
                            decidedBy: first, path: [], uncertainBecause: uncertain, dnat: possibilities.compactMap(\.dnat).first,
                            otherwise: certain.certainty == .always ? certain.decidedBy : nil)
        }

        // MARK: the partition

        /// One base chain flattened and swept for the probe (the current interface class), computed
        /// once per evaluator: what it gives depends on nothing else.
        mutating func segmentation(tableIndex: Int, chainIndex: Int, port: UInt16, afterDNAT: Bool) -> ChainSegmentation {
            let chain = SweptChains.Key(family: family, interface: interface, destination: destination, tableIndex: tableIndex,
                                        chainIndex: chainIndex, afterDNAT: afterDNAT)
            return evaluator.segmentationCache.value(SegmentationCache.Key(chain: chain, port: port)) {
                let entries = flatten(tableIndex: tableIndex, chainIndex: chainIndex, port: port, afterDNAT: afterDNAT)
                return evaluator.sweptChains.segmentation(chain, entries: entries, sweep: sweep)
            }
        }

        mutating func segmentations(port: UInt16) -> (pre: [ChainSegmentation], input: [ChainSegmentation], forward: [ChainSegmentation]) {
            let chains = evaluator.pipeline(family)
            let pre = chains.prerouting.map { segmentation(tableIndex: $0.0, chainIndex: $0.1, port: port, afterDNAT: false) }
            let input = chains.input.map { segmentation(tableIndex: $0.0, chainIndex: $0.1, port: port, afterDNAT: false) }
            // DNAT'd traffic is judged by the forward chains, at the translated port.
            var dnatPort: UInt16?
            var anyDNAT = false
            for segmentation in pre {
                for entry in segmentation.entries { if case .dnat(let target) = entry.terminal { anyDNAT = true; dnatPort = dnatPort ?? target } }
            }
            let forward = anyDNAT ? chains.forward.map { segmentation(tableIndex: $0.0, chainIndex: $0.1, port: dnatPort ?? port, afterDNAT: true) } : []
            return (pre, input, forward)
        }

        mutating func partition(sources: AddressSet, ports: PortSet) -> [OutcomePart] {
            var parts: [OutcomePart] = []
            var index: [Decision: [Int]] = [:]
            let classes = classes()
            // Atoms whose every chain swept to what an earlier atom's did (most ports, for most
            // rules) get that atom's parts, unless one of its decisions needed a concrete walk:
            // the walks are the only part of a decision that reads the port itself.
            var earlier: [(sweeps: [Int], parts: [Int])] = []
            for atom in portAtoms(ports) {
                let port = atom.ranges[0].lowerBound
                // One set of segmentations per interface class, walked together.
                var stages: [(pre: [ChainSegmentation], input: [ChainSegmentation], forward: [ChainSegmentation])] = []
                for (interfaceClass, destinationClass) in classes {
                    interface = interfaceClass.name
                    destination = destinationClass.address
                    stages.append(segmentations(port: port))
                }
                let all = stages.flatMap { $0.pre + $0.input + $0.forward }
                let sweeps = all.map(\.id)
                if let same = earlier.first(where: { $0.sweeps == sweeps }) {
                    for part in same.parts { parts[part].ports.formUnion(atom) }
                    continue
                }
                var walked = false
                // Walk all segmentations together over the probe's intervals, twice: first to find
                // each interval's decision and how many ranges each decision gets, then to fill
                // arrays of exactly that size (grown by appending, a 100,000-range part would keep
                // up to twice its room, and a copy of it while it is trimmed).
                // Decisions are interned per atom: one hash of the chain-decision ids per interval, not of a Decision.
                var decisions: [Decision] = []
                var byDecision: [[ClosedRange<UInt128>]] = []
                var counts: [Int] = []
                var lastHigh: [UInt128] = []
                var memo: [[Int]: Int] = [:]
                var decisionIds: [Decision: Int] = [:]
                var key: [Int] = []
                key.reserveCapacity(all.count)
                for pass in 0..<2 {
                    if pass == 1 {
                        byDecision = counts.map { count in
                            var ranges: [ClosedRange<UInt128>] = []
                            ranges.reserveCapacity(count)
                            return ranges
                        }
                    }
                    var cursors = [Int](repeating: 0, count: all.count)
                    for range in sources.intervals.ranges {
                        var low = range.lowerBound
                        while true {
                            var high = range.upperBound
                            key.removeAll(keepingCapacity: true)
                            for (s, segmentation) in all.enumerated() {
                                var c = cursors[s]
                                while c + 1 < segmentation.starts.count && segmentation.starts[c + 1] <= low { c += 1 }
                                cursors[s] = c
                                key.append(Int(segmentation.ids[c]))
                                if c + 1 < segmentation.starts.count { high = min(high, segmentation.starts[c + 1] - 1) }
                            }
                            let decisionId: Int
                            if let known = memo[key] { decisionId = known } else {
                                var offset = 0
                                func take(_ list: [ChainSegmentation]) -> [(ChainSegmentation, Int)] {
                                    defer { offset += list.count }
                                    return list.enumerated().map { ($0.element, key[offset + $0.offset]) }
                                }
                                var perClass: [Decision] = []
                                for (stage, (interfaceClass, destinationClass)) in zip(stages, classes) {
                                    let preStages = take(stage.pre), inputStages = take(stage.input), forwardStages = take(stage.forward)
                                    var decision = compose(pre: preStages, input: inputStages, forward: forwardStages)
                                    if decision.outcome.kind == .unknown || decision.outcome.kind == .rateLimited {
                                        // Uncertain: the exact union over the worlds of the matches this probe meets.
                                        interface = interfaceClass.name
                                        destination = destinationClass.address
                                        decision = exactDecision(decision, address: low, port: port)
                                        walked = true
                                    }
                                    perClass.append(decision)
                                }
                                let decision = FirewallEvaluator.combine(perClass, classes)
                                if let existing = decisionIds[decision] { decisionId = existing } else {
                                    decisionId = decisions.count
                                    decisionIds[decision] = decisionId
                                    decisions.append(decision)
                                    counts.append(0)
                                    lastHigh.append(0)
                                }
                                memo[key] = decisionId
                            }
                            // Next to the last range of the same decision: one range (the set merges
                            // adjacent ranges anyway, and a large set has hundreds of thousands of pieces).
                            if pass == 0 {
                                if counts[decisionId] == 0 || low == 0 || lastHigh[decisionId] != low - 1 { counts[decisionId] += 1 }
                                lastHigh[decisionId] = high
                            } else if let last = byDecision[decisionId].last, low > 0, last.upperBound == low - 1 {
                                byDecision[decisionId][byDecision[decisionId].count - 1] = last.lowerBound...high
                            } else {
                                byDecision[decisionId].append(low...high)
                            }
                            if high >= range.upperBound { break }
                            low = high + 1
                        }
                    }
                }
                var touched: [Int] = []
                for (slot, decision) in decisions.enumerated() {
                    // Taken out, so that its room is freed as the loop goes: the parts live as
                    // long as the answer, beside the next port's walk.
                    let ranges = byDecision[slot]
                    byDecision[slot] = []
                    let addresses = AddressSet(family: family, ranges: ranges)
                    if let existing = index[decision]?.first(where: { parts[$0].sources == addresses }) {
                        parts[existing].ports.formUnion(atom)
                        touched.append(existing)
                    } else {
                        parts.append(OutcomePart(family: family, sources: addresses, ports: atom, decision: decision))
                        index[decision, default: []].append(parts.count - 1)
                        touched.append(parts.count - 1)
                    }
                }
                if !walked { earlier.append((sweeps, touched)) }
            }
            return parts.sorted { ($0.sources.intervals.ranges.first?.lowerBound ?? 0, $0.ports.ranges.first?.lowerBound ?? 0) < ($1.sources.intervals.ranges.first?.lowerBound ?? 0, $1.ports.ranges.first?.lowerBound ?? 0) }
        }

        /// The input-path segmentations of every interface class (shadowing and allow-lists look at each).
        mutating func inputSegmentations(port: UInt16) -> [ChainSegmentation] {
            classes().flatMap { interfaceClass, destinationClass in
                interface = interfaceClass.name
                destination = destinationClass.address
                return segmentations(port: port).input
            }
        }

        mutating func shadowed(sources: AddressSet, ports: PortSet) -> [ShadowedAccept] {
            var result: [ShadowedAccept] = []
            for atom in portAtoms(ports) {
                let port = atom.ranges[0].lowerBound
                for segmentation in inputSegmentations(port: port) {
                    for (i, entry) in segmentation.entries.enumerated() {
                        guard entry.terminal == .verdict(.accept), !entry.sources.isAll, !entry.sources.isDisjoint(with: sources) else { continue }
                        let named = entry.sources.intersection(sources)
                        // Ranges whose first certain entry comes before this one and does not accept.
                        // Only the segments that overlap the named addresses matter: found by
                        // binary search, so a 100,000-entry set costs a few lookups, not a scan.
                        var blockedRanges: [ClosedRange<UInt128>] = []
                        var blocker: [Int: [ClosedRange<UInt128>]] = [:]
                        let starts = segmentation.starts
                        for range in named.intervals.ranges {
                            // The last segment starting at or before the range's first address.
                            var low = 0, high = starts.count
                            while low < high {
                                let middle = (low + high) / 2
                                if starts[middle] <= range.lowerBound { low = middle + 1 } else { high = middle }
                            }
                            var s = max(0, low - 1)
                            while s < starts.count && starts[s] <= range.upperBound {
                                defer { s += 1 }
                                let d = segmentation.decisions[Int(segmentation.ids[s])].definite
                                guard d < i, segmentation.entries[d].terminal != .verdict(.accept) else { continue }
                                let end = s + 1 < starts.count ? starts[s + 1] - 1 : family.maxValue
                                let clipped = max(starts[s], range.lowerBound)...min(end, range.upperBound)
                                blockedRanges.append(clipped)
                                blocker[d, default: []].append(clipped)
                            }
                        }
                        let shadowed = named.intersection(AddressSet(family: family, ranges: blockedRanges))
                        guard !shadowed.isEmpty else { continue }
                        for (d, ranges) in blocker.sorted(by: { $0.key < $1.key }) {
                            let part = shadowed.intersection(AddressSet(family: family, ranges: ranges))
                            guard !part.isEmpty else { continue }
                            let by = segmentation.entries[d]
                            let verdict: Verdict
                            if case .verdict(let v) = by.terminal { verdict = v } else { verdict = .drop }
                            let decision = Decision(outcome: by.terminal == .verdict(verdict) ? .definite(verdict) : Outcome(kind: .unknown, possible: []),
                                                    decidedBy: by.rule, path: by.path, uncertainBecause: [], dnat: nil, otherwise: nil)
                            if let existing = result.firstIndex(where: { $0.rule == entry.rule && $0.sources == part && $0.shadowedBy == decision }) {
                                result[existing].ports.formUnion(atom)
                            } else {
                                result.append(ShadowedAccept(rule: entry.rule, family: family, sources: part, ports: atom, shadowedBy: decision))
                            }
                        }
                    }
                }
            }
            return result
        }
    }
}

/// Swept base chains by what they were computed for. Rules ask concurrently: the first to ask
/// for a chain computes it, the others wait for its result instead of computing it again.
enum SegmentationCache {
    struct Key: Hashable {
        var chain: SweptChains.Key
        var port: UInt16
    }
}

/// Base chains swept so far, by what they were flattened for except the port: a chain that
/// flattens to the same entries at another port (most ports, for most chains) is swept once and
/// kept once. Shared by the copies of an evaluator; rules ask concurrently.
final class SweptChains: @unchecked Sendable {
    struct Key: Hashable {
        var family: AddressFamily
        var interface: String
        var destination: UInt128?
        var tableIndex: Int
        var chainIndex: Int
        var afterDNAT: Bool
    }

    private let lock = NSLock()
    private var swept: [Key: [ChainSegmentation]] = [:]
    private var made = 0

    /// The sweep of `entries`: one made earlier from equal entries, or `sweep`'s, given a new id.
    func segmentation(_ key: Key, entries: [FlatEntry], sweep: ([FlatEntry]) -> ChainSegmentation) -> ChainSegmentation {
        if let known = lookup(key, entries) { return known }
        var segmentation = sweep(entries)
        lock.lock()
        defer { lock.unlock() }
        if let known = swept[key]?.first(where: { $0.entries == entries }) { return known }
        made += 1
        segmentation.id = made
        swept[key, default: []].append(segmentation)
        return segmentation
    }

    private func lookup(_ key: Key, _ entries: [FlatEntry]) -> ChainSegmentation? {
        lock.lock()
        defer { lock.unlock() }
        return swept[key]?.first { $0.entries == entries }
    }
}

/// A binary min-heap: of entry indices (first matching rule wins: the smallest index), and of
/// range boundaries in the sweep.
struct MinHeap<Element: Comparable> {
    private var items: [Element] = []

    var top: Element? { items.first }

    mutating func push(_ value: Element) {
        items.append(value)
        var child = items.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            if items[parent] <= items[child] { break }
            items.swapAt(parent, child)
            child = parent
        }
    }

    mutating func pop() {
        guard !items.isEmpty else { return }
        items.swapAt(0, items.count - 1)
        items.removeLast()
        var parent = 0
        while true {
            let left = 2 * parent + 1, right = left + 1
            var smallest = parent
            if left < items.count && items[left] < items[smallest] { smallest = left }
            if right < items.count && items[right] < items[smallest] { smallest = right }
            if smallest == parent { break }
            items.swapAt(parent, smallest)
            parent = smallest
        }
    }
}

extension Array {
    /// The same elements in a buffer of their size (`Array(self)` would share this one, room and all).
    func exactCopy() -> [Element] {
        var copy: [Element] = []
        copy.reserveCapacity(count)
        copy.append(contentsOf: self)
        return copy
    }

    /// The first index whose element does not satisfy `belongsBefore` (the array is partitioned by it).
    func partitionPoint(_ belongsBefore: (Element) -> Bool) -> Int {
        var low = 0, high = count
        while low < high {
            let mid = (low + high) / 2
            if belongsBefore(self[mid]) { low = mid + 1 } else { high = mid }
        }
        return low
    }
}

/// An accept rule on the input path that names its sources (an allow-list), with the named set
/// (ipset or nftables set) the sources come from, if any.
public struct AllowList: Sendable, Hashable {
    public var rule: RuleReference
    public var family: AddressFamily
    public var sources: AddressSet
    public var ports: PortSet
    public var setName: String?
    public var setLocation: SourceLocation?
}

extension FirewallEvaluator {
    /// Accept rules on the input path whose sources are restricted (not every address), per family
    /// given in the model, on `ports`. Sources include the constraints of the jumps leading there.
    public func allowLists(ports: PortSet) -> [AllowList] {
        var result: [AllowList] = []
        for family in AddressFamily.allCases where model.families.contains(family) {
            var run = Run(evaluator: self, family: family)
            for atom in run.portAtoms(ports) {
                for segmentation in run.inputSegmentations(port: atom.ranges[0].lowerBound) {
                    for entry in segmentation.entries where entry.terminal == .verdict(.accept) && !entry.sources.isAll {
                        if let existing = result.firstIndex(where: { $0.rule == entry.rule && $0.sources == entry.sources }) {
                            result[existing].ports.formUnion(atom)
                            continue
                        }
                        var list = AllowList(rule: entry.rule, family: family, sources: entry.sources, ports: atom)
                        (list.setName, list.setLocation) = namedSource(of: [entry.rule] + entry.path.reversed())
                        result.append(list)
                    }
                }
            }
        }
        return result
    }

    /// The first named source set among these rules (the accept rule, then the jumps to it).
    func namedSource(of references: [RuleReference]) -> (String?, SourceLocation?) {
        for reference in references {
            for table in model.tables {
                for chain in table.chains {
                    for rule in chain.rules where rule.location == reference.location {
                        for match in rule.matches {
                            guard case .address(.source, .named(let name), false) = match else { continue }
                            let bare = name.hasSuffix(",port") ? String(name.dropLast(5)) : name
                            let location = table.backend == .nftables ? table.sets[bare]?.location : model.ipsets[bare]?.location
                            return (bare, location)
                        }
                    }
                }
            }
        }
        return (nil, nil)
    }

    /// Named sets that rules refer to but no input defined: (rule, set name).
    public func unresolvedSets() -> [(rule: RuleReference, set: String)] {
        var result: [(RuleReference, String)] = []
        for table in model.tables {
            for chain in table.chains {
                for rule in chain.rules {
                    for match in rule.matches {
                        guard case .address(_, .named(let name), _) = match else { continue }
                        let bare = name.hasSuffix(",port") ? String(name.dropLast(5)) : name
                        let known: Bool
                        if table.backend == .nftables {
                            known = table.sets[bare].map { !$0.hasUnknownEntries } ?? false
                        } else if let set = model.ipsets[bare] {
                            known = set.type != "list:set" || set.members.allSatisfy { model.ipsets[$0] != nil }
                        } else {
                            known = false
                        }
                        if !known {
                            result.append((RuleReference(location: rule.location, chain: "\(table.displayName) \(chain.name)", text: rule.text), bare))
                        }
                    }
                }
            }
        }
        return result
    }
}
