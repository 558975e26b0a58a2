/// Findings of one producer, at most `limit` per file and rule id: the rest are counted and
/// reported as one finding, so a file of a million garbage lines costs memory and report space
/// for its first lines only.
public struct FindingList: Sendable {
    /// Findings kept per file and rule id before the rest are only counted.
    public static let defaultLimit = 100

    static let summaryMarker = " (not shown)"

    public let limit: Int
    public private(set) var kept: [Finding] = []
    private var counts: [String: Int] = [:]
    private var overflow: [String: (first: Finding, count: Int)] = [:]
    private var overflowOrder: [String] = []

    public init(limit: Int = FindingList.defaultLimit) { self.limit = limit }

    public mutating func append(_ finding: Finding) {
        // A count made by an earlier list stays (capping twice must not hide it).
        if finding.key?.hasSuffix(FindingList.summaryMarker) == true { kept.append(finding); return }
        let key = (finding.location?.file ?? "") + "\u{0}" + finding.ruleId
        let seen = counts[key, default: 0]
        counts[key] = seen + 1
        if seen < limit {
            kept.append(finding)
        } else if let existing = overflow[key] {
            overflow[key] = (existing.first, existing.count + 1)
        } else {
            overflow[key] = (finding, 1)
            overflowOrder.append(key)
        }
    }

    public mutating func append(contentsOf findings: some Sequence<Finding>) {
        for finding in findings { append(finding) }
    }

    /// The kept findings, then one finding per file and rule id that counts what was left out.
    public var all: [Finding] {
        kept + overflowOrder.compactMap { key in
            guard let (first, count) = overflow[key] else { return nil }
            let file = first.location?.file ?? "the input"
            return Finding(
                ruleId: first.ruleId,
                message: "\(count) more \(first.ruleId) finding\(count == 1 ? "" : "s") in \(file) \(count == 1 ? "is" : "are") not shown (the first \(limit) are; fix those and run again)",
                location: first.location, severity: first.severity, predicts: first.predicts,
                key: "\(file) \(first.ruleId)" + FindingList.summaryMarker)
        }
    }

    /// `findings` with at most `limit` per file and rule id, in their order.
    public static func capped(_ findings: [Finding], limit: Int = FindingList.defaultLimit) -> [Finding] {
        var list = FindingList(limit: limit)
        list.append(contentsOf: findings)
        return list.all
    }
}
