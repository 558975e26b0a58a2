import OriginAuditCore

/// The formats a firewall input can come in.
public enum FirewallInputKind: String, Sendable, Hashable {
    /// `iptables-save` / `ip6tables-save` output (legacy or nf_tables, with or without counters).
    case iptablesSave
    /// `iptables -S` output.
    case iptablesRules
    /// `ipset save` output.
    case ipset
    /// `nft -j list ruleset`.
    case nftJSON
    /// `nft list ruleset`.
    case nftText
}

/// One firewall file to load.
public struct FirewallInput: Sendable {
    public var kind: FirewallInputKind
    /// The family when the user said so (`--ip6tables`) or the name says so (`rules.v6`);
    /// nil lets the parser decide from the content.
    public var familyHint: AddressFamily?
    public var displayPath: String
    public var bytes: [UInt8]

    public init(kind: FirewallInputKind, familyHint: AddressFamily? = nil, displayPath: String, bytes: [UInt8]) {
        self.kind = kind
        self.familyHint = familyHint
        self.displayPath = displayPath
        self.bytes = bytes
    }
}

/// Parses every firewall input into one `FirewallModel`.
public enum FirewallLoader {
    public static func load(_ inputs: [FirewallInput]) -> LoadResult<FirewallModel> {
        LoadResult(
            model: FirewallModel(),
            notes: inputs.isEmpty ? [] : ["firewall analysis is not implemented in this build: \(inputs.map(\.displayPath).joined(separator: ", ")) recognised but not evaluated"],
            files: inputs.map(\.displayPath))
    }
}
