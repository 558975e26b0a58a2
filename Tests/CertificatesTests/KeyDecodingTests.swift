import Foundation
import Testing
import TestSupport
import COpenSSL
@testable import Certificates

/// The fast key path (legacy ASN.1 decoders) must say exactly what OpenSSL's full decoder says,
/// for every encoding `openssl` writes; keys it does not handle must fall through to the full one.
@Suite struct KeyDecodingTests {
    /// name, the openssl commands that write `NAME.key` (and `NAME.pem`, a certificate for it).
    static let kinds: [(String, String)] = [
        ("rsa-pkcs1", "openssl genrsa -traditional -out rsa-pkcs1.key 2048"),
        ("rsa-pkcs8", "openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:3072 -out rsa-pkcs8.key"),
        ("ec-sec1", "openssl ecparam -name prime256v1 -genkey -noout -out ec-sec1.key"),
        ("ec-pkcs8-p384", "openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 -out ec-pkcs8-p384.key"),
        ("ec-sec1-with-params", "openssl ecparam -name secp384r1 -genkey -out ec-sec1-with-params.key"),
        ("ec-compressed", "openssl ecparam -name prime256v1 -genkey -noout -conv_form compressed -out ec-compressed.key"),
        ("ec-explicit", "openssl ecparam -name prime256v1 -genkey -noout -param_enc explicit -out ec-explicit.key"),
        ("ed25519", "openssl genpkey -algorithm ED25519 -out ed25519.key"),
        ("rsa-pss", "openssl genpkey -algorithm RSA-PSS -pkeyopt rsa_keygen_bits:2048 -out rsa-pss.key"),
    ]

    static let directory: URL? = {
        guard TestTools.locate("openssl") != nil, let directory = try? TestTools.temporaryDirectory("keys") else { return nil }
        var script = "set -e\n"
        for (name, command) in kinds {
            script += "\(command) 2>/dev/null\n"
            script += "openssl req -new -x509 -key \(name).key -subj /CN=\(name).test -days 30 -out \(name).pem 2>/dev/null\n"
        }
        // The same P-256 key, its certificate's public key written as a compressed point.
        script += "openssl ec -in ec-sec1.key -conv_form compressed -out ec-sec1-as-compressed.key 2>/dev/null\n"
        script += "openssl req -new -x509 -key ec-sec1-as-compressed.key -subj /CN=compressed.test -days 30 -out ec-compressed-cert.pem 2>/dev/null\n"
        guard let result = try? TestTools.run("/bin/sh", ["-c", script], currentDirectory: directory.path, timeout: 120), result.status == 0 else { return nil }
        return directory
    }()

    static func file(_ name: String) throws -> [UInt8] {
        let directory = try #require(Self.directory, "openssl could not generate the keys")
        return try [UInt8](Data(contentsOf: directory.appendingPathComponent(name)))
    }

    static func certificate(_ name: String) throws -> CertificateInfo {
        try #require(PEMReader.certificates(in: try file(name)).first.flatMap(CertificateInfo.init))
    }

    @Test(arguments: kinds.map(\.0))
    func fastPathAgreesWithTheFullDecoder(_ name: String) throws {
        let pem = try Self.file("\(name).key")
        let block = try #require(PEMBlock.scan(pem).first { $0.isPrivateKey })
        let full = try #require(PEMReader.decodePrivateKey(pem).key, "OpenSSL cannot read \(name)")
        let (type, bits, curve) = CertificateInfo.describe(full.pointer)
        let spki = CertificateInfo.bytes { i2d_PUBKEY(full.pointer, $0) }
        let handled = ["rsa-pkcs1", "rsa-pkcs8", "ec-sec1", "ec-pkcs8-p384", "ec-sec1-with-params", "ec-compressed"]
        let fast = PEMReader.fastKey(Array(pem[block.range]), label: block.label)
        #expect((fast != nil) == handled.contains(name), "\(name): the fast path \(fast == nil ? "declined" : "took") it")
        if let fast {
            #expect(fast.type == type && fast.bits == bits && fast.curve == curve, "\(name): fast \(String(describing: fast.type)) \(String(describing: fast.bits)) \(String(describing: fast.curve)) vs full \(type) \(bits) \(String(describing: curve))")
            #expect(fast.publicKey == spki, "\(name): the public key DER differs")
        }
        // Through the loader's entry point, whichever path: the key belongs to its certificate only.
        let loaded = try #require(PEMReader.privateKeys(in: pem, blocks: PEMBlock.scan(pem)).first?.key)
        #expect(loaded.type == type && loaded.bits == bits && loaded.curve == curve)
        #expect(loaded.belongs(to: try Self.certificate("\(name).pem")))
        let other = name == "rsa-pkcs1" ? "rsa-pkcs8" : "rsa-pkcs1"
        #expect(!loaded.belongs(to: try Self.certificate("\(other).pem")))
    }

