import COpenSSL
import Foundation
import OriginAuditCore

/// One cipher suite as libssl describes it.
public struct CipherSuite: Sendable, Hashable {
    /// OpenSSL's name (`ECDHE-RSA-AES128-GCM-SHA256`, `TLS_AES_128_GCM_SHA256`).
    public var name: String
    /// The first protocol version that has it (`SSLv3`, `TLSv1`, `TLSv1.2`, `TLSv1.3`).
    public var introducedIn: String
    /// `RSA`, `ECDSA`, or `any` (TLS 1.3 suites do not fix the certificate type).
    public var authentication: String
}

/// Expands cipher strings with libssl's own parser — the same code nginx and Apache hand
/// `ssl_ciphers` / `SSLCipherSuite` to — so that what the origin offers is known exactly.
public enum CipherSuites {
    /// The suites a cipher string enables for TLS 1.2 and below (TLS 1.3 suites are configured
    /// apart and included with `tls13`), or nil when libssl rejects the string.
    public static func expand(_ cipherString: String, tls13: Bool = true) -> [CipherSuite]? {
        guard let context = SSL_CTX_new(TLS_server_method()) else { return nil }
        defer { SSL_CTX_free(context) }
        // Security level 0: list what the string names, not what this machine's policy keeps.
        SSL_CTX_set_security_level(context, 0)
        ERR_clear_error()
        guard SSL_CTX_set_cipher_list(context, cipherString) == 1 else {
            ERR_clear_error()
            return nil
        }
        guard let stack = SSL_CTX_get_ciphers(context) else { return [] }
        var result: [CipherSuite] = []
        let count = OPENSSL_sk_num(stack)
        for index in 0..<count {
            guard let raw = OPENSSL_sk_value(stack, index) else { continue }
            let cipher = OpaquePointer(raw)
            let name = String(cString: SSL_CIPHER_get_name(cipher))
            let version = String(cString: SSL_CIPHER_get_version(cipher))
            if version == "TLSv1.3" && !tls13 { continue }
            let auth: String
            switch SSL_CIPHER_get_auth_nid(cipher) {
            case NID_auth_rsa: auth = "RSA"
            case NID_auth_ecdsa: auth = "ECDSA"
            case NID_auth_any: auth = "any"
            default: auth = String(cString: OBJ_nid2sn(SSL_CIPHER_get_auth_nid(cipher)))
            }
            result.append(CipherSuite(name: name, introducedIn: version, authentication: auth))
        }
        return result
    }
}

/// Small questions about certificate text that rules may ask without holding OpenSSL objects.
public enum CertificateInspector {
    /// SHA-256 fingerprints (as `CertificateInfo.fingerprint` spells them) of the certificates in a PEM text.
    public static func fingerprints(pem: String) -> [String] {
        PEMReader.certificates(in: Array(pem.utf8)).compactMap { CertificateInfo($0)?.fingerprint }
    }
}
