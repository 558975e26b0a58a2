import Testing
import Foundation
@testable import OriginAuditCore

/// A file in a directory that is not there is known missing without looking again, and every
/// answer about it is the one a lookup would give.
@Suite struct SourceTreeAbsenceTests {
    @Test func filesBelowMissingDirectoriesAndBackOutOfThem() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("originaudit-absence-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        try FileManager.default.createDirectory(at: root.appendingPathComponent("etc/ssl"), withIntermediateDirectories: true)
        try Data("x".utf8).write(to: root.appendingPathComponent("etc/ssl/real.pem"))
        try FileManager.default.createSymbolicLink(atPath: root.appendingPathComponent("etc/linked").path, withDestinationPath: "/etc/gone")
        let tree = SourceTree(root: root)
        for name in ["/etc/nothing/a/b.pem", "/etc/nothing/a/c.pem", "/etc/ssl/missing/site/fullchain.pem", "/etc/ssl/real.pem/inside"] {
            let path = tree.hostPath(name)
            #expect(tree.permissions(path) == nil, "\(name)")
            #expect(!tree.exists(path), "\(name)")
            #expect(tree.isAllowed(path), "\(name)")
            #expect(tree.explainMissing(path) == "does not exist", "\(name)")
            if case .failure(let failure) = tree.read(path) { #expect(failure == .missing || failure == .notAFile, "\(name)") } else { Issue.record("\(name) read") }
        }
        // Climbing out of a missing directory reaches a file that is there.
        let back = tree.hostPath("/etc/nothing/../ssl/real.pem")
        #expect(tree.permissions(back) != nil)
        #expect(tree.exists(tree.hostPath("/etc/ssl/real.pem")))
        // Below a link to a missing directory, the link is named.
        let linked = tree.hostPath("/etc/linked/x/key.pem")
        #expect(tree.permissions(linked) == nil)
        #expect(tree.explainMissing(linked).hasPrefix("is a symbolic link to /etc/gone"), "\(tree.explainMissing(linked))")
    }
}
