import Testing
import Foundation
@testable import OriginAuditCore

/// Bytes read once are handed to the next reader of the same file instead of being read again,
/// once, and only through a path that `read` would allow anyway.
@Suite struct SourceTreeHandOverTests {
    /// A tree with etc/nginx/site.conf ("on disk"), a link beside it to it, and a file outside the root.
    func makeTree() throws -> (root: URL, outside: URL) {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("originaudit-handover-\(UUID().uuidString)")
        let root = base.appendingPathComponent("root")
        try FileManager.default.createDirectory(at: root.appendingPathComponent("etc/nginx"), withIntermediateDirectories: true)
        try Data("on disk".utf8).write(to: root.appendingPathComponent("etc/nginx/site.conf"))
        try FileManager.default.createSymbolicLink(atPath: root.appendingPathComponent("etc/nginx/link.conf").path, withDestinationPath: "/etc/nginx/site.conf")
        let outside = base.appendingPathComponent("outside.conf")
        try Data("outside".utf8).write(to: outside)
        return (root, outside)
    }

    func text(_ result: Result<[UInt8], ReadFailure>) -> String? {
        guard case .success(let bytes) = result else { return nil }
        return String(decoding: bytes, as: UTF8.self)
    }

    @Test func theNextReadTakesTheBytesOnce() throws {
        let (root, _) = try makeTree()
        defer { try? FileManager.default.removeItem(at: root.deletingLastPathComponent()) }
        var tree = SourceTree(root: root)
        tree.readLog = ReadLog()
        let site = tree.hostPath("/etc/nginx/site.conf")
        // Bytes unlike the file's: the read that returns them did not open the file.
        tree.handOver(site, Array("handed over".utf8))
        #expect(text(tree.head(site, count: 2)) == "on", "a partial read does not take them")
        let copy = tree
        #expect(text(copy.read(site)) == "handed over", "copies of the tree share them")
        #expect(text(tree.read(site)) == "on disk", "taken once; the next read opens the file")
        #expect(tree.readLog?.entries.contains { $0.path == site && $0.use == .read } == true)

        // Another name of the same file (a link inside the root) takes them too.
        tree.handOver(site, Array("handed over".utf8))
        #expect(text(tree.read(tree.hostPath("/etc/nginx/link.conf"))) == "handed over")
        #expect(text(tree.read(site)) == "on disk")

        // Forgotten: read from disk.
        tree.handOver(site, Array("handed over".utf8))
        tree.forgetHandedOver()
        #expect(text(tree.read(site)) == "on disk")
    }

    @Test func nothingOutsideTheRootIsKeptOrReturned() throws {
        let (root, outside) = try makeTree()
        defer { try? FileManager.default.removeItem(at: root.deletingLastPathComponent()) }
        let tree = SourceTree(root: root)
        tree.handOver(outside.path, Array("handed over".utf8))
        #expect(tree.read(outside.path) == .failure(.outsideRoot))
        // `..` stops at the root: the same name read from inside the root is a different, missing file.
        #expect(tree.read(tree.hostPath("../outside.conf", relativeTo: root.path)) == .failure(.missing))
    }
}
