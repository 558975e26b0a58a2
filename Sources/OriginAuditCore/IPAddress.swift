/// IPv4 and IPv6 are separate rulesets and separate address spaces (DESIGN.md §3).
public enum AddressFamily: String, Sendable, Codable, CaseIterable, Hashable {
    case ipv4, ipv6

    /// Address width in bits.
    public var bits: Int { self == .ipv4 ? 32 : 128 }
    /// The largest address value of the family.
    public var maxValue: UInt128 { self == .ipv4 ? UInt128(UInt32.max) : UInt128.max }
}

/// An IPv4 or IPv6 address. IPv4 values live in the low 32 bits. An IPv4-mapped IPv6 address
/// (`::ffff:1.2.3.4`) stays IPv6: that is how the kernel's IPv6 ruleset sees it.
public struct IPAddress: Hashable, Sendable, Comparable, CustomStringConvertible {
    public let family: AddressFamily
    public let value: UInt128

    public init(family: AddressFamily, value: UInt128) {
        precondition(value <= family.maxValue, "address value out of range")
        self.family = family
        self.value = value
    }

    public init(ipv4 value: UInt32) { self.init(family: .ipv4, value: UInt128(value)) }

    /// Parses any textual form: dotted quad; IPv6 full, zero-compressed, with an embedded IPv4
    /// tail; `[...]` brackets. Returns nil for anything else (zones, leading zeros in a quad).
    public init?(_ text: some StringProtocol) {
        guard let address = IPAddress.parse(text) else { return nil }
        self = address
    }

    /// The same for the two string types, compiled for each: parsers in other modules would
    /// otherwise run the generic code for every address of a 100,000-entry set.
    public init?(_ text: String) {
        guard let address = IPAddress.parse(text) else { return nil }
        self = address
    }

    public init?(_ text: Substring) {
        guard let address = IPAddress.parse(text) else { return nil }
        self = address
    }

    fileprivate static func parse(_ text: some StringProtocol) -> IPAddress? {
        if let parsed = text.utf8.withContiguousStorageIfAvailable({ IPAddress.parse(utf8: $0) }) { return parsed }
        return Array(text.utf8).withUnsafeBufferPointer { IPAddress.parse(utf8: $0) }
    }

    /// Parses the UTF-8 bytes of an address without copying them (parsers of 100,000-entry sets
    /// call this once per entry).
    public static func parse(utf8 bytes: UnsafeBufferPointer<UInt8>) -> IPAddress? {
        var bytes = bytes
        if bytes.count >= 2, bytes[0] == UInt8(ascii: "["), bytes[bytes.count - 1] == UInt8(ascii: "]") {
            bytes = UnsafeBufferPointer(rebasing: bytes[1..<(bytes.count - 1)])
        }
        if bytes.contains(UInt8(ascii: ":")) {
            guard let value = IPAddress.parseIPv6(bytes) else { return nil }
            return IPAddress(family: .ipv6, value: value)
        } else {
            guard let value = IPAddress.parseIPv4(bytes) else { return nil }
            return IPAddress(ipv4: value)
        }
    }

    /// The IPv4 address inside an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`), if this is one.
    public var ipv4Mapped: IPAddress? {
        guard family == .ipv6, value >> 32 == 0xFFFF else { return nil }
        return IPAddress(ipv4: UInt32(truncatingIfNeeded: value))
    }

    public static func < (a: IPAddress, b: IPAddress) -> Bool { (a.family == .ipv4 ? 0 : 1, a.value) < (b.family == .ipv4 ? 0 : 1, b.value) }

    /// Canonical text: dotted quad, or RFC 5952 for IPv6 (lowercase, longest zero run compressed).
    public var description: String {
        switch family {
        case .ipv4: return IPAddress.formatIPv4(UInt32(truncatingIfNeeded: value))
        case .ipv6: return IPAddress.formatIPv6(value)
        }
    }

