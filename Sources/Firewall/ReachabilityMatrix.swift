import OriginAuditCore

/// What `originaudit firewall` prints: every CDN range × every checked port → outcome and the
/// deciding rule, with totals (how many CDN addresses reach each port). Encodable for `--format json`.
public struct ReachabilityMatrix: Sendable, Encodable {
    /// One piece of a cell: some addresses of the range get one outcome.
    public struct Piece: Sendable, Encodable, Hashable {
        /// Minimal CIDRs of the addresses this piece covers.
        public var sources: [String]
        public var outcome: String
        /// For unknown / rate-limited: the verdicts the packet may get.
        public var possible: [String]
        public var decidedBy: RuleReference
        public var path: [RuleReference]
        public var uncertainBecause: [RuleReference]
        public var dnat: RuleReference?
        /// For unknown / rate-limited pieces: what decides when the uncertain rules do not apply.
        public var otherwise: RuleReference?

        /// The outcome's kind, read back from `outcome` (`reject (tcp-reset)` → reject).
        public var kind: OutcomeKind {
            OutcomeKind(rawValue: String(outcome.prefix { $0 != " " })) ?? .unknown
        }
    }

    /// One CDN range on one port (or a run of ports that behave alike).
    public struct Cell: Sendable, Encodable {
        public var range: String
        public var family: AddressFamily
        public var ports: String
        public var pieces: [Piece]
    }

    /// Address counts per outcome for one port (decimal strings: IPv6 counts exceed JSON numbers).
    public struct Total: Sendable, Encodable {
        public var family: AddressFamily
        public var ports: String
        public var addresses: String
        public var byOutcome: [String: String]
        /// How many CDN addresses certainly get through.
        public var accepted: String
    }

    public var cdn: String
    public var ports: String
    public var cells: [Cell]
    public var totals: [Total]
    /// Families for which no ruleset was given (everything is accepted by the absence of a firewall).
    public var unfilteredFamilies: [AddressFamily]

    /// Evaluates the model for the CDN's ranges on `ports` (e.g. `profile.cdn.allPorts`).
    public static func compute(model: FirewallModel, cdn: CDNProfile, ports: PortSet, publicInterfaces: [String] = [], originAddresses: [IPAddress] = []) -> ReachabilityMatrix {
        let evaluator = FirewallEvaluator(model: model, publicInterfaces: publicInterfaces, originAddresses: originAddresses)
        var cells: [Cell] = []
        var totals: [Total] = []
        // A family without a ruleset is reported as not analysed, not as a column of accepts.
        for family in AddressFamily.allCases where model.families.contains(family) {
            let ranges = cdn.ranges[family]
            guard !ranges.isEmpty else { continue }
            let parts = evaluator.evaluate(family: family, sources: ranges, ports: ports)
            // Port groups: the coarsest split of `ports` on which every part is uniform.
            var cuts: Set<UInt16> = []
            for part in parts {
                for range in part.ports.ranges {
                    cuts.insert(range.lowerBound)
                    if range.upperBound < UInt16.max { cuts.insert(range.upperBound + 1) }
                }
            }
            var groups: [PortSet] = []
            for range in ports.ranges {
                var low = range.lowerBound
                for cut in cuts.sorted() where cut > range.lowerBound && cut <= range.upperBound {
                    groups.append(PortSet(low...(cut - 1)))
                    low = cut
                }
                groups.append(PortSet(low...range.upperBound))
            }
            for group in groups {
                let probe = group.ranges[0].lowerBound
                let here = parts.filter { $0.ports.contains(probe) }
                for cidr in ranges.cidrs {
                    let rangeSet = AddressSet(family: family, cidrs: [cidr])
                    var pieces: [Piece] = []
                    for part in here {
                        let inside = part.sources.intersection(rangeSet)
                        guard !inside.isEmpty else { continue }
                        pieces.append(piece(inside, part.decision))
                    }
                    cells.append(Cell(range: cidr.description, family: family, ports: group.portList, pieces: pieces))
                }
                var byOutcome: [String: UInt128] = [:]
                var accepted: UInt128 = 0
                for part in here {
                    let count = part.sources.count
                    byOutcome[part.decision.outcome.kind.rawValue, default: 0] &+= count
                    if part.decision.outcome.certainlyAccepted { accepted &+= count }
                }
                totals.append(Total(family: family, ports: group.portList, addresses: String(ranges.count),
                                    byOutcome: byOutcome.mapValues { String($0) }, accepted: String(accepted)))
            }
        }
        let unfiltered = AddressFamily.allCases.filter { !model.families.contains($0) && !cdn.ranges[$0].isEmpty }
        return ReachabilityMatrix(cdn: cdn.displayName, ports: ports.portList, cells: cells, totals: totals, unfilteredFamilies: unfiltered)
    }

