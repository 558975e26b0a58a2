import Foundation
import Testing
import TestSupport
import OriginAuditCore
@testable import Certificates

/// The input walk reads every file once and hands the certificate loader the bytes it read
/// (`CertificateLoader.ReadFiles`): the loader must parse those bytes, not the disk's, load the
/// same inventory as when it reads the files itself, and let go of each file's bytes as it goes.
@Suite struct HandedOverFilesTests {
    static let names = ["rsa-pkcs1.pem", "rsa-pkcs1.key", "ec-sec1.pem", "ec-sec1.key", "ed25519.pem", "ed25519.key"]

    static func references(_ directory: URL) -> [CertificateReference] {
        names.map { CertificateReference(hostPath: directory.appendingPathComponent($0).path, role: $0.hasSuffix(".key") ? .key : .certificate) }
    }

    /// Each file as loaded: its certificates' fingerprints and its keys' public halves.
    static func summary(_ inventory: CertificateInventory) -> [String: [String]] {
        inventory.files.mapValues { file in
            file.certificates.map(\.fingerprint) + file.keys.map { $0.publicKey.map { Data($0).base64EncodedString() } ?? "no public key" }
        }
    }

    @Test func handedOverBytesLoadAsTheFilesReadFromDisk() throws {
        let directory = try #require(KeyDecodingTests.directory, "openssl could not generate the keys")
        let tree = SourceTree(root: directory)
        let references = Self.references(directory)
        let fromDisk = CertificateLoader.load(references, tree: tree)
        var bytes: [String: [UInt8]] = [:]
        for reference in references { bytes[reference.hostPath] = try [UInt8](Data(contentsOf: URL(fileURLWithPath: reference.hostPath))) }
        let handed = CertificateLoader.ReadFiles(bytes)
        let fromHanded = CertificateLoader.load(references, tree: tree, contents: handed)
        #expect(Self.summary(fromHanded.model) == Self.summary(fromDisk.model))
        #expect(Self.summary(fromDisk.model).count == Self.names.count)
        #expect(fromHanded.findings.isEmpty && fromDisk.findings.isEmpty)
        #expect(fromHanded.files == fromDisk.files)
        // Every file taken by its load: the holder keeps no bytes.
        #expect(handed.count == 0)
    }

    /// What was read is what is judged: bytes handed over for a path are parsed instead of the
    /// file (which may have changed since the walk read it), and a file not handed over is read.
    @Test func theHandedOverBytesAreWhatIsParsed() throws {
        let directory = try #require(KeyDecodingTests.directory, "openssl could not generate the keys")
        let tree = SourceTree(root: directory)
        let first = directory.appendingPathComponent("rsa-pkcs1.pem").path
        let second = directory.appendingPathComponent("ed25519.pem").path
        let other = try KeyDecodingTests.file("ec-sec1.pem")
        let handed = CertificateLoader.ReadFiles([first: other])
        let loaded = CertificateLoader.load([CertificateReference(hostPath: first, role: .certificate),
                                             CertificateReference(hostPath: second, role: .certificate)],
                                            tree: tree, contents: handed)
        #expect(loaded.model[first]?.certificates.first?.commonName == "ec-sec1.test")
        #expect(loaded.model[second]?.certificates.first?.commonName == "ed25519.test")
        #expect(handed.count == 0)
    }
}
