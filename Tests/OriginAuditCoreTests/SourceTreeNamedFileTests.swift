import Testing
import Foundation
@testable import OriginAuditCore

/// `namedFile` answers in one look-up what `permissions`, `isAllowed` and `explainMissing` answer
/// apart, for every kind of path a configuration names.
@Suite struct SourceTreeNamedFileTests {
    /// The three separate answers, as the certificate loader used to ask them.
    static func separately(_ tree: SourceTree, _ path: String) -> SourceTree.NamedFile {
        if let bits = tree.permissions(path) { return .present(permissions: bits) }
        return .absent(allowed: tree.isAllowed(path), reason: tree.explainMissing(path))
    }

    @Test func oneLookUpGivesTheAnswersOfThree() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("originaudit-named-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        let manager = FileManager.default
        try manager.createDirectory(at: root.appendingPathComponent("etc/ssl/site"), withIntermediateDirectories: true)
        try Data("x".utf8).write(to: root.appendingPathComponent("etc/ssl/site/cert.pem"))
        try manager.setAttributes([.posixPermissions: 0o640], ofItemAtPath: root.appendingPathComponent("etc/ssl/site/cert.pem").path)
        try manager.createSymbolicLink(atPath: root.appendingPathComponent("etc/ssl/linked").path, withDestinationPath: "/etc/ssl/site")
        try manager.createSymbolicLink(atPath: root.appendingPathComponent("etc/ssl/gone").path, withDestinationPath: "/etc/nowhere")
        try manager.createSymbolicLink(atPath: root.appendingPathComponent("etc/ssl/site/dangling.pem").path, withDestinationPath: "/etc/ssl/none.pem")
        try manager.createSymbolicLink(atPath: root.appendingPathComponent("etc/ssl/loop").path, withDestinationPath: "/etc/ssl/loop")
        let names = [
            "/etc/ssl/site/cert.pem", "/etc/ssl/linked/cert.pem", "/etc/ssl/site/missing.pem", "/etc/ssl/absent/a/fullchain.pem",
            "/etc/ssl/absent/a/privkey.pem", "/etc/ssl/gone/key.pem", "/etc/ssl/site/dangling.pem", "/etc/ssl/loop",
            "/etc/ssl/site/cert.pem/inside", "/etc/ssl/absent/../site/cert.pem", "/etc//ssl/absent/x.pem", "/etc/ssl/site",
        ]
        // Two trees, so that neither answer comes from what the other remembered.
        let combined = SourceTree(root: root), apart = SourceTree(root: root)
        for name in names {
            let path = combined.hostPath(name)
            #expect(combined.namedFile(path) == Self.separately(apart, path), "\(name)")
        }
        // A directory name that is a plain missing one gives the plain reason; one behind a link names it.
        #expect(combined.namedFile(combined.hostPath("/etc/ssl/absent/a/fullchain.pem")) == .absent(allowed: true, reason: "does not exist"))
        guard case .absent(true, let reason) = combined.namedFile(combined.hostPath("/etc/ssl/gone/key.pem")) else {
            Issue.record("a path below a dangling link is missing and allowed")
            return
        }
        #expect(reason.hasPrefix("is a symbolic link to /etc/nowhere"), "\(reason)")
        #expect(combined.namedFile(combined.hostPath("/etc/ssl/site/cert.pem")) == .present(permissions: 0o640))

        // Outside the root (a path that is not mapped under it) and with no root at all.
        let outside = FileManager.default.temporaryDirectory.appendingPathComponent("originaudit-named-outside-\(UUID().uuidString).pem").path
        #expect(combined.namedFile(outside) == Self.separately(apart, outside))
        guard case .absent(false, _) = combined.namedFile(outside) else {
            Issue.record("a path outside the root is not allowed")
            return
        }
        let unrooted = SourceTree(root: nil), unrootedApart = SourceTree(root: nil)
        for path in [root.appendingPathComponent("etc/ssl/site/cert.pem").path, root.appendingPathComponent("etc/ssl/absent/x.pem").path,
                     root.appendingPathComponent("etc/ssl/site/dangling.pem").path, outside,
                     // Looked at with one lstat when plain: a link on the way, a loop, a file used as a
                     // directory, a missing directory, a link to a directory; `..` and `//` are not plain.
                     root.appendingPathComponent("etc/ssl/linked/cert.pem").path, root.appendingPathComponent("etc/ssl/loop").path,
                     root.appendingPathComponent("etc/ssl/site/cert.pem/inside").path, root.appendingPathComponent("etc/ssl/absent/a/x.pem").path,
                     root.appendingPathComponent("etc/ssl/linked").path, root.appendingPathComponent("etc/ssl/gone/key.pem").path,
                     root.path + "/etc/ssl/absent/../site/cert.pem", root.path + "/etc//ssl/site/cert.pem"] {
            #expect(unrooted.namedFile(path) == Self.separately(unrootedApart, path), "\(path)")
        }
    }

    /// A run of look-ups that remembers the last directory found missing answers every path as
    /// a single look-up does: names in that directory, and paths that only look as if they were
    /// in it (a deeper one, `..`, `.`, a doubled slash, a sibling that shares its name's start).
    @Test func aRunRemembersAMissingDirectoryAsOneLookUpAnswers() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("originaudit-named-run-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        let manager = FileManager.default
        try manager.createDirectory(at: root.appendingPathComponent("etc/ssl/site"), withIntermediateDirectories: true)
        try Data("x".utf8).write(to: root.appendingPathComponent("etc/ssl/site/cert.pem"))
        try manager.createSymbolicLink(atPath: root.appendingPathComponent("etc/ssl/gone").path, withDestinationPath: "/etc/nowhere")
        let names = [
            "/etc/ssl/a.example/fullchain.pem", "/etc/ssl/a.example/privkey.pem", "/etc/ssl/a.example/sub/x.pem",
            "/etc/ssl/a.example/../site/cert.pem", "/etc/ssl/a.example/./x.pem", "/etc/ssl/a.example//x.pem",
            "/etc/ssl/a.example2/x.pem", "/etc/ssl/a.example/x.pem", "/etc/ssl/site/cert.pem", "/etc/ssl/site/missing.pem",
            "/etc/ssl/gone/key.pem", "/etc/ssl/gone/other.pem", "/etc/ssl/b.example/fullchain.pem", "/etc/ssl/b.example/privkey.pem",
        ]
        let run = SourceTree(root: root), single = SourceTree(root: root)
        var absentDirectory: String?
        var remembered = 0
        for name in names {
            // As written (not normalised): `..`, `.` and `//` reach the look-up as they are.
            let path = root.path + name
            let before = absentDirectory
            #expect(run.namedFile(path, absentDirectory: &absentDirectory) == single.namedFile(path), "\(name)")
            if before != nil && before == absentDirectory { remembered += 1 }
        }
        // The directories found missing were remembered (a link on the way is never remembered).
        #expect(remembered > 0)
        #expect(absentDirectory == root.path + "/etc/ssl/b.example")
    }
}
