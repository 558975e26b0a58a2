import Testing
import Foundation
@testable import OriginAuditCore

/// The byte-level shortcuts agree with the String code they stand in front of.
@Suite struct ByteFastPathTests {
    /// `String(exactly:)` writes the bytes the standard interpolation writes, for short and
    /// long parts, non-ASCII text, integers and substrings.
    @Test func exactTextAsTheStandardInterpolation() {
        let texts = ["", "a", "site0.example.com", "Bücher.example", "e\u{301}", "🙂", String(repeating: "x", count: 300)]
        for a in texts {
            for b in texts {
                #expect(Array(String(exactly: "\(a) \(b)").utf8) == Array("\(a) \(b)".utf8))
                #expect(Array(String(exactly: "\(a)\(b)").utf8) == Array("\(a)\(b)".utf8))
                #expect(Array(String(exactly: "the \(a) named \(b[...]): \(42) on \(UInt16(443))").utf8)
                        == Array("the \(a) named \(b[...]): \(42) on \(UInt16(443))".utf8))
            }
        }
        #expect(String(exactly: "no values") == "no values")
    }

    static let components = ["", ".", "..", "...", "a", ".a", "a.", "b.c", "é", "--"]

    /// Every path of up to four components from `components`, absolute and relative.
    static var paths: [String] {
        var paths = [""]
        var level = [[String]()]
        for _ in 1...4 {
            level = level.flatMap { prefix in components.map { prefix + [$0] } }
            for parts in level {
                paths.append(parts.joined(separator: "/"))
                paths.append("/" + parts.joined(separator: "/"))
            }
        }
        return paths
    }

    @Test func pathAlreadyNormalisedIsExactlyWhatNormalisingLeavesAlone() {
        for path in Self.paths {
            // Appending a component and climbing out of it forces the component-by-component path.
            let slow = SourceTree.normalise(path + "/x/..")
            if SourceTree.isNormalised(path) {
                #expect(slow == path, "\(path)")
            } else if path.hasPrefix("/") {
                #expect(slow != path, "\(path)")
            }
        }
    }

    @Test func beginMarkerFoundOnBytesAsFoundationFindsIt() {
        let texts = ["", "-", "-----BEGI", "-----BEGIN", "x-----BEGIN", "----BEGIN", "------BEGIN", "-----BEGIn",
                     "a -----BEGIN PRIVATE KEY----- b", "é-----BEGINé", "-----END", "- - - - -BEGIN", "----- BEGIN",
                     String(repeating: "-", count: 40) + "BEGIN"]
        for text in texts {
            #expect(KeyMaterial.hasBeginMarker(text) == text.contains("-----BEGIN"), "\(text)")
        }
    }

    /// The first occurrence ByteSearch finds is the one a plain scan of every start finds, on
    /// needles that start with a byte repeated around them, overlap themselves, or are longer
    /// than the text.
    @Test func firstRangeAsAScanOfEveryStart() {
        let texts: [[UInt8]] = [[], [1], [1, 1, 2], [0, 1, 0, 1, 0, 2], [3, 3, 3, 3], Array(0..<40), Array(repeating: 7, count: 9) + [8]]
        let needles: [[UInt8]] = [[], [1], [1, 2], [0, 1, 0, 2], [3, 3], [3, 3, 3, 3, 3], [38, 39], [7, 8], [9], [7, 7, 7, 7, 7, 7, 7, 7, 7, 8]]
        for text in texts {
            for needle in needles {
                let scan = needle.isEmpty || needle.count > text.count ? nil
                    : (0...(text.count - needle.count)).first { Array(text[$0..<($0 + needle.count)]) == needle }.map { $0..<($0 + needle.count) }
                let found = text.withUnsafeBufferPointer { t in needle.withUnsafeBufferPointer { ByteSearch.firstRange(of: $0, in: t) } }
                #expect(found == scan, "\(needle) in \(text)")
            }
        }
    }

    /// The bytewise order is the standard library's order of the UTF-8 bytes (shared prefixes,
    /// empty texts, bytes above 0x7F, a NUL), both ways round.
    @Test func byteOrderAsTheUTF8Bytes() {
        let texts = ["", "a", "A", "ab", "a b", "a\u{0}", "a-b", "a.b", "a/b", "a_b", "é", "e\u{301}", "z", "~", "ß", "\u{1F600}", "ab\u{1F600}", "abc"]
        for a in texts {
            for b in texts {
                #expect(ByteOrder.precedes(a, b) == a.utf8.lexicographicallyPrecedes(b.utf8), "\(a) < \(b)")
            }
        }
    }

    /// The case-folding prefix test is `lowercased().hasPrefix` on ASCII text, and no byte of a
    /// non-ASCII character matches an ASCII letter.
    @Test func asciiPrefixAsLowercasedHasPrefix() {
        let texts = ["", "h", "HTTP://x", "https://x", "Https:/", "http:", "$Scheme://", "$schem", "LoadModule x", "<VirtualHost *:80>", "<virtualhos", "\u{212A}ttp://", "h\u{0}ttp://"]
        let prefixes: [StaticString] = ["http://", "https://", "$scheme", "loadmodule ", "<virtualhost", "h", ""]
        for text in texts {
            for prefix in prefixes {
                // The one non-ASCII text starts with its non-ASCII character (the Kelvin sign, whose
                // lowercase is "k"): only the empty prefix is found there.
                let expected = text.utf8.allSatisfy { $0 < 0x80 } ? text.lowercased().hasPrefix(prefix.description) : prefix.utf8CodeUnitCount == 0
                #expect(LowercaseASCII.hasPrefix(text.utf8, prefix) == expected, "\(text) \(prefix)")
                #expect(LowercaseASCII.hasPrefix(Substring(text).utf8, prefix) == expected, "\(text) \(prefix) as a substring")
            }
        }
    }

    /// Eight bytes at a time, `holds` finds the one capital or non-ASCII byte wherever it is in a
    /// text of any length, as a test of every byte finds it (the bytes around `A`-`Z` included).
    @Test func lowercaseASCIIAsATestOfEveryByte() {
        for length in 0...19 {
            for position in -1..<length {
                for odd in ["@", "A", "M", "Z", "[", "`", "a", "z", "{", "\u{7F}", "é", "\u{212A}"] {
                    var text = String(repeating: "a", count: length)
                    if position >= 0 {
                        text = String(text.prefix(position)) + odd + String(text.dropFirst(position + 1))
                    }
                    let expected = !text.utf8.contains { $0 >= 0x80 || ($0 >= 0x41 && $0 <= 0x5A) }
                    #expect(LowercaseASCII.holds(text) == expected, "\(text)")
                    #expect(LowercaseASCII.lowercased(text) == text.lowercased(), "\(text)")
                }
            }
        }
    }

    /// The fingerprint hashes rule id, file and key (or message) as one text joined by U+001F,
    /// and spells the hash as 16 hex digits: as it did when it joined them first.
    @Test func fingerprintAsTheJoinedText() {
        let findings = [
            Finding(ruleId: "a.b", message: "m"),
            Finding(ruleId: "a.b", message: "é \u{1F}", location: SourceLocation(file: "f/ü.conf", line: 3), key: "k"),
            Finding(ruleId: "", message: "", location: SourceLocation(file: "")),
        ]
        for finding in findings {
            let identity = [finding.ruleId, finding.location?.file ?? "", finding.key ?? finding.message].joined(separator: "\u{1F}")
            let digits = String(FNV1a.hash(identity), radix: 16)
            #expect(finding.fingerprint == String(repeating: "0", count: 16 - digits.count) + digits)
        }
        for value: UInt64 in [0, 1, 0xF, 0x10, 0xDEAD_BEEF, .max] {
            let digits = String(value, radix: 16)
            #expect(FNV1a.hex(value) == String(repeating: "0", count: 16 - digits.count) + digits)
        }
    }

    /// `exactlySized` is the same text, byte for byte, whatever its length or script, and a
    /// string grown by appending gets storage of its own.
    @Test func exactlySizedIsTheSameText() {
        var grown = ""
        for piece in ["", "a", "é", "0123456789abcde", "—", "/etc/ssl/sites/site0.hosting.test.pem", "𝔘nicode", String(repeating: "x", count: 600)] {
            grown += piece
            for text in [piece, grown, "\(grown) (CN=\(piece)): harmless"] {
                let copy = text.exactlySized
                #expect(copy == text)
                #expect(Array(copy.utf8) == Array(text.utf8))
            }
        }
        #expect(!SharedText.sameStorage(grown.exactlySized, grown))
    }
}
