import OriginAuditCore

/// The firewall as the kernel will run it, from iptables-save, ip6tables-save, ipset and nftables
/// inputs alike (DESIGN.md §3): tables of chains of rules, each rule with its source location,
/// plus the named address sets (ipsets) the rules refer to.
public struct FirewallModel: Sendable {
    /// Every table, in the order the inputs declared them.
    public var tables: [FirewallTable]
    /// ipset sets by name (global in the kernel, shared by IPv4 and IPv6 rulesets).
    public var ipsets: [String: NamedSet]
    /// The address families for which a ruleset was given (an empty iptables-save still counts).
    public var families: Set<AddressFamily>
    /// Every firewall file read, as shown in reports.
    public var files: [String]

    public init(tables: [FirewallTable] = [], ipsets: [String: NamedSet] = [:], families: Set<AddressFamily> = [], files: [String] = []) {
        self.tables = tables
        self.ipsets = ipsets
        self.families = families
        self.files = files
    }

    /// Whether no firewall input at all was given.
    public var isEmpty: Bool { tables.isEmpty && families.isEmpty }

    /// Adds another model's contents (several inputs make one firewall).
    public mutating func merge(_ other: FirewallModel) {
        tables += other.tables
        ipsets.merge(other.ipsets) { first, _ in first }
        families.formUnion(other.families)
        files += other.files
    }
}

/// Who wrote a table: the iptables family of tools or nftables.
public enum FirewallBackend: String, Sendable, Codable, Hashable {
    case iptables, nftables
}

/// The family a table applies to. iptables tables are `ip` or `ip6`; nftables adds `inet` (both)
/// and families that never see an IPv4/IPv6 TCP SYN at the input hook (`arp`, `bridge`, `netdev`).
public enum TableFamily: String, Sendable, Codable, Hashable {
    case ip, ip6, inet, arp, bridge, netdev

    /// Whether rules of this table judge packets of the address family.
    public func applies(to family: AddressFamily) -> Bool {
        switch self {
        case .ip: family == .ipv4
        case .ip6: family == .ipv6
        case .inet: true
        case .arp, .bridge, .netdev: false
        }
    }
}

/// A netfilter hook a base chain is attached to.
public enum Hook: String, Sendable, Codable, Hashable {
    case prerouting, input, forward, output, postrouting, ingress
}

/// One table: its chains in declaration order, and (nftables) its named sets.
public struct FirewallTable: Sendable {
    public var backend: FirewallBackend
    public var family: TableFamily
    public var name: String
    public var chains: [FirewallChain]
    /// nftables named sets and maps of this table by name.
    public var sets: [String: NamedSet]
    public var location: SourceLocation

    public init(backend: FirewallBackend, family: TableFamily, name: String, chains: [FirewallChain] = [],
                sets: [String: NamedSet] = [:], location: SourceLocation) {
        self.backend = backend
        self.family = family
        self.name = name
        self.chains = chains
        self.sets = sets
        self.location = location
    }

    /// The chain with this name.
    public func chain(named name: String) -> FirewallChain? { chains.first { $0.name == name } }

    /// How reports name the table: `filter` (iptables) or `inet filter` (nftables).
    public var displayName: String { backend == .iptables ? name : "\(family.rawValue) \(name)" }
}

/// A chain. Base chains have a hook, a priority and a policy; regular chains are reached by jumps.
public struct FirewallChain: Sendable {
    public var name: String
    public var hook: Hook?
    /// `filter`, `nat`, `route` (nftables chain type; iptables: the table's kind).
    public var type: String
    /// Lower runs first. iptables tables map to their fixed priorities (raw -300, mangle -150,
    /// nat -100, filter 0, security 50).
    public var priority: Int
    /// The verdict for packets that reach the end of a base chain (accept or drop).
    public var policy: Verdict
    public var policyLocation: SourceLocation
    public var rules: [FirewallRule]
    public var location: SourceLocation

    public init(name: String, hook: Hook? = nil, type: String = "filter", priority: Int = 0, policy: Verdict = .accept,
                policyLocation: SourceLocation, rules: [FirewallRule] = [], location: SourceLocation) {
        self.name = name
        self.hook = hook
        self.type = type
        self.priority = priority
        self.policy = policy
        self.policyLocation = policyLocation
        self.rules = rules
        self.location = location
    }

    public var isBaseChain: Bool { hook != nil }
}

/// A final decision about a packet.
public enum Verdict: Sendable, Hashable, Codable, Comparable, CustomStringConvertible {
    case accept
    case drop
    /// `reject` with the kernel's reply: `tcp-reset`, `icmp-port-unreachable`, `icmp6-adm-prohibited`, …
    case reject(String)