    static func piece(_ sources: AddressSet, _ decision: Decision) -> Piece {
        Piece(sources: sources.cidrs.map(\.description), outcome: decision.outcome.description,
              possible: decision.outcome.possible.map(\.description), decidedBy: decision.decidedBy,
              path: decision.path, uncertainBecause: decision.uncertainBecause, dnat: decision.dnat, otherwise: decision.otherwise)
    }

    /// IPv6 counts as powers of two ("2^96") once they stop being readable; other text unchanged.
    public static func readable(_ text: String) -> String {
        var words = text.split(separator: " ").map(String.init)
        guard let last = words.last, let value = UInt128(last), value > UInt128(UInt32.max) else { return text }
        let exponent = 127 - value.leadingZeroBitCount
        words[words.count - 1] = value == UInt128(1) << UInt128(exponent) ? "2^\(exponent)" : "~2^\(exponent)"
        return words.joined(separator: " ")
    }

    /// The matrix for people: one line per range × port piece, then totals.
    public func renderText() -> String {
        var lines: [String] = ["Firewall reachability for \(cdn), tcp ports \(ports)"]
        let rangeWidth = max(18, (cells.map(\.range.count).max() ?? 0) + 2)
        let portWidth = max(7, (cells.map(\.ports.count).max() ?? 0) + 2)
        func pad(_ text: String, _ width: Int) -> String { text.count >= width ? text + " " : text + String(repeating: " ", count: width - text.count) }
        lines.append(pad("RANGE", rangeWidth) + pad("PORT", portWidth) + pad("OUTCOME", 34) + "DECIDED BY")
        for cell in cells {
            for (index, piece) in cell.pieces.enumerated() {
                let whole = piece.sources == [cell.range]
                var outcome = piece.outcome
                if !whole { outcome += " [" + (piece.sources.count > 3 ? piece.sources.prefix(3).joined(separator: ", ") + " +\(piece.sources.count - 3)" : piece.sources.joined(separator: ", ")) + "]" }
                let decided = "\(piece.decidedBy.location) \(piece.decidedBy.chain): \(piece.decidedBy.text)"
                lines.append(pad(index == 0 ? cell.range : "", rangeWidth) + pad(index == 0 ? cell.ports : "", portWidth) + pad(outcome, 34) + decided)
                if let dnat = piece.dnat { lines.append(String(repeating: " ", count: rangeWidth + portWidth) + "  via DNAT \(dnat.location): \(dnat.text)") }
            }
        }
        lines.append("")
        lines.append("Totals:")
        for total in totals {
            let family = total.family == .ipv4 ? "IPv4" : "IPv6"
            let others = total.byOutcome.filter { $0.key != "accept" }.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }
            lines.append("  tcp/\(total.ports) \(family): \(Self.readable(total.accepted)) of \(Self.readable(total.addresses)) CDN addresses reach it"
                + (others.isEmpty ? "" : "; " + others.map { Self.readable($0) }.joined(separator: ", ")))
        }
        for family in unfilteredFamilies {
            lines.append("  no \(family == .ipv4 ? "IPv4" : "IPv6") ruleset was given: that family was not analysed")
        }
        return lines.joined(separator: "\n") + "\n"
    }
}
