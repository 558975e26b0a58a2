import COpenSSL
import CShim
import Foundation
import OriginAuditCore
import Synchronization

/// What one certificate says, as plain values (no C pointers): the DER is kept for verification,
/// which decodes it again (see `decoded()`), so that no OpenSSL object outlives the load.
/// A class: the rules, the served chains and the verdicts all refer to the same certificate, and a
/// reference costs 8 bytes where a copy of the value cost ~330 (and a retain per text field).
public final class CertificateInfo: Sendable, Hashable {
    public let subject: String
    public let commonName: String?
    /// subjectAltName DNS names and IP addresses; `hasSubjectAltName` tells an empty SAN from none.
    public let dnsNames: [String]
    public let ipAddresses: [String]
    public let hasSubjectAltName: Bool
    public let issuer: String
    public let notBefore: Date
    public let notAfter: Date
    /// `RSA`, `EC`, `ED25519`, `ED448`, `DSA`.
    public let keyType: String
    public let keyBits: Int
    public let curve: String?
    /// OpenSSL's long name of the signature algorithm (`sha256WithRSAEncryption`).
    public let signatureAlgorithm: String
    /// The digest the signature uses (`SHA1`, `SHA256`), also inside RSA-PSS parameters; nil
    /// when the algorithm has none of its own (Ed25519).
    public let signatureDigest: String?
    /// 1 for a v1 certificate (no extensions), 3 for v3.
    public let version: Int
    /// The extended key usage: nil when the certificate has none; otherwise whether it allows
    /// TLS servers by naming serverAuth (`allowsServer`) or only anyExtendedKeyUsage.
    public let extendedKeyUsage: (namesServerAuth: Bool, namesAny: Bool)?
    /// The extended key usage extension is marked critical.
    public let extendedKeyUsageCritical: Bool
    /// It carries a nameConstraints extension (only CAs may).
    public let hasNameConstraints: Bool
    /// The DNS subtrees of its name constraints.
    public let permittedDNS: [String]
    public let excludedDNS: [String]
    /// Issued by itself and its signature verifies with its own key.
    public let isSelfSigned: Bool
    public let isCA: Bool
    /// basicConstraints says CA:TRUE, whatever the key usage (`isCA` also asks for keyCertSign).
    public let marksCA: Bool
    /// SHA-256 of the DER, hex (`AB:CD:…`), spelt from `digest` when asked: few ask, and the
    /// text kept for every certificate cost ~150 bytes each.
    public var fingerprint: String { Self.hex(digest.bytes[...]) }
    /// SHA-256 of the DER as words: what caches key on (hashing it costs less than the text).
    let digest: CertificateDigest
    /// DER of the public key (SubjectPublicKeyInfo), to match private keys: the bytes of `der`
    /// that hold it (a copy is made only when asked; `hasPublicKey` compares without one).
    public var publicKey: [UInt8] { publicKeyOutsideDER ?? Array(der[publicKeyRange]) }
    /// Where `der` holds the public key's DER.
    private let publicKeyRange: Range<Int>
    /// The public key's DER when `der` does not hold it as libcrypto encodes it (not seen: a
    /// certificate's DER holds its SubjectPublicKeyInfo as it is); nil otherwise.
    private let publicKeyOutsideDER: [UInt8]?
    public let der: [UInt8]

    /// Whether `bytes` are this certificate's public key DER.
    func hasPublicKey(_ bytes: [UInt8]) -> Bool {
        if let publicKeyOutsideDER { return publicKeyOutsideDER == bytes }
        return der[publicKeyRange].elementsEqual(bytes)
    }

    public static func == (a: CertificateInfo, b: CertificateInfo) -> Bool { a.der == b.der }

    /// RFC 5280 4.1.2.5: valid from notBefore through notAfter, both inclusive. The one rule
    /// for every command and report.
    public func isExpired(at instant: Date) -> Bool { instant > notAfter }
    public func isNotYetValid(at instant: Date) -> Bool { instant < notBefore }

    /// Names a server, as a CA certificate does not: a DNS name in the SAN, or a CN shaped like a
    /// host name (dots, no spaces: `www.example.test`, not `Example Root CA`).
    public var looksLikeServerCertificate: Bool {
        if !dnsNames.isEmpty || !ipAddresses.isEmpty { return true }
        guard let commonName else { return false }
        return commonName.contains(".") && !commonName.contains(" ")
    }

