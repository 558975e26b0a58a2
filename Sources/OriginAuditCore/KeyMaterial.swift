/// Private key material never reaches a report: text inside PEM armour is cut out of every
/// message before it is shown (a key pasted into a directive, a path that is really a key).
public enum KeyMaterial {
    static let hidden = "[PEM data not shown]"

    /// The text with everything from a `-----BEGIN` marker to its `-----END …-----` (or, with no
    /// end marker, to the end of the quoted value or of the text) replaced by a placeholder.
    public static func redacted(_ text: String) -> String {
        guard text.contains("-----BEGIN") else { return text }
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
}
