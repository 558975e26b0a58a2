import Testing
import PropertyBased
import OriginAuditCore

/// Interval-set algebra checked against a naive reference (a Swift `Set` of every member) on
/// small spaces, where the reference is cheap and every edge (0, max, adjacency) is reachable.
@Suite struct IntervalSetPropertyTests {
    static let range = Gen.uint8().array(of: 2).map { pair in min(pair[0], pair[1])...max(pair[0], pair[1]) }
    static let ranges = range.array(of: 0...5)

    static func naive(_ ranges: [ClosedRange<UInt8>]) -> Set<UInt8> {
        var set = Set<UInt8>()
        for r in ranges { for v in r { set.insert(v) } }
        return set
    }

    static func members(_ set: IntervalSet<UInt8>) -> Set<UInt8> {
        Set(set.ranges.flatMap { Array($0) })
    }

    /// Sorted, disjoint and non-adjacent: the invariant every operation must keep.
    static func isCanonical(_ set: IntervalSet<UInt8>) -> Bool {
        zip(set.ranges, set.ranges.dropFirst()).allSatisfy { a, b in Int(a.upperBound) + 1 < Int(b.lowerBound) }
    }

    @Test func algebraMatchesNaiveSets() async {
        await propertyCheck(count: 3000, input: Self.ranges, Self.ranges, Gen.uint8()) { a, b, probe in
            let x = IntervalSet(ranges: a), y = IntervalSet(ranges: b)
            let nx = Self.naive(a), ny = Self.naive(b)
            #expect(Self.members(x) == nx)
            #expect(Self.members(x.union(y)) == nx.union(ny))
            #expect(Self.members(x.intersection(y)) == nx.intersection(ny))
            #expect(Self.members(x.subtracting(y)) == nx.subtracting(ny))
            #expect(Self.members(x.complement()) == Set(0...255).subtracting(nx))
            #expect(x.contains(probe) == nx.contains(probe))
            #expect(x.isSubset(of: y) == nx.isSubset(of: ny))
            #expect(x.isDisjoint(with: y) == nx.isDisjoint(with: ny))
            #expect(Int(x.saturatedCount) == min(nx.count, 255))
            for result in [x, x.union(y), x.intersection(y), x.subtracting(y), x.complement()] {
                #expect(Self.isCanonical(result))
            }
        }
    }

    @Test func unionIsCommutativeAndAssociative() async {
        await propertyCheck(count: 1000, input: Self.ranges, Self.ranges, Self.ranges) { a, b, c in
            let x = IntervalSet(ranges: a), y = IntervalSet(ranges: b), z = IntervalSet(ranges: c)
            #expect(x.union(y) == y.union(x))
            #expect(x.union(y).union(z) == x.union(y.union(z)))
            #expect(x.intersection(y.union(z)) == x.intersection(y).union(x.intersection(z)))
            #expect(x.complement().complement() == x)
        }
    }
}

/// Address sets and their CIDR rendering, against a naive set of IPv4 addresses inside one /22,
/// and at the edges of the IPv6 space.
@Suite struct AddressSetPropertyTests {
    static let base: UInt32 = 0xC000_0200 // 192.0.2.0, inside a /22 window

    static let cidr = Gen.uint32(in: 0...1023).map { (offset: UInt32) -> CIDR in
        let length = 22 + Int(offset % 11) // 22...32
        return CIDR(address: IPAddress(ipv4: base &+ offset), prefixLength: length)
    }
    static let cidrs = cidr.array(of: 0...6)

    static func naive(_ cidrs: [CIDR]) -> Set<UInt32> {
        var set = Set<UInt32>()
        for c in cidrs { for v in c.first...c.last { set.insert(UInt32(v)) } }
        return set
    }

    static func members(_ set: AddressSet) -> Set<UInt32> {
        Set(set.intervals.ranges.flatMap { r in (r.lowerBound...r.upperBound).map { UInt32($0) } })
    }

    /// The rendering is exactly the set, disjoint, and minimal: the unique decomposition into
    /// maximal aligned blocks (no block's parent prefix is wholly inside the set).
    static func checkRendering(_ set: AddressSet) {
        let rendered = set.cidrs
        let rebuilt = AddressSet(family: set.family, cidrs: rendered)
        #expect(rebuilt == set)
        var total: UInt128 = 0
        for c in rendered {
            let (size, sizeOverflow) = (c.last - c.first).addingReportingOverflow(1)
            let (sum, sumOverflow) = total.addingReportingOverflow(size)
            total = sizeOverflow || sumOverflow ? UInt128.max : sum
        }
        #expect(total == set.count)
        for c in rendered where c.prefixLength > 0 {
            let parent = CIDR(address: c.address, prefixLength: c.prefixLength - 1)
            #expect(!set.contains(AddressSet(family: set.family, cidrs: [parent])), "\(c) could merge into \(parent)")
        }
        #expect(rendered == rendered.sorted())
    }

    @Test func operationsMatchNaiveSets() async {
        await propertyCheck(count: 2000, input: Self.cidrs, Self.cidrs) { a, b in
            let x = AddressSet(family: .ipv4, cidrs: a), y = AddressSet(family: .ipv4, cidrs: b)
            let nx = Self.naive(a), ny = Self.naive(b)
            #expect(Self.members(x) == nx)
            #expect(Self.members(x.union(y)) == nx.union(ny))
            #expect(Self.members(x.intersection(y)) == nx.intersection(ny))
            #expect(Self.members(x.subtracting(y)) == nx.subtracting(ny))
            #expect(x.contains(y) == ny.isSubset(of: nx))
            #expect(x.isDisjoint(with: y) == nx.isDisjoint(with: ny))
            // `isAll` compares in place what `== .all(family)` compared with a set it built.
            for set in [x, x.complement(), x.union(x.complement()), AddressSet.all(.ipv4), AddressSet.all(.ipv6)] {
                #expect(set.isAll == (set == AddressSet.all(set.family)))
            }
            Self.checkRendering(x)
            Self.checkRendering(x.subtracting(y))
            Self.checkRendering(x.complement())
        }
    }

    static let v6Edge = Gen.uint128().array(of: 2).map { pair -> ClosedRange<UInt128> in
        // Half the ranges hug 0 or the top of the space, where overflow bugs live.
        let low = min(pair[0], pair[1]), high = max(pair[0], pair[1])
        switch low % 4 {
        case 0: return 0...(high >> 64)
        case 1: return (UInt128.max - (high >> 64))...UInt128.max
        default: return low...high
        }
    }

    @Test func ipv6EdgesRenderExactly() async {
        await propertyCheck(count: 2000, input: Self.v6Edge.array(of: 0...4)) { ranges in
            let set = AddressSet(family: .ipv6, ranges: ranges)
            Self.checkRendering(set)
            Self.checkRendering(set.complement())
            #expect(set.union(set.complement()).isAll)
            #expect(set.intersection(set.complement()).isEmpty)
        }
    }

    @Test func wholeSpacesRenderAsSlashZero() {
        #expect(AddressSet.all(.ipv4).cidrs.map(\.description) == ["0.0.0.0/0"])
        #expect(AddressSet.all(.ipv6).cidrs.map(\.description) == ["::/0"])
        #expect(AddressSet.all(.ipv6).count == UInt128.max)
        #expect(AddressSet.all(.ipv4).count == 1 << 32)
        #expect(AddressSet(family: .ipv4).description == "none")
    }
}