    static let strongCurves: Set<String> = ["prime256v1", "secp384r1", "secp521r1", "P-256", "P-384", "P-521"]

    /// Why the key is too weak for the Web PKI, or nil: RSA (also RSA-PSS) under 2048 bits, DSA,
    /// an EC key off P-256/P-384/P-521.
    public var keyWeakness: String? {
        switch keyType {
        case "RSA" where keyBits < 2048, "RSA-PSS" where keyBits < 2048:
            "an \(keyType) key of \(keyBits) bits (at least 2048 are needed)"
        case "DSA": "a DSA key (Go's crypto/x509, rustls/webpki and browsers verify no DSA signatures)"
        case "EC" where !(curve.map(Self.strongCurves.contains) ?? false): "an EC key on \(curve ?? "an unnamed curve")"
        default: nil
        }
    }

    /// Signed with SHA-1 or MD5 (or older), also when the digest hides in RSA-PSS parameters.
    public var hasWeakSignature: Bool {
        let digest = (signatureDigest ?? signatureAlgorithm).lowercased()
        return ["sha1", "md5", "md2", "md4"].contains { digest.contains($0) }
    }

    /// The subject for messages: `(empty subject)` rather than nothing.
    public var subjectText: String { subject.isEmpty ? "(empty subject)" : subject }
    public func hash(into hasher: inout Hasher) { hasher.combine(digest) }

    /// The certificate as an OpenSSL object again, for verification (decoded from `der`; keeping
    /// the object from the load instead held ~2.7 KB of libcrypto memory per certificate for the
    /// whole run). Nil only if libcrypto refuses its own encoding.
    func decoded() -> X509Object? {
        defer { ERR_clear_error() }
        return X509Object(der: der)
    }

    convenience init?(_ object: X509Object) { self.init(object, names: nil) }

    /// `names`: issuer names met so far in this load, so that thousands of certificates of one
    /// issuer share one copy of its name.
    init?(_ object: X509Object, names: NameTable?) {
        let x = object.pointer
        subject = Self.name(X509_get_subject_name(x))
        let issuerName = Self.name(X509_get_issuer_name(x))
        issuer = names?.intern(issuerName) ?? issuerName
        let commonName = Self.commonName(X509_get_subject_name(x))
        self.commonName = commonName
        if let raw = oa_subject_alt_names(x) {
            let text = String(cString: raw)
            free(raw)
            hasSubjectAltName = true
            var dns: [String] = [], ips: [String] = []
            for line in text.split(separator: "\n") {
                let value = line.dropFirst(2)
                if line.hasPrefix("D ") {
                    // Usually the common name again: the same text, one copy.
                    if let commonName, value == commonName { dns.append(commonName) } else { dns.append(String(value)) }
                } else if line.hasPrefix("I ") {
                    ips.append(String(value))
                }
            }
            dnsNames = dns
            ipAddresses = ips
        } else {
            hasSubjectAltName = false
            dnsNames = []
            ipAddresses = []
        }
        var ok: Int32 = 0
        notBefore = Date(timeIntervalSince1970: TimeInterval(oa_asn1_time_epoch(X509_get0_notBefore(x), &ok)))
        notAfter = Date(timeIntervalSince1970: TimeInterval(oa_asn1_time_epoch(X509_get0_notAfter(x), &ok)))
        guard let key = X509_get0_pubkey(x) else { return nil }
        (keyType, keyBits, curve) = Self.describe(key)
        signatureAlgorithm = Self.longName(X509_get_signature_nid(x))
        var digestNID: Int32 = 0, keyNID: Int32 = 0, securityBits: Int32 = 0
        var signatureFlags: UInt32 = 0
        signatureDigest = X509_get_signature_info(x, &digestNID, &keyNID, &securityBits, &signatureFlags) == 1 && digestNID != NID_undef
            ? String(cString: OBJ_nid2sn(digestNID)) : nil
        version = Int(X509_get_version(x)) + 1
        if X509_get_extension_flags(x) & UInt32(EXFLAG_XKUSAGE) != 0 {
            let usage = X509_get_extended_key_usage(x)
            extendedKeyUsage = (usage & UInt32(XKU_SSL_SERVER) != 0, usage & UInt32(XKU_ANYEKU) != 0)
        } else {
            extendedKeyUsage = nil
        }
        let ekuIndex = X509_get_ext_by_NID(x, NID_ext_key_usage, -1)
        extendedKeyUsageCritical = ekuIndex >= 0 && X509_EXTENSION_get_critical(X509_get_ext(x, ekuIndex)) == 1
        let constrained = X509_get_ext_by_NID(x, NID_name_constraints, -1) >= 0
        hasNameConstraints = constrained
        if constrained, let raw = oa_dns_name_constraints(x) {
            let lines = String(cString: raw).split(separator: "\n")
            free(raw)
            permittedDNS = lines.filter { $0.hasPrefix("P ") }.map { String($0.dropFirst(2)).lowercased() }
            excludedDNS = lines.filter { $0.hasPrefix("E ") }.map { String($0.dropFirst(2)).lowercased() }
        } else {
            permittedDNS = []
            excludedDNS = []
        }
        // Issued by itself (names, key identifiers, signature): X509_check_issued would also
        // demand keyCertSign, which a self-signed server certificate does not carry.
        isSelfSigned = X509_self_signed(x, 1) == 1
        isCA = X509_check_ca(x) > 0
        marksCA = X509_get_extension_flags(x) & UInt32(EXFLAG_CA) != 0
        let encoded = Self.bytes { i2d_X509(x, $0) }
        der = encoded
        // As encoded in the certificate (i2d_PUBKEY would run OpenSSL 3's encoder, ~0.07 ms).
        let publicKey = Self.bytes { i2d_X509_PUBKEY(X509_get_X509_PUBKEY(x), $0) }
        if let range = encoded.withUnsafeBufferPointer({ der in publicKey.withUnsafeBufferPointer { ByteSearch.firstRange(of: $0, in: der) } }) {
            publicKeyRange = range
            publicKeyOutsideDER = nil
        } else {
            publicKeyRange = 0..<0
            publicKeyOutsideDER = publicKey
        }
        // X509_digest would encode the certificate a second time: the same bytes as `der`.
        var sha256 = [UInt8](repeating: 0, count: 32)
        var length: UInt32 = 0
        EVP_Digest(encoded, encoded.count, &sha256, &length, EVP_sha256(), nil)
        digest = CertificateDigest(sha256)
        ERR_clear_error()
    }