    static func parseIPv4(_ bytes: UnsafeBufferPointer<UInt8>) -> UInt32? {
        var result: UInt32 = 0
        var parts = 0
        var current: UInt32 = 0
        var digits = 0
        var leadingZero = false
        for byte in bytes {
            if byte == UInt8(ascii: ".") {
                guard digits > 0 else { return nil }
                parts += 1
                guard parts < 4 else { return nil }
                result = result << 8 | current
                current = 0; digits = 0; leadingZero = false
            } else if byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") {
                if leadingZero { return nil }
                if digits == 0 && byte == UInt8(ascii: "0") { leadingZero = true }
                current = current * 10 + UInt32(byte - UInt8(ascii: "0"))
                digits += 1
                guard current <= 255, digits <= 3 else { return nil }
            } else {
                return nil
            }
        }
        guard parts == 3, digits > 0 else { return nil }
        return result << 8 | current
    }

    static func parseIPv6(_ bytes: UnsafeBufferPointer<UInt8>) -> UInt128? {
        guard !bytes.isEmpty else { return nil }
        var head: [UInt16] = []
        var tail: [UInt16] = []
        var sawDoubleColon = false
        var index = bytes.startIndex
        if bytes[index] == UInt8(ascii: ":") {
            guard bytes.count >= 2, bytes[index + 1] == UInt8(ascii: ":") else { return nil }
            sawDoubleColon = true
            index += 2
            if index == bytes.endIndex { return 0 }
        }
        while index < bytes.endIndex {
            // One group: hex digits, or the IPv4 tail.
            var end = index
            while end < bytes.endIndex && bytes[end] != UInt8(ascii: ":") { end += 1 }
            let group = UnsafeBufferPointer(rebasing: bytes[index..<end])
            guard !group.isEmpty else { return nil }
            if group.contains(UInt8(ascii: ".")) {
                guard end == bytes.endIndex, let v4 = parseIPv4(group) else { return nil }
                let pair = [UInt16(v4 >> 16), UInt16(v4 & 0xFFFF)]
                if sawDoubleColon { tail += pair } else { head += pair }
            } else {
                guard group.count <= 4 else { return nil }
                var word: UInt16 = 0
                for byte in group {
                    guard let digit = hexValue(byte) else { return nil }
                    word = word << 4 | UInt16(digit)
                }
                if sawDoubleColon { tail.append(word) } else { head.append(word) }
            }
            index = end
            if index < bytes.endIndex {
                index += 1 // the ':'
                if index < bytes.endIndex && bytes[index] == UInt8(ascii: ":") {
                    guard !sawDoubleColon else { return nil }
                    sawDoubleColon = true
                    index += 1
                } else if index == bytes.endIndex {
                    return nil // trailing single colon
                }
            }
        }
        let total = head.count + tail.count
        if sawDoubleColon { guard total <= 7 else { return nil } } else { guard total == 8 else { return nil } }
        let words = head + Array(repeating: 0, count: 8 - total) + tail
        var value: UInt128 = 0
        for word in words { value = value << 16 | UInt128(word) }
        return value
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
        default: return nil
        }
    }

    static func formatIPv4(_ value: UInt32) -> String {
        "\(value >> 24).\(value >> 16 & 0xFF).\(value >> 8 & 0xFF).\(value & 0xFF)"
    }

    static func formatIPv6(_ value: UInt128) -> String {
        if value >> 32 == 0xFFFF { return "::ffff:" + formatIPv4(UInt32(truncatingIfNeeded: value)) }
        let words = (0..<8).map { UInt16(truncatingIfNeeded: value >> UInt128(112 - 16 * $0)) }
        // Longest run of two or more zero words, the first one on a tie (RFC 5952 §4.2).
        var bestStart = -1, bestLength = 1
        var runStart = -1
        for i in 0...8 {
            if i < 8 && words[i] == 0 {
                if runStart < 0 { runStart = i }
            } else if runStart >= 0 {
                if i - runStart > bestLength { bestStart = runStart; bestLength = i - runStart }
                runStart = -1
            }
        }
        func hex(_ range: Range<Int>) -> String { words[range].map { String($0, radix: 16) }.joined(separator: ":") }
        if bestStart < 0 { return hex(0..<8) }
        return hex(0..<bestStart) + "::" + hex((bestStart + bestLength)..<8)
    }
}

