/// A set of unsigned integers stored as sorted, disjoint, non-adjacent closed intervals.
/// Every operation is a linear sweep over the intervals, never a walk over members: the
/// firewall evaluator partitions whole address spaces (2^128 for IPv6) with these.
public struct IntervalSet<Bound: FixedWidthInteger & UnsignedInteger & Sendable>: Hashable, Sendable {
    /// Sorted by lower bound, pairwise disjoint, and never adjacent (adjacent ranges are merged).
    public private(set) var ranges: [ClosedRange<Bound>]

    public init() { ranges = [] }

    public init(_ range: ClosedRange<Bound>) { ranges = [range] }

    /// Builds the set from ranges in any order, overlapping or not.
    public init<S: Sequence>(ranges input: S) where S.Element == ClosedRange<Bound> {
        ranges = IntervalSet.normalised(Array(input))
    }

    public static var all: IntervalSet { IntervalSet(Bound.min...Bound.max) }

    public var isEmpty: Bool { ranges.isEmpty }
    public var isFull: Bool { ranges.count == 1 && ranges[0] == Bound.min...Bound.max }

    /// The number of members, saturating at `Bound.max` (the full space has `Bound.max + 1`).
    public var saturatedCount: Bound {
        var total: Bound = 0
        for range in ranges {
            let (size, overflow) = (range.upperBound - range.lowerBound).addingReportingOverflow(1)
            if overflow { return Bound.max }
            let (sum, sumOverflow) = total.addingReportingOverflow(size)
            if sumOverflow { return Bound.max }
            total = sum
        }
        return total
    }

    public func contains(_ value: Bound) -> Bool {
        var low = 0, high = ranges.count - 1
        while low <= high {
            let mid = (low + high) / 2
            if ranges[mid].upperBound < value { low = mid + 1 }
            else if ranges[mid].lowerBound > value { high = mid - 1 }
            else { return true }
        }
        return false
    }

    /// Whether every member of `other` is one of these. Intervals here are never adjacent, so
    /// each interval of `other` must lie inside a single one of them: one sweep over both, with
    /// no complement or intersection built (rules ask this once per host of a large estate).
    public func isSuperset(of other: IntervalSet) -> Bool {
        var index = 0
        for range in other.ranges {
            while index < ranges.count && ranges[index].upperBound < range.lowerBound { index += 1 }
            guard index < ranges.count, ranges[index].lowerBound <= range.lowerBound, range.upperBound <= ranges[index].upperBound else {
                return false
            }
        }
        return true
    }

    public func isSubset(of other: IntervalSet) -> Bool { other.isSuperset(of: self) }

    /// Whether no member is shared: one sweep, stopping at the first overlap, nothing built.
    public func isDisjoint(with other: IntervalSet) -> Bool {
        var i = 0, j = 0
        while i < ranges.count && j < other.ranges.count {
            let a = ranges[i], b = other.ranges[j]
            if a.upperBound < b.lowerBound { i += 1 } else if b.upperBound < a.lowerBound { j += 1 } else { return false }
        }
        return true
    }

    public func union(_ other: IntervalSet) -> IntervalSet {
        if other.isEmpty { return self }
        if isEmpty { return other }
        var merged: [ClosedRange<Bound>] = []
        merged.reserveCapacity(ranges.count + other.ranges.count)
        var i = 0, j = 0
        while i < ranges.count || j < other.ranges.count {
            let next: ClosedRange<Bound>
            if j >= other.ranges.count || (i < ranges.count && ranges[i].lowerBound <= other.ranges[j].lowerBound) {
                next = ranges[i]; i += 1
            } else {
                next = other.ranges[j]; j += 1
            }
            IntervalSet.append(next, to: &merged)
        }
        return IntervalSet(sorted: merged)
    }

    public func intersection(_ other: IntervalSet) -> IntervalSet {
        var result: [ClosedRange<Bound>] = []
        var i = 0, j = 0
        while i < ranges.count && j < other.ranges.count {
            let a = ranges[i], b = other.ranges[j]
            let low = Swift.max(a.lowerBound, b.lowerBound)
            let high = Swift.min(a.upperBound, b.upperBound)
            if low <= high { result.append(low...high) }
            if a.upperBound < b.upperBound { i += 1 } else { j += 1 }
        }
        // Often one set holds the other (a set of 100,000 addresses met with "all but a few"):
        // then the result is that one, whose storage is shared instead of kept twice.
        if result == other.ranges { return other }
        if result == ranges { return self }
        return IntervalSet(sorted: result)
    }

    public func complement() -> IntervalSet {
        var result: [ClosedRange<Bound>] = []
        var next: Bound? = Bound.min
        for range in ranges {
            if let start = next, start < range.lowerBound { result.append(start...(range.lowerBound - 1)) }
            next = range.upperBound == Bound.max ? nil : range.upperBound + 1
        }
        if let start = next { result.append(start...Bound.max) }
        return IntervalSet(sorted: result)
    }

    public func subtracting(_ other: IntervalSet) -> IntervalSet {
        if isEmpty || other.isEmpty { return self }
        return intersection(other.complement())
    }

    public mutating func formUnion(_ other: IntervalSet) { self = union(other) }
    public mutating func formIntersection(_ other: IntervalSet) { self = intersection(other) }
    public mutating func subtract(_ other: IntervalSet) { self = subtracting(other) }

    public mutating func insert(_ range: ClosedRange<Bound>) { self = union(IntervalSet(range)) }

    private init(sorted: [ClosedRange<Bound>]) { ranges = sorted }

    private static func append(_ range: ClosedRange<Bound>, to merged: inout [ClosedRange<Bound>]) {
        if let last = merged.last, last.upperBound == Bound.max || range.lowerBound <= last.upperBound + 1 {
            if range.upperBound > last.upperBound {
                merged[merged.count - 1] = last.lowerBound...range.upperBound
            }
        } else {
            merged.append(range)
        }
    }

    private static func normalised(_ input: [ClosedRange<Bound>]) -> [ClosedRange<Bound>] {
        // Ranges already sorted, disjoint and apart (a walk over sorted sets, a partition) are
        // kept as they are: no second array of a 100,000-range set.
        var normal = true
        for index in input.indices.dropFirst() {
            let previous = input[index - 1].upperBound
            if previous == Bound.max || previous + 1 >= input[index].lowerBound { normal = false; break }
        }
        if normal { return input }
        // Ranges collected in address order (a walk over sorted sets) need no sort.
        var ordered = true
        for index in input.indices.dropFirst() where input[index - 1].lowerBound > input[index].lowerBound {
            ordered = false
            break
        }
        let sorted = ordered ? input : input.sorted { $0.lowerBound < $1.lowerBound }
        var merged: [ClosedRange<Bound>] = []
        merged.reserveCapacity(sorted.count)
        for range in sorted { append(range, to: &merged) }
        return merged
    }
}

/// A set of TCP/UDP ports.
public typealias PortSet = IntervalSet<UInt16>

extension IntervalSet where Bound == UInt16 {
    /// Renders ports as `80`, `8000-8080`, comma separated.
    public var portList: String {
        ranges.map { $0.lowerBound == $0.upperBound ? "\($0.lowerBound)" : "\($0.lowerBound)-\($0.upperBound)" }
            .joined(separator: ",")
    }
}
