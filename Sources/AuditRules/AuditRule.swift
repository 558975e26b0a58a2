import OriginAuditCore

/// A check over the model. Pure: the same model and profile always give the same findings; no
/// I/O, no clock, no global state, so rules run concurrently.
public protocol AuditRule: Sendable {
    /// The catalog id (DESIGN.md §5) of every finding this rule produces.
    var id: String { get }
    func check(_ model: OriginModel, profile: Profile) -> [Finding]
}

/// The rules that run over the model, and the ids that the input pipeline emits itself.
public enum RuleRegistry {
    /// Every rule that runs over the model, by domain.
    public static let rules: [any AuditRule] = FirewallRules.all + WebServerRules.all + CertificateRules.all + OriginRules.all

    /// Ids produced while reading inputs rather than by a rule over the model (parse errors,
    /// missing includes, certificate files that do not load, …).
    public static let emittedByInputs: Set<String> = InputDiagnostics.ids

    /// Every id that this build can report.
    public static var implementedIds: Set<String> { Set(rules.map(\.id)).union(emittedByInputs) }

    /// The rules that take longest on a large estate (one finding for each of thousands of hosts,
    /// limiters or certificate references), longest first: started first, they run side by side
    /// while the short rules fill the other core, instead of two of them starting last and one
    /// finishing alone. Only when the rules start changes: their findings are sorted afterwards.
    static let longest = [
        "origin.deny-blocks-cdn", "origin.per-ip-limit-on-cdn", "tls.cert-missing", "tls.no-shared-cipher",
        "tls.hostname-mismatch", "tls.chain-incomplete", "origin.timeout-exceeds-cdn", "origin.redirect-loop",
        "origin.realip-incomplete", "origin.tls-listener-missing", "origin.http-listener-missing", "origin.unproxied-port",
    ]

    static func longestFirst(_ rules: [any AuditRule]) -> [any AuditRule] {
        let rank = Dictionary(uniqueKeysWithValues: longest.enumerated().map { ($1, $0) })
        return rules.enumerated().sorted { a, b in
            (rank[a.element.id] ?? longest.count, a.offset) < (rank[b.element.id] ?? longest.count, b.offset)
        }.map(\.element)
    }

    /// Runs every rule not disabled, concurrently, and returns their findings unsorted; with a
    /// catalog, each rule's findings completed from it (`RuleCatalog.complete`) as the rule ends.
    public static func run(_ model: OriginModel, profile: Profile, disabled: Set<String> = [], completing catalog: RuleCatalog? = nil) async -> [Finding] {
        let enabled = rules.filter { !disabled.contains($0.id) }
        await SharedResults.prepare(model, profile, ruleIds: Set(enabled.map(\.id)))
        return await withTaskGroup(of: [Finding].self) { group in
            for rule in longestFirst(enabled) {
                group.addTask {
                    var findings = rule.check(model, profile: profile)
                    // A rule builds the same remediation text for each of thousands of findings:
                    // one copy is kept (done here, on the rule's own core, rather than after all).
                    var shared = SharedText()
                    shared.share(&findings)
                    catalog?.complete(&findings)
                    return findings
                }
            }
            var all: [Finding] = []
            for await findings in group { all += findings }
            return all
        }
    }
}