/// An address prefix. Host bits are cleared on construction, as the kernel does with `-s 10.1.2.3/8`.
public struct CIDR: Hashable, Sendable, Comparable, CustomStringConvertible {
    public let address: IPAddress
    public let prefixLength: Int

    public init(address: IPAddress, prefixLength: Int) {
        precondition(prefixLength >= 0 && prefixLength <= address.family.bits)
        let hostBits = address.family.bits - prefixLength
        let mask: UInt128 = hostBits >= 128 ? 0 : address.family.maxValue & ~((UInt128(1) << UInt128(hostBits)) - 1)
        self.address = IPAddress(family: address.family, value: address.value & mask)
        self.prefixLength = prefixLength
    }

    /// Parses `addr`, `addr/len`, or `addr/dotted.mask` (contiguous masks only, as iptables prints).
    public init?(_ text: some StringProtocol) {
        guard let cidr = CIDR.parse(text) else { return nil }
        self = cidr
    }

    /// The same for the two string types, compiled for each (see `IPAddress.init?(_: String)`).
    public init?(_ text: String) {
        guard let cidr = CIDR.parse(text) else { return nil }
        self = cidr
    }

    public init?(_ text: Substring) {
        guard let cidr = CIDR.parse(text) else { return nil }
        self = cidr
    }

    private static func parse(_ text: some StringProtocol) -> CIDR? {
        if let parsed = text.utf8.withContiguousStorageIfAvailable({ CIDR.parse(utf8: $0) }) { return parsed }
        return Array(text.utf8).withUnsafeBufferPointer { CIDR.parse(utf8: $0) }
    }

    /// Parses the UTF-8 bytes of `addr`, `addr/len` or `addr/dotted.mask` without copying them.
    public static func parse(utf8 bytes: UnsafeBufferPointer<UInt8>) -> CIDR? {
        guard let slash = bytes.firstIndex(of: UInt8(ascii: "/")) else {
            guard let address = IPAddress.parse(utf8: bytes) else { return nil }
            return CIDR(address: address, prefixLength: address.family.bits)
        }
        guard let address = IPAddress.parse(utf8: UnsafeBufferPointer(rebasing: bytes[..<slash])) else { return nil }
        let suffix = UnsafeBufferPointer(rebasing: bytes[(slash + 1)...])
        // Decimal digits only: `Int("+8")` accepts a sign, the kernel's tools do not.
        if !suffix.isEmpty, suffix.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) {
            let length = suffix.reduce(0) { min($0 * 10 + Int($1 - UInt8(ascii: "0")), 1000) }
            return length <= address.family.bits ? CIDR(address: address, prefixLength: length) : nil
        } else if address.family == .ipv4, let mask = IPAddress.parse(utf8: suffix), mask.family == .ipv4 {
            let bits = UInt32(truncatingIfNeeded: mask.value)
            let length = bits.nonzeroBitCount
            guard bits == (length == 0 ? 0 : UInt32.max << UInt32(32 - length)) else { return nil }
            return CIDR(address: address, prefixLength: length)
        } else {
            return nil
        }
    }

    /// Whether the text named host bits that the prefix clears (`10.1.2.3/8`).
    public static func hasHostBits(_ text: some StringProtocol) -> Bool {
        guard let cidr = CIDR(text), let address = IPAddress(text.split(separator: "/")[0]) else { return false }
        return cidr.address != address
    }

    public var family: AddressFamily { address.family }
    public var first: UInt128 { address.value }
    public var last: UInt128 {
        let hostBits = family.bits - prefixLength
        return hostBits >= 128 ? UInt128.max : address.value | ((UInt128(1) << UInt128(hostBits)) - 1)
    }
    public var range: ClosedRange<UInt128> { first...last }

    public var description: String { "\(address)/\(prefixLength)" }

    public static func < (a: CIDR, b: CIDR) -> Bool { (a.address, a.prefixLength) < (b.address, b.prefixLength) }
}
