import COpenSSL
import CShim
import Foundation
import OriginAuditCore

/// An owned X509, freed when the last reference goes. Read-only once parsed (OpenSSL guards
/// its lazily filled caches), so it may be shared across threads.
final class X509Object: @unchecked Sendable {
    let pointer: OpaquePointer
    init(_ pointer: OpaquePointer) { self.pointer = pointer }
    deinit { X509_free(pointer) }

    /// Parses one DER certificate.
    convenience init?(der: [UInt8]) {
        oa_decode_certificate_keys_directly()
        let parsed: OpaquePointer? = der.withUnsafeBufferPointer { buffer in
            var cursor = buffer.baseAddress
            return d2i_X509(nil, &cursor, buffer.count)
        }
        guard let parsed else { return nil }
        self.init(parsed)
    }
}

/// An owned EVP_PKEY: a private key, or a public one decoded from a stand-in.
final class PrivateKeyObject {
    let pointer: OpaquePointer
    init(_ pointer: OpaquePointer) { self.pointer = pointer }
    deinit { EVP_PKEY_free(pointer) }
}

/// An owned in-memory BIO over a copy of some bytes.
final class MemoryBIO {
    let pointer: OpaquePointer
    private let storage: UnsafeMutableRawBufferPointer

    init?(_ bytes: [UInt8]) {
        storage = UnsafeMutableRawBufferPointer.allocate(byteCount: max(bytes.count, 1), alignment: 1)
        storage.copyBytes(from: bytes)
        guard let bio = BIO_new_mem_buf(storage.baseAddress, Int32(bytes.count)) else {
            storage.deallocate()
            return nil
        }
        pointer = bio
    }

    deinit {
        BIO_free(pointer)
        storage.deallocate()
    }
}

/// The trust anchors the CDN accepts: the system store, the embedded Origin CA roots and any
/// `--ca-file`. The `--ca-file`s are read when it is made (their problems are notes of the
/// load); the store itself, with the system roots (~140 certificates, ~25 ms), is built the
/// first time a chain is verified, so a scan that verifies nothing does not pay for it.
public final class TrustStore: @unchecked Sendable {
    /// Problems met while reading the --ca-files (an unreadable one), for notes.
    public let problems: [String]
    private let systemStore: Bool
    /// The --ca-files' certificates, added to the store when it is built.
    private let extraCertificates: [X509Object]
    private let storeLock = NSLock()
    // Built once under `storeLock`, immutable after; OpenSSL locks the store internally for
    // concurrent verification.
    private var built: OpaquePointer?

    /// `read`: how the extra CA files are read (the scan's tree: named by the project file, they
    /// stay under the root; typed on the command line, they are read as given).
    public init(extraCAFiles: [String] = [], systemStore: Bool = true,
                read: (String) -> Result<[UInt8], ReadFailure> = SourceTree(root: nil).read) {
        self.systemStore = systemStore
        var problems: [String] = []
        var extra: [X509Object] = []
        for path in extraCAFiles {
            let bytes: [UInt8]
            switch read(path) {
            case .success(let read): bytes = read
            case .failure(let failure):
                problems.append("CA file \(path) \(failure)")
                continue
            }
            let certificates = PEMReader.certificates(in: bytes)
            if certificates.isEmpty { problems.append("--ca-file \(path) holds no PEM certificate") }
            extra += certificates
        }
        extraCertificates = extra
        self.problems = problems
    }

    deinit { if let built { X509_STORE_free(built) } }

