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

    /// Runs every rule not disabled, concurrently, and returns their findings unsorted.
    public static func run(_ model: OriginModel, profile: Profile, disabled: Set<String> = []) async -> [Finding] {
        await withTaskGroup(of: [Finding].self) { group in
            for rule in rules where !disabled.contains(rule.id) {
                group.addTask { rule.check(model, profile: profile) }
            }
            var all: [Finding] = []
            // Rules build the same remediation text for each of thousands of findings: one copy is kept.
            var shared = SharedText()
            for await findings in group {
                var findings = findings
                shared.share(&findings)
                all += findings
            }
            return all
        }
    }
}
