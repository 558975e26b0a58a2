import COpenSSL
import Foundation
import OriginAuditCore

/// A certificate or key file to load, and who refers to it.
public struct CertificateReference: Sendable, Hashable {
    public enum Role: String, Sendable, Hashable { case certificate, key, chain, clientCA, any }
    public var hostPath: String
    public var role: Role
    /// The directive that names it (nil when given on the command line).
    public var referencedAt: SourceLocation?
    /// The path as findings show it (relative to --root, as every other finding's path is); set
    /// by the loader.
    public var displayPath: String?

    public init(hostPath: String, role: Role, referencedAt: SourceLocation? = nil) {
        self.hostPath = hostPath
        self.role = role
        self.referencedAt = referencedAt
    }
}

/// Loads every referenced certificate and key once, through libcrypto, never asking for a
/// passphrase. Garbage, truncated base64 and wrong file types are findings with the file name.
public enum CertificateLoader {
    /// `contents`: files already read (the input walk reads every file it sniffs), by host path;
    /// the others are read here.
    public static func load(_ references: [CertificateReference], tree: SourceTree, extraCAFiles: [String] = [],
                            contents: [String: [UInt8]] = [:]) -> LoadResult<CertificateInventory> {
        var findings: [Finding] = []
        var notes: [String] = []
        var missing: [CertificateReference] = []
        var paths: [String] = []
        var seen = Set<String>()
        var exists: [String: Bool] = [:]
        for reference in references {
            let present = exists[reference.hostPath] ?? tree.exists(reference.hostPath)
            exists[reference.hostPath] = present
            // Every reference to a missing file is reported (each names its own directive).
            guard present else {
                var shown = reference
                shown.displayPath = tree.displayPath(reference.hostPath)
                if reference.referencedAt != nil { missing.append(shown) }
                continue
            }
            if seen.insert(reference.hostPath).inserted { paths.append(reference.hostPath) }
        }
        // Files are independent: parse them concurrently.
        let work = paths
        let loaded = ConcurrentSlots<LoadedFile>.fill(count: work.count) { loadFile(work[$0], tree: tree, contents: contents[work[$0]]) }
        var files: [String: CertificateFile] = [:]
        for entry in loaded {
            guard let entry else { continue }
            findings += entry.findings
            if let file = entry.file { files[file.hostPath] = file }
        }
        let trust = TrustStore(extraCAFiles: extraCAFiles)
        notes += trust.problems
        let inventory = CertificateInventory(files: files, missing: missing, trust: trust)
        return LoadResult(model: inventory, findings: findings, notes: notes, files: files.values.map(\.displayPath).sorted())
    }

    struct LoadedFile {
        var file: CertificateFile?
        var findings: [Finding]
    }

    static func loadFile(_ hostPath: String, tree: SourceTree, contents: [UInt8]? = nil) -> LoadedFile {
        let display = tree.displayPath(hostPath)
        let bytes: [UInt8]
        switch contents.map({ .success($0) }) ?? tree.read(hostPath) {
        case .success(let read): bytes = read
        case .failure(let failure):
            return LoadedFile(file: nil, findings: [Finding(ruleId: "input.unreadable", message: "\(display) \(failure)", location: SourceLocation(file: display), key: display)])
        }
        var findings: [Finding] = []
        var certificates: [CertificateInfo] = []
        var keys: [KeyInfo] = []
        let blocks = PEMBlock.scan(bytes)
        if !blocks.isEmpty {
            let certificateBlocks = blocks.filter(\.isCertificate)
            if !certificateBlocks.isEmpty {
                certificates = PEMReader.certificates(in: bytes).compactMap(CertificateInfo.init)
            }
            if certificates.count < certificateBlocks.count {
                findings.append(Finding(
                    ruleId: "input.parse-error",
                    message: "\(display): \(certificateBlocks.count - certificates.count) of \(certificateBlocks.count) PEM certificate block\(certificateBlocks.count == 1 ? "" : "s") cannot be decoded (truncated or damaged base64?)",
                    location: SourceLocation(file: display, line: certificateBlocks[certificates.count].line, column: 1),
                    key: "\(display) certificates"))
            }
            for (index, entry) in PEMReader.privateKeys(in: bytes, blocks: blocks).enumerated() {
                if let key = entry.key {
                    keys.append(key)
                } else if entry.encrypted {
                    keys.append(KeyInfo(type: nil, bits: nil, curve: nil, encrypted: true, publicKey: nil))
                } else {
                    findings.append(Finding(
                        ruleId: "input.parse-error",
                        message: "\(display): private key block \(index + 1) cannot be read: \(entry.error ?? "unknown error")",
                        location: SourceLocation(file: display, line: blocks.filter(\.isPrivateKey)[index].line, column: 1),
                        key: "\(display) key \(index)"))
                }
            }
            if certificates.isEmpty && keys.isEmpty && findings.isEmpty {
                findings.append(Finding(ruleId: "input.parse-error", message: "\(display) has PEM armour but no certificate or private key",
                                        location: SourceLocation(file: display), key: "\(display) empty"))
            }
        } else if let object = X509Object(der: bytes), let info = CertificateInfo(object) {
            certificates = [info]
        } else {
            ERR_clear_error()
            findings.append(Finding(ruleId: "input.parse-error", message: "\(display) is neither a PEM file nor a DER certificate",
                                    location: SourceLocation(file: display), key: "\(display) format"))
        }
        let file = CertificateFile(hostPath: hostPath, displayPath: display, certificates: certificates, keys: keys,
                                   permissions: tree.permissions(hostPath))
        return LoadedFile(file: file, findings: findings)
    }
}