    /// The X509_STORE: the system roots, the embedded Origin CA roots, then the --ca-files.
    var store: OpaquePointer {
        storeLock.lock()
        defer { storeLock.unlock() }
        if let built { return built }
        oa_decode_certificate_keys_directly()
        let store = X509_STORE_new()!
        if systemStore {
            // The system roots, read once into memory. (X509_STORE_set_default_paths would also
            // add OpenSSL 3's directory store, which lists /etc/ssl/certs again on every lookup.)
            let file = ProcessInfo.processInfo.environment["SSL_CERT_FILE"] ?? String(cString: X509_get_default_cert_file())
            if !(FileManager.default.fileExists(atPath: file) && X509_STORE_load_file(store, file) == 1) {
                X509_STORE_load_path(store, ProcessInfo.processInfo.environment["SSL_CERT_DIR"] ?? String(cString: X509_get_default_cert_dir()))
            }
        }
        for file in EmbeddedTrust.pemFiles where !file.name.contains("authenticated-origin-pull") {
            for certificate in PEMReader.certificates(in: Array(file.pem.utf8)) { X509_STORE_add_cert(store, certificate.pointer) }
        }
        for certificate in extraCertificates { X509_STORE_add_cert(store, certificate.pointer) }
        ERR_clear_error()
        built = store
        return store
    }

    private let cacheLock = NSLock()
    private var cache: [VerdictKey: ChainVerdict] = [:]

    /// A chain at an instant, as the verdict cache knows it.
    private struct VerdictKey: Hashable {
        var leaf: CertificateDigest
        var served: [CertificateDigest]
        var at: Date
    }

    /// Verifies a leaf with the untrusted certificates served beside it, at an instant. Several
    /// rules ask about the same chain: the verdict is computed once.
    public func verify(leaf: CertificateInfo, served: [CertificateInfo], at: Date) -> ChainVerdict {
        let key = VerdictKey(leaf: leaf.digest, served: served.map(\.digest), at: at)
        cacheLock.lock()
        if let known = cache[key] { cacheLock.unlock(); return known }
        cacheLock.unlock()
        let verdict = computeVerdict(leaf: leaf, served: served, at: at)
        cacheLock.lock()
        cache[key] = verdict
        cacheLock.unlock()
        return verdict
    }

    private func computeVerdict(leaf: CertificateInfo, served: [CertificateInfo], at: Date) -> ChainVerdict {
        // The certificates as OpenSSL objects, decoded again for this chain only and freed with it.
        let known = [leaf] + served
        let objects = known.map { $0.decoded() }
        if let undecodable = objects.firstIndex(where: { $0 == nil }) {
            let problem = ChainProblem(code: Int(X509_V_ERR_UNSPECIFIED), depth: undecodable,
                                       reason: "libcrypto cannot decode this certificate's own encoding again to verify it")
            return ChainVerdict(problems: [problem], strictProblems: [], chain: [])
        }
        let decoded = objects.map { $0! }
        let lenient = run(decoded, known: known, at: at, strict: false)
        var verdict = ChainVerdict(problems: lenient.problems, strictProblems: [], chain: lenient.chain)
        // What only stricter validators refuse matters once the default verification has no
        // other objection than time.
        if !lenient.problems.contains(where: { !$0.isTime }) {
            let strict = run(decoded, known: known, at: at, strict: true)
            verdict.strictProblems = shared(strict.problems.filter { problem in !lenient.problems.contains(problem) })
        }
        return verdict
    }

    /// Lists of objections made so far: thousands of chains of one issuer have the same ones.
    private var problemLists = Set<[ChainProblem]>()

    /// One copy of each list of objections (a verdict held a list of its own, ~80 bytes each).
    private func shared(_ problems: [ChainProblem]) -> [ChainProblem] {
        guard !problems.isEmpty else { return problems }
        cacheLock.lock()
        defer { cacheLock.unlock() }
        return problemLists.insert(problems).memberAfterInsert
    }

