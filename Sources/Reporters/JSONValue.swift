import Foundation
import OriginAuditCore

/// A JSON document built in memory and written with sorted keys, so every report is byte-for-byte
/// deterministic. Reporters build these instead of Codable structs so that absent values can be
/// written as explicit `null` where the contract shows them.
public indirect enum JSONValue: Sendable, Equatable {
    case null
    case bool(Bool)
    case int(Int)
    case double(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    /// Pretty-printed text with sorted keys and a trailing newline.
    public func rendered() -> String {
        var out: [UInt8] = []
        out.reserveCapacity(4096)
        write(into: &out, indent: 0)
        out.append(0x0A)
        return String(decoding: out, as: UTF8.self)
    }

    /// A text's bytes appended (taken in place: a literal's, or a native string's, are contiguous).
    static func append(_ text: String, to out: inout [UInt8]) {
        UTF8Bytes.of(text) { out.append(contentsOf: $0) }
    }

    static func indentation(_ level: Int, into out: inout [UInt8]) {
        let width = 2 * level
        guard width <= spaces.count else { out.append(contentsOf: repeatElement(0x20, count: width)); return }
        spaces.withUnsafeBufferPointer { out.append(contentsOf: UnsafeBufferPointer(rebasing: $0[..<width])) }
    }

    /// Spaces for `indentation`, copied in one piece (every line of a report starts with some).
    private static let spaces = [UInt8](repeating: 0x20, count: 32)

    func write(into out: inout [UInt8], indent: Int) {
        switch self {
        case .null: JSONValue.append("null", to: &out)
        case .bool(let value): JSONValue.append(value ? "true" : "false", to: &out)
        case .int(let value): JSONValue.append(String(value), to: &out)
        case .double(let value):
            JSONValue.append(value.rounded() == value && abs(value) < 1e15 ? String(Int(value)) : String(value), to: &out)
        case .string(let value): JSONValue.quote(value, into: &out)
        case .array(let values):
            if values.isEmpty { JSONValue.append("[]", to: &out); return }
            JSONValue.append("[\n", to: &out)
            for (index, value) in values.enumerated() {
                JSONValue.indentation(indent + 1, into: &out)
                value.write(into: &out, indent: indent + 1)
                JSONValue.append(index == values.count - 1 ? "\n" : ",\n", to: &out)
            }
            JSONValue.indentation(indent, into: &out)
            out.append(UInt8(ascii: "]"))
        case .object(let members):
            if members.isEmpty { JSONValue.append("{}", to: &out); return }
            JSONValue.append("{\n", to: &out)
            let keys = members.keys.sorted()
            for (index, key) in keys.enumerated() {
                JSONValue.indentation(indent + 1, into: &out)
                JSONValue.quote(key, into: &out)
                JSONValue.append(": ", to: &out)
                members[key]!.write(into: &out, indent: indent + 1)
                JSONValue.append(index == keys.count - 1 ? "\n" : ",\n", to: &out)
            }
            JSONValue.indentation(indent, into: &out)
            out.append(UInt8(ascii: "}"))
        }
    }

    /// A JSON string literal: `"` and `\` escaped, control characters as \n, \r, \t or \u00XX;
    /// everything else passes through as UTF-8.
    private static let hex = Array("0123456789abcdef".utf8)

    static func quote(_ text: String, into out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        quoted(text, into: &out)
        out.append(UInt8(ascii: "\""))
    }

    /// What `quote` writes between the quotation marks (a literal made of several texts).
    static func quoted(_ text: String, into out: inout [UInt8]) {
        UTF8Bytes.of(text) { quoted($0, into: &out) }
    }

    /// `quoted` of a text's UTF-8 bytes.
    static func quoted(_ bytes: UnsafeBufferPointer<UInt8>, into out: inout [UInt8]) {
        // Runs that need no escape (nearly all of a message) are copied whole; eight bytes
        // are looked at a time, and one by one only where some byte among them may need it.
        var run = 0, index = 0
        let count = bytes.count
        let base = UnsafeRawPointer(bytes.baseAddress)
        while index < count {
            if index + 8 <= count, !needsEscape(base!.loadUnaligned(fromByteOffset: index, as: UInt64.self)) {
                index += 8
                continue
            }
            let end = min(index + 8, count)
            while index < end {
                let byte = bytes[index]
                if byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") {
                    out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[run..<index]))
                    run = index + 1
                    escape(byte, into: &out)
                }
                index += 1
            }
        }
        out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[run...]))
    }

    /// Whether any of eight bytes is below 0x20, `"` or `\` (exact, no false alarm): a byte
    /// below n sets its top bit in `(w - n·0x01…) & ~w & 0x80…`, and a byte equal to c is a
    /// zero byte of `w ^ c·0x01…`, that is one below 1.
    @inline(__always)
    static func needsEscape(_ word: UInt64) -> Bool {
        let ones: UInt64 = 0x0101_0101_0101_0101, high: UInt64 = 0x8080_8080_8080_8080
        let control = (word &- ones &* 0x20) & ~word
        let quote = word ^ (ones &* 0x22), backslash = word ^ (ones &* 0x5C)
        let quotes = (quote &- ones) & ~quote
        let backslashes = (backslash &- ones) & ~backslash
        return (control | quotes | backslashes) & high != 0
    }

    private static func escape(_ byte: UInt8, into out: inout [UInt8]) {
        switch byte {
        case UInt8(ascii: "\""): append("\\\"", to: &out)
        case UInt8(ascii: "\\"): append("\\\\", to: &out)
        case 0x0A: append("\\n", to: &out)
        case 0x0D: append("\\r", to: &out)
        case 0x09: append("\\t", to: &out)
        case 0..<0x20:
            append("\\u00", to: &out)
            out.append(hex[Int(byte >> 4)])
            out.append(hex[Int(byte & 0x0F)])
        default: out.append(byte)
        }
    }
}

extension JSONValue {
    /// One member of an object being written: its key, then the value `body` writes.
    /// (A key is a name written in the code, which needs no escape: its bytes are copied as they are.)
    static func member(_ key: StaticString, first: Bool, indent: Int, into out: inout [UInt8], _ body: (inout [UInt8]) -> Void) {
        append(first ? "{\n" : ",\n", to: &out)
        indentation(indent + 1, into: &out)
        out.append(UInt8(ascii: "\""))
        out.append(contentsOf: UnsafeBufferPointer(start: key.utf8Start, count: key.utf8CodeUnitCount))
        append("\": ", to: &out)
        body(&out)
    }

    /// The end of an object whose members `member` wrote.
    static func endObject(indent: Int, into out: inout [UInt8]) {
        out.append(0x0A)
        indentation(indent, into: &out)
        out.append(UInt8(ascii: "}"))
    }

    /// A string literal, or `null`.
    static func string(_ text: String?, into out: inout [UInt8]) {
        if let text { quote(text, into: &out) } else { append("null", to: &out) }
    }

    /// `.string` or `.null`.
    static func optional(_ text: String?) -> JSONValue { text.map(JSONValue.string) ?? .null }
}