    public var description: String {
        switch self {
        case .accept: "accept"
        case .drop: "drop"
        case .reject(let type): "reject (\(type))"
        }
    }
}

/// What a rule does when it matches.
public enum RuleAction: Sendable, Hashable {
    case verdict(Verdict)
    case jump(String)
    case goto(String)
    case `return`
    /// Destination NAT (Docker's published ports): the packet goes to the forward hook, to `port` if given.
    case dnat(port: UInt16?)
    /// LOG, counter, MARK, …: the packet continues with the next rule.
    case `continue`
    /// A target or statement whose effect is not modelled (`TARPIT`, `NFQUEUE`, nft `xt`).
    case unknown(String)
}

/// One rule with everything it matches on and what it does.
public struct FirewallRule: Sendable {
    public var location: SourceLocation
    /// The rule as written (shortened), for messages.
    public var text: String
    /// All must hold (logical and).
    public var matches: [Match]
    public var action: RuleAction

    public init(location: SourceLocation, text: String, matches: [Match], action: RuleAction) {
        self.location = location
        self.text = text
        self.matches = matches
        self.action = action
    }
}

/// Where a packet field comes from.
public enum Direction: String, Sendable, Hashable, Codable {
    case source, destination
}

/// Addresses a rule names: literal prefixes and ranges, or a named set resolved at evaluation.
public enum AddressSpec: Sendable, Hashable {
    case literal(DualStackSet)
    /// An ipset (`-m set --match-set NAME src`) or an nftables named set (`@NAME`) of the rule's table.
    case named(String)
}

/// A rate or connection limit: matches "sometimes" (DESIGN.md §3).
public struct RateLimit: Sendable, Hashable {
    /// `limit`, `hashlimit`, `connlimit`, `recent`, `meter`, `ct count`.
    public var kind: String
    public var detail: String

    public init(kind: String, detail: String) {
        self.kind = kind
        self.detail = detail
    }
}

/// One condition of a rule. Every case except `unknown` is modelled exactly for a TCP SYN
/// that opens a NEW connection.
public enum Match: Sendable, Hashable {
    case address(Direction, AddressSpec, negated: Bool)
    /// IP protocol numbers (`-p tcp` → 6); an empty set with negated=false never matches.
    case proto(Set<UInt8>, negated: Bool)
    /// TCP/UDP destination or source ports (the protocol is a separate `proto` match).
    case port(Direction, PortSet, negated: Bool)
    /// Interface names; a trailing `+` (iptables) or `*` (nftables) is a prefix wildcard.
    case interface(input: Bool, names: [String], negated: Bool)
    /// Connection-tracking states (`new`, `established`, `related`, `invalid`, `untracked`).
    case connectionState(Set<String>, negated: Bool)
    /// addrtype / fib: `LOCAL`, `UNICAST`, `BROADCAST`, `MULTICAST`, …
    case addressType(Direction, Set<String>, negated: Bool)
    /// Only packets of this family (nft `meta nfproto`, the iptables ruleset's own family).
    case family(AddressFamily)
    case rateLimit(RateLimit)
    /// A condition that can never hold for the probe (e.g. `-m icmp`, an `-o` in INPUT).
    case never(String)
    /// A condition that is always true for the probe (`-m comment`, `recent --set`).
    case always(String)
    /// An unmodelled match, kept with its text: the outcome depends on it (three-valued).
    case unknown(String)
}

/// An ipset or an nftables named set: addresses (with ipset `nomatch` exceptions), ports, or
/// address+port pairs.
public struct NamedSet: Sendable {
    public var name: String
    /// `hash:net`, `hash:ip,port`, `list:set`, `ipv4_addr`, `inet_service`, …
    public var type: String
    public var family: AddressFamily?
    /// Addresses that match (nomatch entries already removed).
    public var addresses: DualStackSet
    /// Ports of `inet_service` sets.
    public var ports: PortSet
    /// `hash:ip,port` / `hash:net,port` entries: addresses with their TCP ports.
    public var addressPorts: [(addresses: DualStackSet, ports: PortSet, tcp: Bool)]
    /// Member set names of a `list:set`.
    public var members: [String]
    /// Entries whose shape was not understood: matching this set is uncertain.
    public var hasUnknownEntries: Bool
    public var location: SourceLocation

    public init(name: String, type: String, family: AddressFamily? = nil, location: SourceLocation) {
        self.name = name
        self.type = type
        self.family = family
        self.addresses = DualStackSet()
        self.ports = PortSet()
        self.addressPorts = []
        self.members = []
        self.hasUnknownEntries = false
        self.location = location
    }

    /// Whether the set holds address+port pairs rather than addresses.
    public var isAddressPortSet: Bool { type.contains(",port") }
}