    /// `objects`: the leaf then the served certificates, decoded; `known`: the same as described.
    private func run(_ objects: [X509Object], known: [CertificateInfo], at: Date, strict: Bool)
        -> (problems: [ChainProblem], chain: [CertificateInfo]) {
        var pointers: [OpaquePointer?] = objects.dropFirst().map { $0.pointer }
        var problems = [oa_problem](repeating: oa_problem(), count: 16)
        var built = [OpaquePointer?](repeating: nil, count: 16)
        var problemCount: Int32 = 0, builtCount: Int32 = 0
        pointers.withUnsafeMutableBufferPointer { buffer in
            _ = oa_verify(store, objects[0].pointer, buffer.baseAddress, Int32(buffer.count), time_t(at.timeIntervalSince1970), strict ? 1 : 0,
                          &problems, Int32(problems.count), &problemCount, &built, Int32(built.count), &builtCount)
        }
        withExtendedLifetime(objects) {}
        ERR_clear_error()
        let chain: [CertificateInfo] = built.prefix(Int(builtCount)).compactMap { pointer in
            guard let pointer else { return nil }
            let object = X509Object(pointer)
            if let index = objects.firstIndex(where: { $0.pointer == pointer }) { return known[index] }
            return anchor(object)
        }
        let found = problems.prefix(Int(problemCount)).map { problem in
            ChainProblem(code: Int(problem.code), depth: Int(problem.depth), reason: ChainProblem.reason(Int(problem.code)))
        }
        return (shared(found), chain)
    }

    private var anchors: [CertificateDigest: CertificateInfo] = [:]

    /// A certificate of the store (a root), described once.
    private func anchor(_ object: X509Object) -> CertificateInfo? {
        guard let info = CertificateInfo(object) else { return nil }
        cacheLock.lock()
        defer { cacheLock.unlock() }
        if let known = anchors[info.digest] { return known }
        anchors[info.digest] = info
        return info
    }
}

/// One objection OpenSSL raised while verifying a chain (X509_V_ERR_*), and the depth of the
/// certificate it concerns (0: the leaf).
public struct ChainProblem: Sendable, Hashable {
    public var code: Int
    public var depth: Int
    public var reason: String

    /// Expired or not yet valid: the validity rules say it, not the trust rules.
    public var isTime: Bool { code == Int(X509_V_ERR_CERT_HAS_EXPIRED) || code == Int(X509_V_ERR_CERT_NOT_YET_VALID) }
    /// The leaf itself is self-signed and not trusted.
    public var isSelfSignedLeaf: Bool { code == Int(X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT) }
    /// The served chain ends at a root nobody trusts.
    public var isUntrustedRoot: Bool { code == Int(X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN) }
    /// No issuer could be found for some certificate of the chain.
    public var isMissingIssuer: Bool {
        code == Int(X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY) || code == Int(X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT)
            || code == Int(X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE)
    }
    /// The certificate may not be used for a TLS server (extended key usage, a CA as the leaf).
    public var isPurpose: Bool { code == Int(X509_V_ERR_INVALID_PURPOSE) }

    private static let reasons = CodeTexts<Int> { String(cString: X509_verify_cert_error_string($0)) }

    /// OpenSSL's text for an X509_V_ERR_* code, made once per code: thousands of verdicts then
    /// share one string instead of holding a copy each.
    static func reason(_ code: Int) -> String { reasons.text(code) }
}

/// The result of chain verification as a TLS client does it (OpenSSL, SSL-server purpose).
public struct ChainVerdict: Sendable, Hashable {
    /// What OpenSSL's default verification objects to, in the order met.
    public var problems: [ChainProblem]
    /// What OpenSSL's X509_STRICT mode adds (RFC 5280 conformance that the default lets pass:
    /// key identifiers, critical basicConstraints, keyCertSign on a leaf, a CA as the leaf…).
    public var strictProblems: [ChainProblem]
    /// The path OpenSSL built, leaf first (the root from the trust store when one was reached).
    public var chain: [CertificateInfo]

    /// Accepted by OpenSSL's default verification at the instant.
    public var isTrusted: Bool { problems.isEmpty }
    /// Accepted also by the strict validators.
    public var isStrictlyTrusted: Bool { problems.isEmpty && strictProblems.isEmpty }
    /// The first objection that is not about time (what the trust rules explain).
    public var trustProblem: ChainProblem? { problems.first { !$0.isTime } }
    /// The first objection, in OpenSSL's words.
    public var reason: String { (trustProblem ?? problems.first)?.reason ?? "ok" }
    public var depth: Int { (trustProblem ?? problems.first)?.depth ?? 0 }
}

