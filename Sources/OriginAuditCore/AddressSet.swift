/// A set of addresses of one family, as interval sets over the 32- or 128-bit space.
/// Union, intersection, difference and containment are linear in the number of intervals;
/// `cidrs` renders the set back to the minimal list of prefixes.
public struct AddressSet: Hashable, Sendable, CustomStringConvertible {
    // The intervals first: the family's byte then ends the struct instead of padding it to 16
    // bytes, and a firewall rule's address match (two of these) fits a smaller `Match`.
    public private(set) var intervals: IntervalSet<UInt128>
    public let family: AddressFamily

    public init(family: AddressFamily) {
        self.family = family
        intervals = IntervalSet()
    }

    public init<S: Sequence>(family: AddressFamily, cidrs: S) where S.Element == CIDR {
        self.init(family: family, cidrArray: Array(cidrs))
    }

    /// The array forms are compiled for arrays here: from another module the generic forms run
    /// unspecialised code, several times slower on a 100,000-entry set.
    public init(family: AddressFamily, cidrs: [CIDR]) {
        self.init(family: family, cidrArray: cidrs)
    }

    private init(family: AddressFamily, cidrArray cidrs: [CIDR]) {
        var ranges: [ClosedRange<UInt128>] = []
        ranges.reserveCapacity(cidrs.count)
        for cidr in cidrs where cidr.family == family { ranges.append(cidr.range) }
        self.family = family
        intervals = IntervalSet(ranges: ranges)
    }

    /// The addresses of one prefix.
    public init(_ cidr: CIDR) {
        family = cidr.family
        intervals = IntervalSet(cidr.range)
    }

    public init(family: AddressFamily, ranges: some Sequence<ClosedRange<UInt128>>) {
        self.init(family: family, rangeArray: Array(ranges))
    }

    public init(family: AddressFamily, ranges: [ClosedRange<UInt128>]) {
        self.init(family: family, rangeArray: ranges)
    }

    private init(family: AddressFamily, rangeArray ranges: [ClosedRange<UInt128>]) {
        let space = 0...family.maxValue
        self.family = family
        let inside = ranges.allSatisfy { $0.upperBound <= space.upperBound }
        intervals = IntervalSet(ranges: inside ? ranges : ranges.map { $0.clamped(to: space) })
    }

    /// Every address of the family (`0.0.0.0/0` or `::/0`).
    public static func all(_ family: AddressFamily) -> AddressSet {
        AddressSet(family: family, ranges: [0...family.maxValue])
    }

    /// Parses CIDRs and bare addresses; returns nil if any entry is not an address of `family`.
    public init?(family: AddressFamily, parsing texts: some Sequence<some StringProtocol>) {
        var cidrs: [CIDR] = []
        for text in texts {
            guard let cidr = CIDR(text), cidr.family == family else { return nil }
            cidrs.append(cidr)
        }
        self.init(family: family, cidrs: cidrs)
    }

    public var isEmpty: Bool { intervals.isEmpty }
    /// Whether it is every address of its family (compared in place: no set of them is built).
    public var isAll: Bool { intervals.ranges.count == 1 && intervals.ranges[0] == 0...family.maxValue }

    /// The number of addresses, saturating at UInt128.max for the whole IPv6 space.
    public var count: UInt128 {
        let saturated = intervals.saturatedCount
        return saturated
    }

    public func contains(_ address: IPAddress) -> Bool {
        address.family == family && intervals.contains(address.value)
    }

    public func contains(_ other: AddressSet) -> Bool { other.family != family ? other.isEmpty : intervals.isSuperset(of: other.intervals) }
    public func isDisjoint(with other: AddressSet) -> Bool { other.family != family || intervals.isDisjoint(with: other.intervals) }

    public func union(_ other: AddressSet) -> AddressSet { combine(other) { $0.union($1) } }
    public func intersection(_ other: AddressSet) -> AddressSet { combine(other) { $0.intersection($1) } }
    public func subtracting(_ other: AddressSet) -> AddressSet { combine(other) { $0.subtracting($1) } }
    public func complement() -> AddressSet { AddressSet.all(family).subtracting(self) }

    public mutating func formUnion(_ other: AddressSet) { self = union(other) }
    public mutating func formIntersection(_ other: AddressSet) { self = intersection(other) }
    public mutating func subtract(_ other: AddressSet) { self = subtracting(other) }

    private func combine(_ other: AddressSet, _ operation: (IntervalSet<UInt128>, IntervalSet<UInt128>) -> IntervalSet<UInt128>) -> AddressSet {
        precondition(other.family == family, "mixing IPv4 and IPv6 address sets")
        var result = AddressSet(family: family)
        result.intervals = operation(intervals, other.intervals)
        return result
    }

    /// The minimal list of CIDR blocks whose union is exactly this set, in address order.
    public var cidrs: [CIDR] {
        var result: [CIDR] = []
        let width = family.bits
        for range in intervals.ranges {
            var low = range.lowerBound
            while true {
                // The largest aligned block starting at `low` that stays within the range.
                var hostBits = low == 0 ? width : min(low.trailingZeroBitCount, width)
                while hostBits > 0 {
                    let span: UInt128 = hostBits >= 128 ? UInt128.max : (UInt128(1) << UInt128(hostBits)) - 1
                    if range.upperBound - low >= span { break }
                    hostBits -= 1
                }
                result.append(CIDR(address: IPAddress(family: family, value: low), prefixLength: width - hostBits))
                let span: UInt128 = hostBits >= 128 ? UInt128.max : (UInt128(1) << UInt128(hostBits)) - 1
                let blockEnd = low + span
                if blockEnd >= range.upperBound { break }
                low = blockEnd + 1
            }
        }
        return result
    }

    /// Comma-separated minimal CIDRs, or `none`.
    public var description: String {
        isEmpty ? "none" : cidrs.map(\.description).joined(separator: ", ")
    }

    /// Like `description`, but shortened to `limit` prefixes with "and N more".
    public func summary(limit: Int = 6) -> String {
        let all = cidrs
        if all.isEmpty { return "none" }
        if all.count <= limit { return all.map(\.description).joined(separator: ", ") }
        return all.prefix(limit).map(\.description).joined(separator: ", ") + " and \(all.count - limit) more"
    }
}

/// A pair of address sets, one per family: what "a set of sources" means across both rulesets.
public struct DualStackSet: Hashable, Sendable {
    public var ipv4: AddressSet
    public var ipv6: AddressSet

    public init(ipv4: AddressSet = AddressSet(family: .ipv4), ipv6: AddressSet = AddressSet(family: .ipv6)) {
        self.ipv4 = ipv4
        self.ipv6 = ipv6
    }

    /// One prefix: a set of its family, and an empty set of the other (an iptables `-s`).
    public init(_ cidr: CIDR) {
        ipv4 = AddressSet(family: .ipv4)
        ipv6 = AddressSet(family: .ipv6)
        self[cidr.family] = AddressSet(cidr)
    }

    public init(cidrs: some Sequence<CIDR>) {
        let list = Array(cidrs)
        ipv4 = AddressSet(family: .ipv4, cidrs: list)
        ipv6 = AddressSet(family: .ipv6, cidrs: list)
    }

    public subscript(family: AddressFamily) -> AddressSet {
        get { family == .ipv4 ? ipv4 : ipv6 }
        set { if family == .ipv4 { ipv4 = newValue } else { ipv6 = newValue } }
    }

    public var isEmpty: Bool { ipv4.isEmpty && ipv6.isEmpty }
    public var cidrs: [CIDR] { ipv4.cidrs + ipv6.cidrs }
}
