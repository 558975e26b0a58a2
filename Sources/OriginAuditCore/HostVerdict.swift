/// What the CDN will experience for one proxied hostname under the report's TLS mode, derived
/// from the findings that predict a visitor-facing failure and from what the inputs covered.
/// "works" means no finding predicts a failure and every part the verdict needs was analysed;
/// when a part was not, the verdict is `unknown` and says which.
public struct HostVerdict: Sendable, Hashable {
    public enum Status: String, Sendable, Hashable {
        /// No finding predicts a failure, and firewall and web server were both analysed.
        case works
        /// An error-severity finding predicts a failure for this hostname.
        case fails
        /// Only warnings predict a failure (intermittent, soon, with some verifiers).
        case atRisk = "at risk"
        /// Nothing predicts a failure, but a part the verdict depends on was not analysed.
        case unknown
    }

    /// One reason for the verdict: a finding that predicts a failure for this hostname.
    public struct Cause: Sendable, Hashable {
        /// The visitor-facing outcome as the finding predicts it (`522`, `526 (strict)`, `redirect loop`).
        public var predicts: String
        public var severity: Severity
        /// Index of the finding in the report's findings.
        public var finding: Int
        /// Whether the finding is tied to the whole origin (the firewall, a server that will not
        /// start) rather than to a virtual host that serves this name.
        public var originWide: Bool

        public init(predicts: String, severity: Severity, finding: Int, originWide: Bool) {
            self.predicts = predicts
            self.severity = severity
            self.finding = finding
            self.originWide = originWide
        }
    }

    /// The hostname; empty when the configuration names none (the verdict then covers every name).
    public var hostname: String
    public var tlsMode: TLSMode
    public var status: Status
    public var causes: [Cause]
    /// What could not be judged, and why (no firewall ruleset, no virtual host serves the name).
    public var unknowns: [String]
    /// Where the virtual hosts that serve the name start.
    public var servedAt: [SourceLocation]
    /// Indices of findings that leave the outcome open for this hostname (an unmodelled firewall
    /// match, a file that could not be parsed, a value not known statically).
    public var uncertainFindings: [Int] = []

    public init(hostname: String, tlsMode: TLSMode, status: Status, causes: [Cause], unknowns: [String], servedAt: [SourceLocation]) {
        self.hostname = hostname
        self.tlsMode = tlsMode
        self.status = status
        self.causes = causes
        self.unknowns = unknowns
        self.servedAt = servedAt
    }

    /// Whether a predicted outcome is a failure visitors see through the CDN (an HTTP status,
    /// a loop, a site the CDN cannot reach) rather than a consequence elsewhere (wrong client
    /// addresses in logs, key exposure, a browser error on direct access).
    public static func isVisitorFailure(_ predicts: String) -> Bool {
        if predicts.contains("loop") || predicts.contains("unreachable") { return true }
        let scalars = Array(predicts.unicodeScalars)
        var index = 0
        while index + 3 <= scalars.count {
            let window = scalars[index..<index + 3]
            let before = index == 0 ? nil : scalars[index - 1]
            let after = index + 3 < scalars.count ? scalars[index + 3] : nil
            if let first = window.first, first == "4" || first == "5",
               window.allSatisfy({ ("0"..."9").contains($0) }),
               !(before.map { ("0"..."9").contains($0) } ?? false), !(after.map { ("0"..."9").contains($0) } ?? false) {
                return true
            }
            index += 1
        }
        return false
    }
}