    /// Certificate keys are decoded by libcrypto's built-in methods (oa_decode_certificate_keys_directly),
    /// not by the provider decoders the `openssl` program uses: both must see the same key.
    @Test(arguments: kinds.map { "\($0.0).pem" } + ["ec-compressed-cert.pem"])
    func certificateKeysAgreeWithTheOpenSSLProgram(_ name: String) throws {
        let directory = try #require(Self.directory, "openssl could not generate the keys")
        let text = try TestTools.run("openssl", ["x509", "-noout", "-text", "-in", name], currentDirectory: directory.path, timeout: 60).stdout
        func value(after label: String) -> String? {
            text.split(separator: "\n").lazy.compactMap { line -> String? in
                guard let range = line.range(of: label) else { return nil }
                return line[range.upperBound...].trimmingCharacters(in: .whitespaces)
            }.first
        }
        let algorithms = ["rsaEncryption": "RSA", "id-ecPublicKey": "EC", "ED25519": "ED25519", "rsassaPss": "RSA-PSS"]
        let certificate = try Self.certificate(name)
        #expect(certificate.keyType == value(after: "Public Key Algorithm:").flatMap { algorithms[$0] }, "\(name)")
        // `Public-Key: (256 bit)` (for Ed25519 the program prints no size)
        if certificate.keyType != "ED25519" {
            #expect(value(after: "Public-Key: (").map { "(" + $0 } == "(\(certificate.keyBits) bit)", "\(name)")
        }
        if let curve = value(after: "ASN1 OID:") { #expect(certificate.curve == curve, "\(name)") }
        // Self-signed by its own key: the signature is checked with the key as decoded here.
        #expect(certificate.isSelfSigned, "\(name)")
    }

    /// The fingerprint (spelt from the digest when asked) and the public key (the bytes of the
    /// certificate's DER that hold it) are what the `openssl` program prints for the certificate;
    /// a key's own public half, kept instead of its PEM, still settles whether it belongs.
    @Test(arguments: kinds.map { "\($0.0).pem" } + ["ec-compressed-cert.pem"])
    func fingerprintAndPublicKeyAgreeWithTheOpenSSLProgram(_ name: String) throws {
        let directory = try #require(Self.directory, "openssl could not generate the keys")
        let fingerprint = try TestTools.run("openssl", ["x509", "-noout", "-fingerprint", "-sha256", "-in", name],
                                            currentDirectory: directory.path, timeout: 60).stdout
        let certificate = try Self.certificate(name)
        #expect(fingerprint.trimmingCharacters(in: .whitespacesAndNewlines).hasSuffix("=" + certificate.fingerprint), "\(name): \(fingerprint)")
        let spki = directory.appendingPathComponent("\(name).spki")
        _ = try TestTools.run("/bin/sh", ["-c", "openssl x509 -noout -pubkey -in \(name) | openssl pkey -pubin -outform DER -out \(spki.lastPathComponent)"],
                              currentDirectory: directory.path, timeout: 60)
        let expected = try [UInt8](Data(contentsOf: spki))
        #expect(certificate.publicKey == expected, "\(name): the public key DER differs")
        #expect(certificate.hasPublicKey(expected) && !certificate.hasPublicKey(Array(expected.dropLast())))
        guard name != "ec-compressed-cert.pem" else { return }
        let pem = try Self.file(name.replacingOccurrences(of: ".pem", with: ".key"))
        let key = try #require(PEMReader.privateKeys(in: pem, blocks: PEMBlock.scan(pem)).first?.key)
        #expect(key.source?.keepsPrivateKeyText == false, "\(name): the key's PEM is kept for the whole run")
        #expect(key.belongs(to: certificate))
    }

    /// Chains with the same objections share one list of them (thousands of leaves of one
    /// issuer each held a copy): two self-signed leaves, one objection each, one list.
    @Test func verdictsWithTheSameObjectionsShareOneList() throws {
        let store = TrustStore(systemStore: false)
        // A day on: inside both certificates' 30 days, whenever the test made them.
        let now = Date().addingTimeInterval(86_400)
        let first = store.verify(leaf: try Self.certificate("rsa-pkcs1.pem"), served: [], at: now)
        let second = store.verify(leaf: try Self.certificate("ec-sec1.pem"), served: [], at: now)
        #expect(first.problems.count == 1 && first.problems == second.problems, "\(first.problems) \(second.problems)")
        let storage = [first, second].map { verdict in verdict.problems.withUnsafeBufferPointer { $0.baseAddress } }
        #expect(storage[0] == storage[1])
    }

    /// A damaged signature is caught whichever way the key was decoded: the last byte of the
    /// signature changed (still valid DER), the certificate is no longer self-signed.
    @Test(arguments: ["rsa-pkcs1.pem", "ec-sec1.pem", "ed25519.pem"])
    func aDamagedSelfSignatureIsCaught(_ name: String) throws {
        let directory = try #require(Self.directory, "openssl could not generate the keys")
        let der = directory.appendingPathComponent("\(name).der")
        _ = try TestTools.run("openssl", ["x509", "-in", name, "-outform", "DER", "-out", der.path], currentDirectory: directory.path, timeout: 60)
        var bytes = try [UInt8](Data(contentsOf: der))
        let intact = try #require(X509Object(der: bytes).flatMap(CertificateInfo.init))
        #expect(intact.isSelfSigned)
        bytes[bytes.count - 1] ^= 0x01
        let damaged = try #require(X509Object(der: bytes).flatMap(CertificateInfo.init))
        #expect(!damaged.isSelfSigned, "\(name): a damaged signature still verifies")
    }

    @Test func aCompressedPointInTheCertificateStillMatches() throws {
        // The key file has an uncompressed point, the certificate a compressed one: the DER
        // differs, the key is the same; OpenSSL's comparison settles it.
        let pem = try Self.file("ec-sec1.key")
        let key = try #require(PEMReader.privateKeys(in: pem, blocks: PEMBlock.scan(pem)).first?.key)
        let certificate = try Self.certificate("ec-compressed-cert.pem")
        #expect(key.publicKey != certificate.publicKey)
        #expect(key.belongs(to: certificate))
    }

    @Test func keyMaterialNeverShowsInDescriptions() throws {
        let pem = try Self.file("rsa-pkcs1.key")
        let key = try #require(PEMReader.privateKeys(in: pem, blocks: PEMBlock.scan(pem)).first?.key)
        var dumped = ""
        dump(key, to: &dumped)
        let body = String(decoding: pem, as: UTF8.self).split(separator: "\n").dropFirst().first.map(String.init) ?? "-"
        for text in ["\(key)", String(describing: key), String(reflecting: key), dumped] {
            #expect(!text.contains(body) && !text.contains("PRIVATE KEY"), "\(text.prefix(300))")
        }
    }

    @Test func blocksAreFoundWithTheirLinesAndTruncatedOnesCount() {
        let text = "junk\r\n  -----BEGIN CERTIFICATE-----  \r\nAAAA\r\n-----END CERTIFICATE-----\r\n-----BEGIN EC PRIVATE KEY-----\nBBBB\n-----BEGIN CERTIFICATE-----\nCCCC"
        let blocks = PEMBlock.scan(Array(text.utf8))
        #expect(blocks.map(\.label) == ["CERTIFICATE", "EC PRIVATE KEY", "CERTIFICATE"])
        #expect(blocks.map(\.line) == [2, 5, 7])
        #expect(blocks.filter(\.isCertificate).count == 2 && blocks.filter(\.isPrivateKey).count == 1)
        // Old Mac line ends (a lone CR) end lines too, as the input classifier always read them.
        let mac = PEMBlock.scan(Array("-----BEGIN CERTIFICATE-----\rAAAA\r-----END CERTIFICATE-----\r".utf8))
        #expect(mac.map(\.label) == ["CERTIFICATE"] && mac.first?.range == 0..<59)
    }
}
