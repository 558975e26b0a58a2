import Yams

/// A bound on how deeply a YAML document nests, checked on the text before the YAML library
/// sees it: the library composes nodes recursively, and a few thousand `[` overflow the stack.
public enum YAMLNesting {
    /// Far deeper than any settings or rule file needs.
    public static let maxDepth = 64

    /// The line of the first place where the nesting passes `maxDepth`, or nil when it stays
    /// within it. Counts flow collections (`[`, `{` outside quotes and comments), block
    /// indentation levels and compact sequence entries (`- - x`); an over-estimate at worst.
    public static func firstTooDeep(_ text: String, maxDepth: Int = maxDepth) -> Int? {
        var flow = 0
        var indents: [Int] = []
        var lineNumber = 0
        for line in text.utf8.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
            lineNumber += 1
            var column = 0
            var index = line.startIndex
            while index < line.endIndex, line[index] == UInt8(ascii: " ") { column += 1; index = line.index(after: index) }
            if index == line.endIndex || line[index] == UInt8(ascii: "#") || line[index] == UInt8(ascii: "\r") { continue }
            if flow == 0 {
                while let last = indents.last, last >= column { indents.removeLast() }
                indents.append(column)
            }
            var compact = 0
            var quote: UInt8? = nil
            var previous = UInt8(ascii: " ")
            var atStart = true
            while index < line.endIndex {
                let byte = line[index]
                if let open = quote {
                    if byte == open { quote = nil }
                } else if byte == UInt8(ascii: "#") && (previous == UInt8(ascii: " ") || previous == UInt8(ascii: "\t")) {
                    break
                } else if (byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "'")) && opensQuote(after: previous) {
                    quote = byte
                } else if byte == UInt8(ascii: "[") || byte == UInt8(ascii: "{") {
                    flow += 1
                } else if byte == UInt8(ascii: "]") || byte == UInt8(ascii: "}") {
                    flow = max(0, flow - 1)
                } else if atStart && (byte == UInt8(ascii: "-") || byte == UInt8(ascii: "?")) {
                    let next = line.index(after: index)
                    if next == line.endIndex || line[next] == UInt8(ascii: " ") { compact += 1 } else { atStart = false }
                } else if byte != UInt8(ascii: " ") {
                    atStart = false
                }
                if indents.count + compact + flow > maxDepth { return lineNumber }
                previous = byte
                index = line.index(after: index)
            }
        }
        return nil
    }

    /// A quote starts a quoted scalar only where a scalar can start (`it's` is plain text).
    private static func opensQuote(after previous: UInt8) -> Bool {
        [UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "["), UInt8(ascii: "{"), UInt8(ascii: ","),
         UInt8(ascii: ":"), UInt8(ascii: "-"), UInt8(ascii: "?")].contains(previous)
    }

    /// Line, column and problem of a YAML library error, without the quoted source line its
    /// description carries (the text may be a secret that is not YAML at all).
    public static func describe(_ error: any Error) -> (line: Int, column: Int, reason: String) {
        if let error = error as? YamlError {
            switch error {
            case .scanner(_, let problem, let mark, _), .parser(_, let problem, let mark, _):
                return (mark.line, mark.column, problem)
            case .composer(_, let problem, let mark, _):
                return (mark.line, mark.column, problem)
            default: break
            }
        }
        return (1, 1, "not a YAML document")
    }
}