/// What stricter verifiers than OpenSSL's default refuse in a chain OpenSSL accepts, said with
/// who refuses it (the scan's tls.untrusted-issuer warning and `cert` say the same). Key strength
/// and names are judged apart (tls.weak-key, tls.hostname-mismatch).
public enum StrictObjection {
    public static func first(leaf: CertificateInfo, verdict: ChainVerdict) -> String? {
        if leaf.marksCA {
            return "a CA certificate (basicConstraints CA:TRUE) is used as the server's certificate; OpenSSL's default accepts it, but OpenSSL in X509_STRICT mode (unsuitable certificate purpose) and rustls/webpki refuse a CA as the end entity"
        }
        if let problem = verdict.strictProblems.first {
            return "OpenSSL's default verification accepts the chain, but in X509_STRICT mode (`openssl verify -x509_strict`, RFC 5280 conformance) it refuses it: \(problem.reason) at depth \(problem.depth)"
        }
        if let usage = leaf.extendedKeyUsage, !usage.namesServerAuth, usage.namesAny {
            return "its extended key usage names anyExtendedKeyUsage but not serverAuth; OpenSSL and Go accept that, rustls/webpki refuses it (serverAuth is required when an extended key usage is present)"
        }
        if let old = ([leaf] + verdict.chain.dropFirst().dropLast()).first(where: { $0.version == 1 }) {
            return "\(old.commonName.map { "CN=\($0)" } ?? old.subjectText) is a version 1 certificate (no extensions); OpenSSL accepts it, rustls/webpki refuses v1 certificates"
        }
        return nil
    }
}

/// What the CA/Browser Forum's certificate profile forbids but no deployed verifier refuses, so
/// that a certificate of a class limbo fails is never passed in silence: said at info level (in
/// `scan`) and as a note (in `cert`), neither of which changes the verdict.
public enum PolicyNote {
    public enum Kind: Sendable { case key, usage }

    public static func notes(leaf: CertificateInfo, path: [CertificateInfo]) -> [(kind: Kind, text: String)] {
        var notes: [(Kind, String)] = []
        let name = { (certificate: CertificateInfo) in certificate.commonName ?? certificate.subjectText }
        for certificate in [leaf] + path.dropFirst() where certificate.keyType.hasPrefix("RSA") && certificate.keyBits % 8 != 0 {
            notes.append((.key, "\(name(certificate)) has an RSA modulus of \(certificate.keyBits) bits, not a whole number of bytes: the CA/Browser Forum Baseline Requirements forbid it; OpenSSL and Go accept it"))
        }
        if let usage = leaf.extendedKeyUsage {
            if usage.namesAny && usage.namesServerAuth {
                notes.append((.usage, "its extended key usage names anyExtendedKeyUsage beside serverAuth: the Baseline Requirements forbid it; verifiers accept it"))
            }
            if leaf.extendedKeyUsageCritical {
                notes.append((.usage, "its extended key usage is marked critical: the Baseline Requirements forbid it; verifiers accept it"))
            }
        } else if !leaf.marksCA && leaf.version > 1 {
            notes.append((.usage, "it has no extended key usage: the Baseline Requirements require serverAuth; OpenSSL, Go and rustls/webpki accept a certificate without one"))
        }
        if path.count > 1, let root = path.last, root.isSelfSigned, root.extendedKeyUsage != nil {
            notes.append((.usage, "the root \(name(root)) carries an extended key usage: the Baseline Requirements forbid it on roots; OpenSSL, Go and rustls/webpki accept it"))
        }
        return notes
    }
}

