import Foundation
import Testing
@testable import OriginAuditCore

/// `ConcurrentRuns.map`, the glob's fast match of `*` and a literal end, and the listings a
/// tree remembers until it forgets its resolutions.
@Suite struct RunsAndListingsTests {
    /// Joined in order, whether one run or one per core, at the edges of the runs' sizes.
    @Test(arguments: [0, 1, 511, 512, 513, 5_001])
    func runsJoinAsOneMapDoes(count: Int) {
        let mapped = ConcurrentRuns.map(count: count, minimum: 512) { range in range.map { $0 * 3 + 1 } }
        #expect(mapped == (0..<count).map { $0 * 3 + 1 })
    }

    /// Shell matching of one component by unicode scalars, written plainly (`*`, `?`, literals).
    static func reference(_ pattern: [Unicode.Scalar], _ name: [Unicode.Scalar]) -> Bool {
        guard let first = pattern.first else { return name.isEmpty }
        if first == "*" {
            return (0...name.count).contains { reference(Array(pattern.dropFirst()), Array(name.dropFirst($0))) }
        }
        guard let head = name.first, first == "?" || first == head else { return false }
        return reference(Array(pattern.dropFirst()), Array(name.dropFirst()))
    }

    /// `*` and a literal end, matched on bytes, as scalar matching matches: composed and
    /// decomposed accents apart, case kept, an empty end, an end longer than the name.
    @Test func starAndLiteralEndMatchesAsScalars() {
        let patterns = ["*.conf", "*", "*conf", "*.CONF", "*\u{E9}", "*e\u{301}", "*.conf.bak", "*?", "*.c?nf"]
        let names = ["a.conf", ".conf", "conf", "a.conf.bak", "caf\u{E9}", "cafe\u{301}", "", "x.CONF", "a.conf ", "\u{E9}.conf", "onf"]
        for pattern in patterns {
            for name in names {
                #expect(SourceTree.fnmatch(pattern, name) == Self.reference(Array(pattern.unicodeScalars), Array(name.unicodeScalars)),
                        "\(pattern) \(name)")
            }
        }
    }

    /// A listing is read afresh each time, unless the walk asked for it to be remembered: then
    /// an include glob sees what the walk saw, until the tree forgets its resolutions.
    @Test func aRememberedListingIsReadOnceUntilForgotten() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("originaudit-listing-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        try FileManager.default.createDirectory(at: root.appendingPathComponent("sites"), withIntermediateDirectories: true)
        try Data().write(to: root.appendingPathComponent("sites/b.conf"))
        try Data().write(to: root.appendingPathComponent("sites/a.conf"))
        let tree = SourceTree(root: root)
        let directory = tree.hostPath("/sites")
        #expect(tree.listDirectory(directory) == ["a.conf", "b.conf"])
        try Data().write(to: root.appendingPathComponent("sites/c.conf"))
        #expect(tree.listDirectory(directory) == ["a.conf", "b.conf", "c.conf"], "not remembered: listed afresh")
        #expect(tree.listDirectory(directory, remember: true) == ["a.conf", "b.conf", "c.conf"])
        try Data().write(to: root.appendingPathComponent("sites/d.conf"))
        #expect(tree.glob(tree.hostPath("/sites/*.conf")) == ["a.conf", "b.conf", "c.conf"].map { tree.hostPath("/sites/" + $0) })
        tree.forgetResolutions()
        #expect(tree.listDirectory(directory) == ["a.conf", "b.conf", "c.conf", "d.conf"])
    }
}
