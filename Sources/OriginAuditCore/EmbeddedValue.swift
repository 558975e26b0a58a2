/// A YAML document of Rules/ as the build decoded it (RulesEmbedder, with the YAML library):
/// mappings, sequences, and every other value as its text. A run reads it without decoding YAML.
package enum EmbeddedValue: Sendable {
    case text(String)
    case list([EmbeddedValue])
    /// Keys in sorted order.
    case map([(String, EmbeddedValue)])

    /// The value as `Yams.load` gives a document whose scalars are all text: `[String: Any]`,
    /// `[Any]`, `String`.
    package var loaded: Any {
        switch self {
        case .text(let text): text
        case .list(let values): values.map(\.loaded)
        case .map(let entries): Dictionary(entries.map { ($0.0, $0.1.loaded) }, uniquingKeysWith: { _, last in last })
        }
    }
}
