import Foundation

/// The finished result of an audit: what every reporter renders. Findings are complete
/// (severity, predicted outcome and remediation filled in) and in report order.
public struct AuditReport: Sendable {
    public var toolVersion: String
    public var cdn: String
    public var tlsMode: TLSMode
    public var at: Date
    public var findings: [Finding]
    /// Files that were read and analysed, as shown in reports.
    public var files: [String]
    /// Statements about analysis limits: what was recognised but not analysed, and why.
    public var notes: [String]
    /// How many findings suppressions hid.
    public var suppressedCount: Int
    /// Descriptions of every rule (for SARIF's rule list and the text report's titles).
    public var catalog: RuleCatalog

    public init(toolVersion: String, cdn: String, tlsMode: TLSMode, at: Date, findings: [Finding], files: [String],
                notes: [String] = [], suppressedCount: Int = 0, catalog: RuleCatalog) {
        self.toolVersion = toolVersion
        self.cdn = cdn
        self.tlsMode = tlsMode
        self.at = at
        self.findings = findings
        self.files = files
        self.notes = notes
        self.suppressedCount = suppressedCount
        self.catalog = catalog
    }

    /// Findings per severity, counted in one pass (in place: a large report has tens of thousands).
    public var counts: (error: Int, warning: Int, info: Int) {
        var counts = (error: 0, warning: 0, info: 0)
        for index in findings.indices {
            switch findings[index].severity {
            case .error: counts.error += 1
            case .warning: counts.warning += 1
            case .info: counts.info += 1
            case nil: break
            }
        }
        return counts
    }

    /// The highest severity reported, if any.
    public var worstSeverity: Severity? { findings.compactMap(\.severity).max() }
}

/// The tool's name and version, shown by `--version` and in every report.
public enum ToolInfo {
    public static let name = "originaudit"
    public static let version = "0.1.0"
    public static let informationURI = "https://github.com/originaudit/originaudit"
}
