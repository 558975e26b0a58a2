import Foundation

/// The secret half of a private key, as `openssl pkey -text` prints it (RSA's private exponent,
/// an EC or EdDSA key's `priv`), and whether some saved bytes give it away — in the clear or
/// inside any base64 run (a PEM block's lines joined, a JSON string). Public parts of a key (an
/// RSA modulus, a curve's parameters) also appear in certificates and are not secret.
public enum KeySecrets {
    /// The secret value of the key in `file` (leading zero bytes dropped); nil when openssl cannot read it.
    public static func secret(ofKeyFile file: String) throws -> [UInt8]? {
        let result = try TestTools.run("openssl", ["pkey", "-in", file, "-text", "-noout", "-passin", "pass:secret"], timeout: 30)
        guard result.status == 0 else { return nil }
        var hex = ""
        var inside = false
        for line in result.stdout.split(separator: "\n") {
            if line == "privateExponent:" || line == "priv:" { inside = true; continue }
            if inside {
                guard line.hasPrefix(" ") else { break }
                hex += line.filter { $0.isHexDigit }
            }
        }
        var bytes: [UInt8] = []
        var index = hex.startIndex
        while index < hex.endIndex, let next = hex.index(index, offsetBy: 2, limitedBy: hex.endIndex),
              let byte = UInt8(hex[index..<next], radix: 16) {
            bytes.append(byte)
            index = next
        }
        let trimmed = Array(bytes.drop { $0 == 0 })
        return trimmed.count >= 16 ? trimmed : nil
    }

    /// Whether `saved` holds 16 consecutive bytes of `secret`, as bytes or inside a base64 run.
    public static func reveals(_ saved: [UInt8], secret: [UInt8]) -> Bool {
        let needle = Array(secret.prefix(16))
        func holds(_ bytes: [UInt8]) -> Bool {
            guard bytes.count >= needle.count else { return false }
            return (0...(bytes.count - needle.count)).contains { bytes[$0..<($0 + needle.count)].elementsEqual(needle) }
        }
        if holds(saved) { return true }
        // Base64 runs: letters, digits, + / = and line breaks inside them (PEM bodies).
        let alphabet = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=".utf8)
        var run: [UInt8] = []
        var runs: [[UInt8]] = []
        for byte in saved + [0] {
            if alphabet.contains(byte) { run.append(byte) }
            else if byte == 0x0A || byte == 0x0D { continue }
            else { if run.count >= 20 { runs.append(run) }; run = [] }
        }
        for run in runs {
            // Every alignment: a run may start mid-quantum (a label glued to the body).
            for start in 0..<min(4, run.count) {
                var text = String(decoding: run[start...], as: UTF8.self).replacingOccurrences(of: "=", with: "")
                text = String(text.prefix(text.count / 4 * 4))
                if let data = Data(base64Encoded: text), holds(Array(data)) { return true }
            }
        }
        return false
    }
}