/// Reads PEM and DER without ever asking for a passphrase.
public enum PEMReader {
    /// Adds every certificate of a PEM text to an X509_STORE (a trust store being built).
    public static func addCertificates(pem: String, to store: OpaquePointer?) {
        for certificate in certificates(in: Array(pem.utf8)) { X509_STORE_add_cert(store, certificate.pointer) }
        ERR_clear_error()
    }

    static func certificates(in bytes: [UInt8]) -> [X509Object] {
        // Before the first certificate of the run is parsed, so that every one is decoded alike.
        oa_decode_certificate_keys_directly()
        guard let bio = MemoryBIO(bytes) else { return [] }
        var result: [X509Object] = []
        while let certificate = PEM_read_bio_X509(bio.pointer, nil, nil, nil) {
            result.append(X509Object(certificate))
        }
        ERR_clear_error()
        return result
    }

    /// Every private key block in a PEM text: loaded, or marked encrypted when it needs a
    /// passphrase (the callback fails instead of prompting), or unreadable. RSA and named-curve
    /// EC keys take a fast path around OpenSSL 3's decoders; anything else takes the full one.
    static func privateKeys(in bytes: [UInt8], blocks: [PEMBlock]) -> [(key: KeyInfo?, encrypted: Bool, error: String?)] {
        blocks.filter(\.isPrivateKey).map { block in
            let pem = Array(bytes[block.range])
            let headerSaysEncrypted = block.label == "ENCRYPTED PRIVATE KEY" || pem.containsSequence(Array("Proc-Type: 4,ENCRYPTED".utf8))
            if !headerSaysEncrypted, let fast = fastKey(pem, label: block.label) { return (fast, false, nil) }
            let decoded = decodePrivateKey(pem)
            guard let key = decoded.key else {
                // A key the no-passphrase callback was asked about is encrypted, whatever its label.
                let encrypted = headerSaysEncrypted || decoded.passphraseAsked
                return (nil, encrypted, encrypted ? nil : (decoded.error.isEmpty ? "not a readable private key" : decoded.error))
            }
            let (type, bits, curve) = CertificateInfo.describe(key.pointer)
            let der = CertificateInfo.bytes { i2d_PUBKEY(key.pointer, $0) }
            return (KeyInfo(type: type, bits: bits, curve: curve, encrypted: false, publicKey: der, source: KeySource(pem, publicKey: der)), false, nil)
        }
    }

    /// The full decoder (every key type), never prompting: a passphrase-protected key comes
    /// back as nil with `passphraseAsked`. The error queue is left empty.
    static func decodePrivateKey(_ pem: [UInt8]) -> (key: PrivateKeyObject?, passphraseAsked: Bool, error: String) {
        guard let bio = MemoryBIO(pem) else { return (nil, false, "out of memory") }
        var asked: Int32 = 0
        let key = withUnsafeMutablePointer(to: &asked) { flag in
            PEM_read_bio_PrivateKey(bio.pointer, nil, oa_no_password, UnsafeMutableRawPointer(flag))
        }
        let error = OpenSSLError.drain()
        return (key.map(PrivateKeyObject.init), asked != 0, error)
    }

