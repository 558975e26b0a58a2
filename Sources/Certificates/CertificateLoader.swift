import COpenSSL
import Foundation
import Synchronization
import OriginAuditCore

/// A certificate or key file to load, and who refers to it.
public struct CertificateReference: Sendable, Hashable {
    public enum Role: String, Sendable, Hashable {
        case certificate, key, chain, clientCA, any

        /// How messages name a file in this role.
        public var described: String {
            switch self {
            case .key: "private key"
            case .chain: "chain file"
            case .clientCA: "client CA file"
            case .certificate, .any: "certificate"
            }
        }
    }
    public var hostPath: String
    public var role: Role
    /// The directive that names it (nil when given on the command line).
    public var referencedAt: SourceLocation?
    /// Why it could not be found (a link's target, a loop), set by the loader for a missing file.
    public var absence: String?
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
    /// Files already read (the input walk reads every file it sniffs), by host path: each taken
    /// by the load of its file, so that its bytes are freed once that file is parsed, not when
    /// every file is (10,000 certificate and key files held 4.3 MB through the whole load).
    /// Whoever hands files over keeps no other reference to their bytes.
    public final class ReadFiles: Sendable {
        private let files: Mutex<[String: [UInt8]]>

        public init(_ files: consuming [String: [UInt8]] = [:]) { self.files = Mutex(files) }

        /// The bytes of `hostPath`, forgotten here as they are taken.
        func take(_ hostPath: String) -> [UInt8]? { files.withLock { $0.removeValue(forKey: hostPath) } }

        /// How many files are still here (none once a load has taken each).
        var count: Int { files.withLock { $0.count } }
    }

    /// `contents`: files already read (see `ReadFiles`); the others are read here.
    public static func load(_ references: [CertificateReference], tree: SourceTree, extraCAFiles: [String] = [],
                            contents: ReadFiles = ReadFiles()) -> LoadResult<CertificateInventory> {
        var findings: [Finding] = []
        var notes: [String] = []
        var missing: [CertificateReference] = []
        var paths: [String] = []
        var seen = Set<String>()
        var permissions: [String: UInt16] = [:]
        var firstReference: [String: SourceLocation] = [:]
        let lookUps = lookUp(references, tree: tree)
        for (reference, (lookUp, display)) in zip(references, lookUps) {
            // Every reference to a missing file is reported (each names its own directive).
            guard case .present(let bits) = lookUp else {
                guard case .absent(let allowed, let reason) = lookUp, let at = reference.referencedAt else { continue }
                var reference = reference
                reference.absence = reason
                reference.displayPath = display
                if allowed {
                    missing.append(reference)
                } else if seen.insert("outside \(at) \(reference.hostPath)").inserted {
                    // Not read because the path rule forbids it: whether the file is there, and
                    // whether the server can load it, is not known from here (not tls.cert-missing).
                    findings.append(Finding(
                        ruleId: "input.unreadable",
                        message: "the \(reference.role.described) \(reference.displayPath ?? reference.hostPath) named here \(reference.absence ?? ReadFailure.outsideRoot.description): whether the web server can load it is not known from here",
                        location: at,
                        remediation: "Audit with a --root that holds this file (the host's / in live mode), or copy it below --root at the path the configuration names.",
                        key: "\(at.file) \(reference.hostPath) outside the root"))
                }
                continue
            }
            if let at = reference.referencedAt, firstReference[reference.hostPath] == nil { firstReference[reference.hostPath] = at }
            if seen.insert(reference.hostPath).inserted {
                paths.append(reference.hostPath)
                permissions[reference.hostPath] = bits
            }
        }
        // Files are independent: parse them concurrently.
        let work = paths
        let references = firstReference
        let modes = permissions
        let names = NameTable()
        let loaded = ConcurrentSlots<LoadedFile>.fill(count: work.count) {
            loadFile(work[$0], tree: tree, permissions: modes[work[$0]], contents: contents.take(work[$0]), referencedAt: references[work[$0]],
                     names: names)
        }
        // Sized once: growing it held the old table beside the new at the top of the load.
        var files: [String: CertificateFile] = [:]
        files.reserveCapacity(loaded.count)
        for entry in loaded {
            guard let entry else { continue }
            findings += entry.findings
            if let file = entry.file { files[file.hostPath] = file }
        }
        let trust = TrustStore(extraCAFiles: extraCAFiles, read: tree.read)
        notes += trust.problems
        let inventory = CertificateInventory(files: files, missing: missing, trust: trust)
        return LoadResult(model: inventory, findings: findings, notes: notes, files: files.values.map(\.displayPath).sorted())
    }

    /// One look-up per reference, in their order: whether the file exists (its permission bits)
    /// or why it cannot be read, and how a missing one is shown. A configuration names thousands
    /// (10,000 certificates and keys that are not there): the look-ups are spread over the cores
    /// in one long run per core, not one task per reference (which took more CPU than one core:
    /// the threads met at the tree's caches for every reference).
    static func lookUp(_ references: [CertificateReference], tree: SourceTree) -> [(SourceTree.NamedFile, String?)] {
        @Sendable func one(_ reference: CertificateReference, _ absentDirectory: inout String?) -> (SourceTree.NamedFile, String?) {
            let named = tree.namedFile(reference.hostPath, absentDirectory: &absentDirectory)
            guard case .absent = named, reference.referencedAt != nil else { return (named, nil) }
            return (named, tree.displayPath(reference.hostPath))
        }
        return ConcurrentRuns.map(count: references.count, minimum: 512) { range in
            var absentDirectory: String?
            return references[range].map { one($0, &absentDirectory) }
        }
    }

