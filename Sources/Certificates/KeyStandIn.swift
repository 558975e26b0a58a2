import COpenSSL
import Foundation
import OriginAuditCore

/// What `scan --live --save` writes in place of private key material: a PEM-armoured block
/// labelled `ORIGINAUDIT KEY STAND-IN` whose one body line is a JSON object holding what the
/// audit needs from the key — its type and size, whether it is encrypted, its public half
/// (SubjectPublicKeyInfo DER, base64) so key/certificate matching still works, and the file's
/// path, mode and owner as they were on the host — and never the key itself. The certificate
/// loader reads a stand-in as it reads the key it replaces.
public enum KeyStandIn {
    public static let label = "ORIGINAUDIT KEY STAND-IN"

    /// One stand-in's body.
    struct Record: Codable {
        var standIn = 1
        var path: String
        /// Octal permission bits of the original file (`"600"`).
        var mode: String?
        var owner: UInt32?
        var group: UInt32?
        var type: String?
        var bits: Int?
        var curve: String?
        var encrypted = false
        var publicKey: String?
        /// Why the key block could not be read (the loader's own message).
        var error: String?
        /// The whole file was held back: not PEM, and not a DER certificate.
        var withheld: Bool?
    }

    /// A file's metadata as the stand-ins record it.
    public struct Origin: Sendable {
        public var path: String
        public var mode: UInt16?
        public var owner: UInt32?
        public var group: UInt32?
        public init(path: String, mode: UInt16?, owner: UInt32?, group: UInt32?) {
            self.path = path
            self.mode = mode
            self.owner = owner
            self.group = group
        }
    }

    /// Labels whose blocks are public and kept as they are.
    static func isPublic(_ label: String) -> Bool {
        ["CERTIFICATE", "TRUSTED CERTIFICATE", "X509 CERTIFICATE", "X509 CRL", "PUBLIC KEY", "CERTIFICATE REQUEST",
         "NEW CERTIFICATE REQUEST"].contains(label) || label.hasSuffix(" PARAMETERS")
    }

    /// The bytes to save for a file, with no private key material in them. PEM files keep their
    /// line layout (every block starts on the line it started on): public blocks are kept,
    /// private-key blocks become stand-ins, other blocks keep only their armour; the text
    /// between blocks is kept for configuration files (`isCertificateFile` false) and blanked
    /// for certificate and key files. A file with no PEM armour is kept when it is a DER
    /// certificate or, not being a certificate or key file, holds no NUL byte; otherwise it is
    /// withheld entirely and a stand-in says so.
    public static func sanitised(_ bytes: [UInt8], origin: Origin, isCertificateFile: Bool) -> [UInt8] {
        let blocks = PEMBlock.scan(bytes)
        if blocks.isEmpty {
            if X509Object(der: bytes) != nil { return bytes }
            ERR_clear_error()
            if !isCertificateFile && !bytes.contains(0) { return bytes }
            var record = record(origin)
            record.withheld = true
            return block(record) + Array("\n".utf8)
        }
        var out: [UInt8] = []
        var position = 0
        func text(_ range: Range<Int>) {
            guard range.lowerBound < range.upperBound else { return }
            if isCertificateFile {
                out += Array(repeating: UInt8(ascii: "\n"), count: lineBreaks(bytes[range]))
            } else {
                out += bytes[range]
            }
        }
        for item in blocks {
            text(position..<item.range.lowerBound)
            position = item.range.upperBound
            let original = bytes[item.range]
            if isPublic(item.label) {
                out += original
                continue
            }
            var replacement: [UInt8]
            if item.isPrivateKey {
                var record = record(origin)
                let entry = PEMReader.privateKeys(in: bytes, blocks: [item]).first
                if let key = entry?.key {
                    record.type = key.type
                    record.bits = key.bits
                    record.curve = key.curve
                    record.publicKey = key.publicKey.map { Data($0).base64EncodedString() }
                } else if entry?.encrypted == true {
                    record.encrypted = true
                } else {
                    record.error = entry?.error ?? "not a readable private key"
                }
                replacement = block(record)
            } else {
                replacement = Array("-----BEGIN \(item.label)-----\n-----END \(item.label)-----".utf8)
            }
            // The same number of lines as the block replaced, so later blocks keep their lines.
            let breaks = lineBreaks(original)
            replacement += Array(repeating: UInt8(ascii: "\n"), count: max(breaks - lineBreaks(replacement[...]), breaks > 0 ? 1 : 0))
            out += replacement
        }
        text(position..<bytes.count)
        return out
    }

    /// The stand-ins of a file, in file order: the key each stands for (or why it cannot be
    /// read), the file's mode as recorded, and whether the file was withheld. Nil when the block
    /// is not a readable stand-in.
    static func read(_ bytes: ArraySlice<UInt8>) -> (entry: (key: KeyInfo?, encrypted: Bool, error: String?), mode: UInt16?, withheld: Bool)? {
        let lines = bytes.split(whereSeparator: { $0 == 0x0A || $0 == 0x0D })
        guard lines.count >= 2, let record = try? JSONDecoder().decode(Record.self, from: Data(lines[1])) else { return nil }
        let mode = record.mode.flatMap { UInt16($0, radix: 8) }
        if record.withheld == true { return ((nil, false, nil), mode, true) }
        if record.encrypted { return ((KeyInfo(type: nil, bits: nil, curve: nil, encrypted: true, publicKey: nil), true, nil), mode, false) }
        if let encoded = record.publicKey, let der = Data(base64Encoded: encoded) {
            let key = KeyInfo(type: record.type, bits: record.bits, curve: record.curve, encrypted: false,
                              publicKey: Array(der), source: KeySource(publicKeyDER: Array(der)))
            return ((key, false, nil), mode, false)
        }
        return ((nil, false, record.error ?? "not a readable private key"), mode, false)
    }

    private static func record(_ origin: Origin) -> Record {
        Record(path: origin.path, mode: origin.mode.map { String($0, radix: 8) }, owner: origin.owner, group: origin.group)
    }

    private static func block(_ record: Record) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let body = (try? encoder.encode(record)).map { Array($0) } ?? Array("{}".utf8)
        return Array("-----BEGIN \(label)-----\n".utf8) + body + Array("\n-----END \(label)-----".utf8)
    }

    /// Line breaks in some bytes: LF, CRLF and a lone CR each count once (as `PEMBlock.scan` counts lines).
    static func lineBreaks(_ bytes: ArraySlice<UInt8>) -> Int {
        var count = 0
        var index = bytes.startIndex
        while index < bytes.endIndex {
            if bytes[index] == 0x0A { count += 1 }
            else if bytes[index] == 0x0D {
                count += 1
                if index + 1 < bytes.endIndex && bytes[index + 1] == 0x0A { index += 1 }
            }
            index += 1
        }
        return count
    }
}