    /// RSA and named-curve EC keys through the legacy ASN.1 decoders (see oa_fast_private_key).
    static func fastKey(_ pem: [UInt8], label: String) -> KeyInfo? {
        let kind: Int32
        switch label {
        case "PRIVATE KEY": kind = 0
        case "RSA PRIVATE KEY": kind = 1
        case "EC PRIVATE KEY": kind = 2
        default: return nil
        }
        guard let bio = MemoryBIO(pem) else { return nil }
        var name: UnsafeMutablePointer<CChar>? = nil, header: UnsafeMutablePointer<CChar>? = nil
        var data: UnsafeMutablePointer<UInt8>? = nil
        var length = 0
        guard PEM_read_bio(bio.pointer, &name, &header, &data, &length) == 1, let data else { ERR_clear_error(); return nil }
        defer {
            CRYPTO_free(name, #fileID, #line)
            CRYPTO_free(header, #fileID, #line)
            OPENSSL_cleanse(data, length)
            CRYPTO_free(data, #fileID, #line)
        }
        guard let name, String(cString: name) == label else { return nil }
        var type: Int32 = 0, bits: Int32 = 0, curve: Int32 = 0, spkiLength: Int32 = 0
        var spki: UnsafeMutablePointer<UInt8>? = nil
        guard oa_fast_private_key(data, length, kind, &type, &bits, &curve, &spki, &spkiLength) == 1, let spki else { return nil }
        defer { CRYPTO_free(spki, #fileID, #line) }
        let publicKey = Array(UnsafeBufferPointer(start: spki, count: Int(spkiLength)))
        return KeyInfo(type: type == 1 ? "RSA" : "EC", bits: Int(bits), curve: type == 2 ? String(cString: OBJ_nid2sn(curve)) : nil,
                       encrypted: false, publicKey: publicKey, source: KeySource(pem, publicKey: publicKey))
    }
}

/// One `-----BEGIN label-----` … `-----END …-----` block of a PEM text. The input classifier
/// and the certificate loader both find armour with `scan`, so they agree on what a PEM file is.
public struct PEMBlock: Sendable {
    public var label: String
    /// Bytes of the block, from its BEGIN line through its END line's line break.
    public var range: Range<Int>
    /// 1-based line of the BEGIN line.
    public var line: Int

    public var isCertificate: Bool { label == "CERTIFICATE" || label == "TRUSTED CERTIFICATE" || label == "X509 CERTIFICATE" }
    public var isPrivateKey: Bool { label.hasSuffix("PRIVATE KEY") }

    public static func scan(_ bytes: [UInt8]) -> [PEMBlock] { scan(bytes[...]) }

    /// The blocks of a PEM text (an unterminated one included), found on the bytes: an armour
    /// line is one whose text, blanks around it ignored, is the armour; lines end at LF, CRLF or
    /// a lone CR. `range`s are indices of `bytes`.
    public static func scan(_ bytes: ArraySlice<UInt8>) -> [PEMBlock] {
        var blocks: [PEMBlock] = []
        var open: (label: String, start: Int, line: Int)?
        var lineStart = bytes.startIndex, lineNumber = 1
        // A UTF-8 byte order mark before the armour (an editor's doing): openssl reads past it.
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { lineStart += 3 }
        let begin = Array("-----BEGIN ".utf8), end = Array("-----END ".utf8), dashes = Array("-----".utf8)
        while lineStart < bytes.endIndex {
            var lineEnd = lineStart
            while lineEnd < bytes.endIndex && bytes[lineEnd] != 0x0A && bytes[lineEnd] != 0x0D { lineEnd += 1 }
            // Where the next line starts: after LF, CR, or CRLF.
            var next = lineEnd + 1
            if lineEnd < bytes.endIndex && bytes[lineEnd] == 0x0D && next < bytes.endIndex && bytes[next] == 0x0A { next += 1 }
            next = min(next, bytes.endIndex)
            var first = lineStart, last = lineEnd
            while first < last && (bytes[first] == 0x20 || bytes[first] == 0x09) { first += 1 }
            while last > first && (bytes[last - 1] == 0x20 || bytes[last - 1] == 0x09) { last -= 1 }
            let line = bytes[first..<last]
            if line.starts(with: begin) && line.count >= begin.count + dashes.count && line.suffix(dashes.count).elementsEqual(dashes) {
                let label = String(decoding: line.dropFirst(begin.count).dropLast(dashes.count), as: UTF8.self)
                // A block left open (truncated) still counts, so its loss is reported.
                if let current = open { blocks.append(PEMBlock(label: current.label, range: current.start..<lineStart, line: current.line)) }
                open = (label, lineStart, lineNumber)
            } else if let current = open, line.starts(with: end) {
                blocks.append(PEMBlock(label: current.label, range: current.start..<next, line: current.line))
                open = nil
            }
            lineStart = next
            lineNumber += 1
        }
        if let current = open { blocks.append(PEMBlock(label: current.label, range: current.start..<bytes.endIndex, line: current.line)) }
        return blocks
    }
}

/// What settles a key/certificate comparison the DER cannot (an unusual encoding in the
/// certificate): the key's public half (SubjectPublicKeyInfo DER), or, only when libcrypto could
/// not encode that, the private key's PEM text. Never printed: no description shows it.
public final class KeySource: @unchecked Sendable, Hashable, CustomStringConvertible, CustomReflectable {
    fileprivate let pem: [UInt8]
    /// `pem` is not a private key but the DER of its public half.
    fileprivate let isPublicDER: Bool
    /// A private key read from `pem` whose public half encodes as `publicKey`: the public half is
    /// kept (the same bytes as the key's `publicKey`, no copy), the private key's text is not
    /// (thousands of keys held their PEM for the whole run; EVP_PKEY_eq compares public halves).
    init(_ pem: [UInt8], publicKey: [UInt8]) {
        isPublicDER = !publicKey.isEmpty
        self.pem = isPublicDER ? publicKey : pem
    }
    /// A key known only by its public half (SubjectPublicKeyInfo DER), compared the same way.
    init(publicKeyDER: [UInt8]) { pem = publicKeyDER; isPublicDER = true }
    /// It holds the private key's PEM text (only when libcrypto could not encode its public half).
    var keepsPrivateKeyText: Bool { !isPublicDER }
    public var description: String { "<private key>" }
    public var customMirror: Mirror { Mirror(self, children: []) }
    public static func == (a: KeySource, b: KeySource) -> Bool { a.pem == b.pem }
    public func hash(into hasher: inout Hasher) { hasher.combine(pem.count) }

    /// Whether this key is the private half of the certificate's public key, as OpenSSL compares
    /// them (`EVP_PKEY_eq`, what the servers' own key check uses).
    func belongs(to certificate: CertificateInfo) -> Bool {
        oa_decode_certificate_keys_directly()
        let decoded: PrivateKeyObject?
        if isPublicDER {
            decoded = pem.withUnsafeBufferPointer { buffer in
                var cursor = buffer.baseAddress
                return d2i_PUBKEY(nil, &cursor, buffer.count).map(PrivateKeyObject.init)
            }
        } else {
            decoded = PEMReader.decodePrivateKey(pem).key
        }
        // The certificate's key from its SubjectPublicKeyInfo, as the certificate encodes it
        // (what X509_get0_pubkey would give for the decoded certificate).
        let certificateKey = certificate.publicKey.withUnsafeBufferPointer { buffer in
            var cursor = buffer.baseAddress
            return d2i_PUBKEY(nil, &cursor, buffer.count).map(PrivateKeyObject.init)
        }
        guard let key = decoded, let certificateKey else {
            ERR_clear_error()
            return false
        }
        defer { ERR_clear_error() }
        return EVP_PKEY_eq(key.pointer, certificateKey.pointer) == 1
    }
}

extension Array where Element == UInt8 {
    func containsSequence(_ needle: [UInt8]) -> Bool {
        guard !needle.isEmpty, count >= needle.count else { return needle.isEmpty }
        for start in 0...(count - needle.count) where self[start] == needle[0] {
            if self[start..<(start + needle.count)].elementsEqual(needle) { return true }
        }
        return false
    }
}

/// The OpenSSL error queue, drained into text (for messages; the queue is left empty).
public enum OpenSSLError {
    public static func drain() -> String {
        var messages: [String] = []
        while true {
            let code = ERR_get_error()
            if code == 0 { break }
            var buffer = [CChar](repeating: 0, count: 256)
            ERR_error_string_n(code, &buffer, buffer.count)
            messages.append(String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
        return messages.joined(separator: "; ")
    }
}
