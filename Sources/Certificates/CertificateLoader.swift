import OriginAuditCore

/// A certificate or key file to load, and who refers to it.
public struct CertificateReference: Sendable, Hashable {
    public enum Role: String, Sendable, Hashable { case certificate, key, chain, clientCA, any }
    public var hostPath: String
    public var role: Role
    /// The directive that names it (nil when given on the command line).
    public var referencedAt: SourceLocation?

    public init(hostPath: String, role: Role, referencedAt: SourceLocation? = nil) {
        self.hostPath = hostPath
        self.role = role
        self.referencedAt = referencedAt
    }
}

/// Loads every referenced certificate and key once.
public enum CertificateLoader {
    public static func load(_ references: [CertificateReference], tree: SourceTree) -> LoadResult<CertificateInventory> {
        let files = Array(Set(references.map { tree.displayPath($0.hostPath) })).sorted()
        return LoadResult(
            model: CertificateInventory(),
            notes: files.isEmpty ? [] : ["certificate analysis is not implemented in this build: \(files.joined(separator: ", ")) recognised but not checked"],
            files: files)
    }
}
