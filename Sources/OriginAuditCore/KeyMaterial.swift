import Foundation

/// Private key material never reaches a report: text inside PEM armour is cut out of every
/// message before it is shown (a key pasted into a directive, a path that is really a key).
public enum KeyMaterial {
    static let hidden = "[PEM data not shown]"

    /// The text with everything from a `-----BEGIN` marker to its `-----END …-----` (or, with no
    /// end marker, to the end of the quoted value or of the text) replaced by a placeholder.
    public static func redacted(_ text: String) -> String {
        guard hasBeginMarker(text) else { return text }
        var out = Substring()
        var rest = Substring(text)
        while let begin = rest.range(of: "-----BEGIN") {
            out += rest[..<begin.lowerBound] + hidden
            let after = rest[begin.upperBound...]
            if let end = after.range(of: "-----END") {
                let tail = after[end.upperBound...]
                // The end marker's label and its closing dashes.
                if let close = tail.range(of: "-----") { rest = tail[close.upperBound...] } else { rest = "" }
            } else if let quote = after.firstIndex(where: { $0 == "\"" || $0 == "'" }) {
                rest = after[quote...]
            } else {
                rest = ""
            }
        }
        return String(out + rest)
    }

    /// Whether the text holds `-----BEGIN`, looked for in its UTF-8 bytes: every message of a
    /// report passes here and almost none holds a dash run, which Foundation's `contains` would
    /// find only after bridging the message. (The marker is ASCII: no other spelling of it is
    /// canonically equivalent, so the bytes find exactly what Foundation finds.)
    public static func hasBeginMarker(_ text: String) -> Bool {
        UTF8Bytes.of(text) { ByteSearch.contains("-----BEGIN", in: $0) }
    }
}