    /// One file's certificates and keys, decoded from bytes already in memory (the fuzzer's entry).
    public static func decode(_ bytes: [UInt8], hostPath: String) -> (file: CertificateFile?, findings: [Finding]) {
        let tree = SourceTree(root: nil)
        let loaded = loadFile(hostPath, tree: tree, permissions: tree.permissions(hostPath), contents: bytes)
        return (loaded.file, loaded.findings)
    }

    struct LoadedFile {
        var file: CertificateFile?
        var findings: [Finding]
    }

    /// `referencedAt`: the first directive naming the file, where a file that cannot be read
    /// (a device, a FIFO) is reported.
    /// `permissions`: the file's permission bits, found while checking that it exists.
    /// `names`: the load's issuer names (see `CertificateInfo.init`).
    static func loadFile(_ hostPath: String, tree: SourceTree, permissions: UInt16?, contents: [UInt8]? = nil,
                         referencedAt: SourceLocation? = nil, names: NameTable? = nil) -> LoadedFile {
        let display = tree.displayPath(hostPath)
        let bytes: [UInt8]
        switch contents.map({ .success($0) }) ?? tree.read(hostPath) {
        case .success(let read): bytes = read
        case .failure(let failure):
            return LoadedFile(file: nil, findings: [Finding(ruleId: "input.unreadable", message: "\(display) \(failure)",
                                                            location: referencedAt ?? SourceLocation(file: display), key: display)])
        }
        var findings: [Finding] = []
        var certificates: [CertificateInfo] = []
        var keys: [KeyInfo] = []
        let blocks = PEMBlock.scan(bytes)
        // A file saved by `scan --live --save` holds key stand-ins where it held keys.
        let standIns = blocks.filter { $0.label == KeyStandIn.label }.map { KeyStandIn.read(bytes[$0.range]) }
        let recordedMode = standIns.lazy.compactMap { $0?.mode }.first
        if !blocks.isEmpty, standIns.count != 1 || standIns.first??.withheld != true {
            let certificateBlocks = blocks.filter(\.isCertificate)
            // Block by block: a damaged block of another kind before a certificate must not
            // hide it (OpenSSL's reader stops at the first block it cannot decode).
            var undecoded: [PEMBlock] = []
            for block in certificateBlocks {
                if let certificate = PEMReader.certificates(in: Array(bytes[block.range])).first.flatMap({ CertificateInfo($0, names: names) }) {
                    certificates.append(certificate)
                } else {
                    undecoded.append(block)
                }
            }
            if let first = undecoded.first {
                findings.append(Finding(
                    ruleId: "input.parse-error",
                    message: "\(display): \(undecoded.count) of \(certificateBlocks.count) PEM certificate block\(certificateBlocks.count == 1 ? "" : "s") cannot be decoded (truncated or damaged base64?)",
                    location: SourceLocation(file: display, line: first.line, column: 1),
                    key: "\(display) certificates"))
            }
            let keyBlocks = blocks.filter { $0.isPrivateKey || $0.label == KeyStandIn.label }
            for (index, block) in keyBlocks.enumerated() {
                let entry = block.isPrivateKey
                    ? PEMReader.privateKeys(in: bytes, blocks: [block])[0]
                    : KeyStandIn.read(bytes[block.range])?.entry ?? (nil, false, "not a readable key stand-in")
                if let key = entry.key {
                    keys.append(key)
                } else if entry.encrypted {
                    keys.append(KeyInfo(type: nil, bits: nil, curve: nil, encrypted: true, publicKey: nil))
                } else {
                    findings.append(Finding(
                        ruleId: "input.parse-error",
                        message: "\(display): private key block \(index + 1) cannot be read: \(entry.error ?? "unknown error")",
                        location: SourceLocation(file: display, line: block.line, column: 1),
                        key: "\(display) key \(index)"))
                }
            }
            if certificates.isEmpty && keys.isEmpty && findings.isEmpty {
                findings.append(Finding(ruleId: "input.parse-error", message: "\(display) has PEM armour but no certificate or private key",
                                        location: SourceLocation(file: display), key: "\(display) empty"))
            }
        } else if let object = X509Object(der: bytes), let info = CertificateInfo(object, names: names) {
            certificates = [info]
        } else {
            ERR_clear_error()
            findings.append(Finding(ruleId: "input.parse-error", message: "\(display) is neither a PEM file nor a DER certificate",
                                    location: SourceLocation(file: display), key: "\(display) format"))
        }
        let file = CertificateFile(hostPath: hostPath, displayPath: display, certificates: certificates, keys: keys,
                                   permissions: recordedMode ?? permissions)
        return LoadedFile(file: file, findings: findings)
    }
}
