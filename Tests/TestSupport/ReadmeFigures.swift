import Foundation
import Testing

/// The figures README.md states about the tests ("56 rulesets", "33 scenarios"), each marked in
/// the Markdown as `<!--fig:NAME-->56`. The test that produces a figure compares its own count
/// with the README's, so a case deleted, added or skipped fails the run until the README says
/// so: the README cannot drift from what the tests check.
public enum ReadmeFigures {
    /// Every marked figure in README.md, by name.
    public static let all: [String: Int] = {
        let url = TestTools.packageRoot.appendingPathComponent("README.md")
        guard let text = try? String(contentsOf: url, encoding: .utf8) else { return [:] }
        var figures: [String: Int] = [:]
        var rest = Substring(text)
        while let start = rest.range(of: "<!--fig:") {
            rest = rest[start.upperBound...]
            guard let end = rest.range(of: "-->") else { break }
            let name = String(rest[..<end.lowerBound])
            rest = rest[end.upperBound...]
            let digits = rest.prefix { $0.isNumber || $0 == "," }.filter(\.isNumber)
            if let value = Int(digits) { figures[name] = value }
        }
        return figures
    }()

    /// The figure README.md states under `name`; a missing marker is a failure (and -1).
    public static func value(_ name: String, sourceLocation: SourceLocation = #_sourceLocation) -> Int {
        guard let value = all[name] else {
            Issue.record("README.md states no figure <!--fig:\(name)-->N", sourceLocation: sourceLocation)
            return -1
        }
        return value
    }
}
