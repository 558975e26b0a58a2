import Foundation
import Testing
import TestSupport
@testable import Certificates

/// A saved file (`scan --live --save`) must load as the original loads — same certificates, same
/// keys as far as any rule looks at them (type, size, curve, encrypted, public key, whether the
/// key belongs to the certificate), same findings on the same lines — while holding no byte of
/// the private key. Checked for every key encoding `openssl` writes, alone and beside certificates.
@Suite struct KeyStandInTests {
    static let directory: URL? = {
        guard let keys = KeyDecodingTests.directory, let directory = try? TestTools.temporaryDirectory("stand-ins") else { return nil }
        let script = """
            set -e
            openssl pkey -in '\(keys.path)/rsa-pkcs8.key' -aes256 -passout pass:secret -out encrypted.key 2>/dev/null
            openssl pkey -in '\(keys.path)/rsa-pkcs8.key' -outform DER -out key.der 2>/dev/null
            """
        guard let result = try? TestTools.run("/bin/sh", ["-c", script], currentDirectory: directory.path, timeout: 60), result.status == 0 else { return nil }
        return directory
    }()

    struct Loaded: Equatable {
        var certificates: [[UInt8]]
        var keys: [String]
        var belongs: [Bool]
        var findings: [String]
    }

    static func load(_ bytes: [UInt8]) -> Loaded {
        let (file, findings) = CertificateLoader.decode(bytes, hostPath: "/etc/ssl/private/site.pem")
        let certificates = file?.certificates ?? []
        let keys = file?.keys ?? []
        return Loaded(
            certificates: certificates.map(\.publicKey),
            keys: keys.map { "\($0.type ?? "-") \($0.bits ?? 0) \($0.curve ?? "-") \($0.encrypted) \($0.publicKey ?? [])" },
            belongs: keys.flatMap { key in certificates.map { key.belongs(to: $0) } },
            findings: findings.map { "\($0.ruleId) \($0.location?.description ?? "") \($0.message)" })
    }

    static func sanitised(_ bytes: [UInt8], mode: UInt16? = nil) -> [UInt8] {
        KeyStandIn.sanitised(bytes, origin: .init(path: "/etc/ssl/private/site.pem", mode: mode, owner: 0, group: 0), isCertificateFile: true)
    }

    /// Whether the saved bytes give away the key's secret (see `KeySecrets`).
    static func leaks(_ saved: [UInt8], keyFile: URL) throws -> Bool {
        let secret = try #require(try KeySecrets.secret(ofKeyFile: keyFile.path), "openssl should print \(keyFile.lastPathComponent)'s secret")
        return KeySecrets.reveals(saved, secret: secret)
    }

    @Test(arguments: KeyDecodingTests.kinds.map(\.0))
    func standInLoadsAsTheKey(kind: String) throws {
        let keys = try #require(KeyDecodingTests.directory)
        let key = try KeyDecodingTests.file("\(kind).key")
        let certificate = try KeyDecodingTests.file("\(kind).pem")
        for original in [key, certificate + key, key + Array("\n# comment\n".utf8) + certificate] {
            let saved = Self.sanitised(original)
            #expect(Self.load(saved) == Self.load(original), "\(kind)")
            #expect(try !Self.leaks(saved, keyFile: keys.appendingPathComponent("\(kind).key")), "\(kind): the key's secret is in the saved file")
            #expect(KeySecrets.reveals(original, secret: try #require(try KeySecrets.secret(ofKeyFile: keys.appendingPathComponent("\(kind).key").path))),
                    "\(kind): the check must find the secret in the original")
            #expect(saved.split(separator: 0x0A, omittingEmptySubsequences: false).count
                    == original.split(separator: 0x0A, omittingEmptySubsequences: false).count, "\(kind): lines moved")
        }
    }

    /// A certificate that writes the same P-256 key as a compressed point: the DER differs, and
    /// the stand-in's public key must still be recognised as the certificate's (as OpenSSL compares).
    @Test func standInMatchesADifferentlyEncodedCertificate() throws {
        let original = try KeyDecodingTests.file("ec-compressed-cert.pem") + KeyDecodingTests.file("ec-sec1.key")
        let loaded = Self.load(original)
        #expect(loaded.belongs == [true])
        #expect(Self.load(Self.sanitised(original)) == loaded)
    }

    @Test func encryptedAndDERKeysAndRecordedModes() throws {
        let directory = try #require(Self.directory, "openssl could not write the keys")
        let encrypted = try [UInt8](Data(contentsOf: directory.appendingPathComponent("encrypted.key")))
        let savedEncrypted = Self.sanitised(encrypted)
        #expect(Self.load(savedEncrypted) == Self.load(encrypted))
        #expect(Self.load(savedEncrypted).keys.first?.contains("true") == true)
        #expect(try !Self.leaks(savedEncrypted, keyFile: directory.appendingPathComponent("encrypted.key")))

        // A DER key is not PEM and not a certificate: withheld whole, loaded as the original is (a parse error).
        let der = try [UInt8](Data(contentsOf: directory.appendingPathComponent("key.der")))
        let savedDER = Self.sanitised(der)
        #expect(Self.load(savedDER) == Self.load(der))
        #expect(try !Self.leaks(savedDER, keyFile: directory.appendingPathComponent("encrypted.key")))
        #expect(!savedDER.contains(0) && savedDER.count < 1_000)

        // The mode recorded is the mode judged.
        let key = try KeyDecodingTests.file("rsa-pkcs8.key")
        let (file, _) = CertificateLoader.decode(Self.sanitised(key, mode: 0o644), hostPath: "/nonexistent/site.key")
        #expect(file?.permissions == 0o644)
    }
}