    private static let longNames = CodeTexts<Int32> { String(cString: OBJ_nid2ln($0)) }

    /// OpenSSL's long name of an object (a signature algorithm), made once per object: thousands
    /// of certificates share one copy.
    static func longName(_ nid: Int32) -> String { longNames.text(nid) }

    private static let digits = Array("0123456789ABCDEF".utf8)

    /// `AB:CD:…`, as `openssl x509 -fingerprint` prints it.
    static func hex(_ bytes: ArraySlice<UInt8>) -> String {
        var out = [UInt8]()
        out.reserveCapacity(bytes.count * 3)
        for byte in bytes {
            if !out.isEmpty { out.append(UInt8(ascii: ":")) }
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    static func bytes(_ encode: (UnsafeMutablePointer<UnsafeMutablePointer<UInt8>?>) -> Int32) -> [UInt8] {
        var pointer: UnsafeMutablePointer<UInt8>? = nil
        let length = encode(&pointer)
        guard length > 0, let pointer else { return [] }
        defer { CRYPTO_free(pointer, #fileID, #line) }
        return Array(UnsafeBufferPointer(start: pointer, count: Int(length)))
    }

    static func describe(_ key: OpaquePointer) -> (String, Int, String?) {
        let bits = Int(EVP_PKEY_get_bits(key))
        let type: String
        switch EVP_PKEY_get_base_id(key) {
        case EVP_PKEY_RSA: type = "RSA"
        case EVP_PKEY_EC: type = "EC"
        case EVP_PKEY_ED25519: type = "ED25519"
        case EVP_PKEY_ED448: type = "ED448"
        case EVP_PKEY_DSA: type = "DSA"
        case EVP_PKEY_RSA_PSS: type = "RSA-PSS"
        default: type = String(cString: OBJ_nid2sn(EVP_PKEY_get_base_id(key)))
        }
        var curve: String?
        if type == "EC" {
            var buffer = [CChar](repeating: 0, count: 80)
            var length = 0
            if EVP_PKEY_get_group_name(key, &buffer, buffer.count, &length) == 1 {
                curve = String(decoding: buffer.prefix(length).map { UInt8(bitPattern: $0) }, as: UTF8.self)
            }
        }
        return (type, bits, curve)
    }

    /// A distinguished name on one line (`CN=…, O=…`).
    public static func name(_ name: OpaquePointer?) -> String {
        guard let name, let bio = BIO_new(BIO_s_mem()) else { return "" }
        defer { BIO_free(bio) }
        X509_NAME_print_ex(bio, name, 0, UInt(XN_FLAG_SEP_CPLUS_SPC) | UInt(ASN1_STRFLGS_UTF8_CONVERT))
        return readAll(bio)
    }

    /// Everything a memory BIO holds, as text.
    public static func readAll(_ bio: OpaquePointer) -> String {
        var out = [UInt8]()
        var buffer = [UInt8](repeating: 0, count: 1024)
        while true {
            let count = BIO_read(bio, &buffer, Int32(buffer.count))
            if count <= 0 { break }
            out += buffer[0..<Int(count)]
        }
        return String(decoding: out, as: UTF8.self)
    }

    static func commonName(_ name: OpaquePointer?) -> String? {
        guard let name else { return nil }
        let index = X509_NAME_get_index_by_NID(name, NID_commonName, -1)
        guard index >= 0, let entry = X509_NAME_get_entry(name, index), let data = X509_NAME_ENTRY_get_data(entry) else { return nil }
        var utf8: UnsafeMutablePointer<UInt8>? = nil
        let length = ASN1_STRING_to_UTF8(&utf8, data)
        guard length >= 0, let utf8 else { return nil }
        defer { CRYPTO_free(utf8, #fileID, #line) }
        return String(decoding: UnsafeBufferPointer(start: utf8, count: Int(length)), as: UTF8.self)
    }

    /// Whether `hostname` is covered: SAN DNS names when the certificate has a SAN (RFC 6125 —
    /// the CN is then ignored), else the CN. A wildcard stands for exactly one whole left-most
    /// label (`*.example.com` covers `www.example.com`, not `example.com` or `a.b.example.com`);
    /// partial wildcards (`w*.example.com`) cover nothing.
    public func covers(_ hostname: String) -> (covered: Bool, byCommonNameOnly: Bool) {
        let host = Self.comparable(hostname)
        if hasSubjectAltName {
            if let address = IPAddress(host) { return (ipAddresses.contains { IPAddress($0) == address }, false) }
            return (dnsNames.contains { Self.matches(pattern: $0, host) }, false)
        }
        guard let commonName else { return (false, false) }
        let covered = Self.matches(pattern: commonName, host)
        return (covered, covered)
    }

    /// When `hostname` is covered only through a wildcard, the CA in `issuers` whose DNS name
    /// constraints exclude it (or permit other names only): OpenSSL checks the wildcard pattern
    /// against the constraint and lets it pass, Go's crypto/x509 (since CVE-2025-61727) and
    /// rustls/webpki judge the name the wildcard stands for and refuse it.
    public func wildcardEscapesConstraints(_ hostname: String, issuers: [CertificateInfo]) -> CertificateInfo? {
        let host = Self.comparable(hostname)
        guard hasSubjectAltName, IPAddress(host) == nil, !dnsNames.contains(where: { $0.lowercased() == host }),
              dnsNames.contains(where: { $0.hasPrefix("*.") && Self.matches(pattern: $0, host) }) else { return nil }
        func within(_ base: String) -> Bool {
            let base = base.hasPrefix(".") ? String(base.dropFirst()) : base
            return host == base || host.hasSuffix("." + base)
        }
        return issuers.first { issuer in
            issuer.excludedDNS.contains(where: within) || (!issuer.permittedDNS.isEmpty && !issuer.permittedDNS.contains(where: within))
        }
    }

    /// A host name as names are compared: lowercased, without leading or trailing dots.
    static func comparable(_ hostname: String) -> String {
        if LowercaseASCII.holds(hostname) && hostname.utf8.first != UInt8(ascii: ".") && hostname.utf8.last != UInt8(ascii: ".") { return hostname }
        return hostname.lowercased().trimmingCharacters(in: CharacterSet(charactersIn: "."))
    }

    static func matches(pattern: String, _ host: String) -> Bool {
        let pattern = LowercaseASCII.lowercased(pattern)
        if pattern == host { return true }
        guard pattern.hasPrefix("*.") else { return false }
        let suffix = pattern.dropFirst(2)
        guard !suffix.contains("*"), suffix.contains("."), let dot = host.firstIndex(of: ".") else { return false }
        return host[host.index(after: dot)...] == suffix && host[..<dot].count > 0
    }
}

/// The texts libcrypto gives for small codes (an object's name, a verification error's reason),
/// each made once: thousands of certificates and verdicts share one copy (thread-safe).
final class CodeTexts<Code: Hashable & Sendable>: Sendable {
    private let known = Mutex<[Code: String]>([:])
    private let make: @Sendable (Code) -> String

    init(_ make: @escaping @Sendable (Code) -> String) { self.make = make }

    func text(_ code: Code) -> String {
        known.withLock { known in
            if let text = known[code] { return text }
            let text = make(code)
            known[code] = text
            return text
        }
    }
}

/// Names interned while loading: one copy of each distinct text (thread-safe).
final class NameTable: Sendable {
    private let known = Mutex<Set<String>>([])

    func intern(_ name: String) -> String {
        known.withLock { known in known.insert(name).memberAfterInsert }
    }
}

/// A SHA-256 digest as four words.
struct CertificateDigest: Hashable, Sendable {
    var words: (UInt64, UInt64, UInt64, UInt64)

    init(_ bytes: [UInt8]) {
        func word(_ at: Int) -> UInt64 {
            (0..<8).reduce(UInt64(0)) { $0 << 8 | UInt64(at + $1 < bytes.count ? bytes[at + $1] : 0) }
        }
        words = (word(0), word(8), word(16), word(24))
    }

    /// The 32 bytes, in order.
    var bytes: [UInt8] {
        [words.0, words.1, words.2, words.3].flatMap { word in (0..<8).map { UInt8(truncatingIfNeeded: word >> (56 - 8 * $0)) } }
    }

    static func == (a: CertificateDigest, b: CertificateDigest) -> Bool { a.words == b.words }
    func hash(into hasher: inout Hasher) {
        hasher.combine(words.0)
        hasher.combine(words.1)
        hasher.combine(words.2)
        hasher.combine(words.3)
    }
}

/// A private key as far as it could be read without a passphrase.
public struct KeyInfo: Sendable, Hashable {
    public var type: String?
    public var bits: Int?
    public var curve: String?
    public var encrypted: Bool
    /// DER of the public half (SubjectPublicKeyInfo), when the key could be read.
    public var publicKey: [UInt8]?
    /// The key's PEM, to settle a comparison the DER cannot (see `belongs(to:)`).
    public var source: KeySource?

    public init(type: String?, bits: Int?, curve: String?, encrypted: Bool, publicKey: [UInt8]?, source: KeySource? = nil) {
        self.type = type
        self.bits = bits
        self.curve = curve
        self.encrypted = encrypted
        self.publicKey = publicKey
        self.source = source
    }

    /// Whether this is the private key of the certificate. Equal public-key DER settles it at
    /// once; otherwise OpenSSL compares the keys themselves, since a certificate may encode the
    /// same key differently (a compressed EC point, explicit curve parameters).
    public func belongs(to certificate: CertificateInfo) -> Bool {
        guard let publicKey else { return false }
        if certificate.hasPublicKey(publicKey) { return true }
        return source?.belongs(to: certificate) ?? false
    }
}

/// One certificate or key file, loaded once whoever refers to it.
public struct CertificateFile: Sendable, Hashable {
    public var hostPath: String
    public var displayPath: String
    /// In file order (leaf first, as served).
    public var certificates: [CertificateInfo]
    public var keys: [KeyInfo]
    /// POSIX permission bits, when they could be read.
    public var permissions: UInt16?
}

/// Every certificate and key file the inputs name or contain, loaded once.
public struct CertificateInventory: Sendable {
    public var files: [String: CertificateFile]
    /// References to files that do not exist (the server will not start).
    public var missing: [CertificateReference]
    public var trust: TrustStore?

    public init(files: [String: CertificateFile] = [:], missing: [CertificateReference] = [], trust: TrustStore? = nil) {
        self.files = files
        self.missing = missing
        self.trust = trust
    }

    public subscript(hostPath: String) -> CertificateFile? { files[hostPath] }
}
