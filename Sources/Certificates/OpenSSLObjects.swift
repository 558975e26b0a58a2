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
        let parsed: OpaquePointer? = der.withUnsafeBufferPointer { buffer in
            var cursor = buffer.baseAddress
            return d2i_X509(nil, &cursor, buffer.count)
        }
        guard let parsed else { return nil }
        self.init(parsed)
    }
}

/// An owned EVP_PKEY.
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
/// `--ca-file`. Built once while loading (the only I/O); verifying against it reads nothing.
public final class TrustStore: @unchecked Sendable {
    // Immutable after init; OpenSSL locks the store internally for concurrent verification.
    let store: OpaquePointer
    /// Problems met while building it (an unreadable --ca-file), for notes.
    public let problems: [String]

    public init(extraCAFiles: [String] = [], systemStore: Bool = true) {
        store = X509_STORE_new()
        var problems: [String] = []
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
        for path in extraCAFiles {
            guard let data = FileManager.default.contents(atPath: path) else {
                problems.append("--ca-file \(path) cannot be read")
                continue
            }
            let certificates = PEMReader.certificates(in: [UInt8](data))
            if certificates.isEmpty { problems.append("--ca-file \(path) holds no PEM certificate") }
            for certificate in certificates { X509_STORE_add_cert(store, certificate.pointer) }
        }
        ERR_clear_error()
        self.problems = problems
    }

    deinit { X509_STORE_free(store) }

    private let cacheLock = NSLock()
    private var cache: [String: ChainVerdict] = [:]

    /// Verifies a leaf with the untrusted certificates served beside it, at an instant. Several
    /// rules ask about the same chain: the verdict is computed once.
    public func verify(leaf: CertificateInfo, served: [CertificateInfo], at: Date) -> ChainVerdict {
        let key = ([leaf.fingerprint] + served.map(\.fingerprint)).joined(separator: "|") + "@\(at.timeIntervalSince1970)"
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
        let leafObject = leaf.handle
        let others = served.map(\.handle)
        var pointers: [OpaquePointer?] = others.map { $0.pointer }
        var depth: Int32 = 0, length: Int32 = 0
        let code = pointers.withUnsafeMutableBufferPointer { buffer in
            oa_verify(store, leafObject.pointer, buffer.baseAddress, Int32(buffer.count), time_t(at.timeIntervalSince1970), &depth, &length)
        }
        withExtendedLifetime(others) {}
        ERR_clear_error()
        return ChainVerdict(code: Int(code), reason: String(cString: X509_verify_cert_error_string(Int(code))), depth: Int(depth), chainLength: Int(length))
    }
}

/// The result of chain verification, in OpenSSL's terms (X509_V_*).
public struct ChainVerdict: Sendable, Hashable {
    public var code: Int
    public var reason: String
    /// Where in the chain it failed (0: the leaf).
    public var depth: Int
    public var chainLength: Int

    public var isTrusted: Bool { code == Int(X509_V_OK) }
    public var isExpiry: Bool { code == Int(X509_V_ERR_CERT_HAS_EXPIRED) || code == Int(X509_V_ERR_CERT_NOT_YET_VALID) }
    /// The leaf itself is self-signed and not trusted.
    public var isSelfSignedLeaf: Bool { code == Int(X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT) }
    /// The served chain ends at a root nobody trusts.
    public var isUntrustedRoot: Bool { code == Int(X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN) }
    /// No issuer could be found for some certificate of the chain.
    public var isMissingIssuer: Bool {
        code == Int(X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY) || code == Int(X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT)
            || code == Int(X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE)
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
        guard let bio = MemoryBIO(bytes) else { return [] }
        var result: [X509Object] = []
        while let certificate = PEM_read_bio_X509(bio.pointer, nil, nil, nil) {
            result.append(X509Object(certificate))
        }
        ERR_clear_error()
        return result
    }

    /// Every private key block in a PEM text: loaded, or marked encrypted when it needs a
    /// passphrase (the callback fails instead of prompting), or unreadable.
    static func privateKeys(in bytes: [UInt8]) -> [(key: PrivateKeyObject?, encrypted: Bool, error: String?)] {
        let text = String(decoding: bytes, as: UTF8.self)
        var blocks: [String] = []
        var current: [Substring] = []
        var inside = false
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            let trimmed = line.trimmingCharacters(in: .whitespacesAndNewlines)
            if trimmed.hasPrefix("-----BEGIN ") && trimmed.hasSuffix("PRIVATE KEY-----") { inside = true; current = [] }
            if inside { current.append(line) }
            if inside && trimmed.hasPrefix("-----END ") && trimmed.hasSuffix("PRIVATE KEY-----") {
                blocks.append(current.joined(separator: "\n") + "\n")
                inside = false
            }
        }
        return blocks.map { block in
            let headerSaysEncrypted = block.contains("BEGIN ENCRYPTED PRIVATE KEY") || block.contains("Proc-Type: 4,ENCRYPTED")
            guard let bio = MemoryBIO(Array(block.utf8)) else { return (nil, headerSaysEncrypted, "out of memory") }
            var asked: Int32 = 0
            let key = withUnsafeMutablePointer(to: &asked) { flag in
                PEM_read_bio_PrivateKey(bio.pointer, nil, oa_no_password, UnsafeMutableRawPointer(flag))
            }
            let error = OpenSSLError.drain()
            if let key { return (PrivateKeyObject(key), false, nil) }
            if asked != 0 || headerSaysEncrypted { return (nil, true, nil) }
            return (nil, false, error.isEmpty ? "not a readable private key" : error)
        }
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
