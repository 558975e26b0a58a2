import Testing
import PropertyBased
import Glibc
import OriginAuditCore

/// Address parsing and formatting, with glibc's inet_pton/inet_ntop as the oracle.
@Suite struct IPAddressTests {
    static func ptonV4(_ text: String) -> UInt32? {
        var address = in_addr()
        guard inet_pton(AF_INET, text, &address) == 1 else { return nil }
        return UInt32(bigEndian: address.s_addr)
    }

    static func ptonV6(_ text: String) -> UInt128? {
        var address = in6_addr()
        guard inet_pton(AF_INET6, text, &address) == 1 else { return nil }
        return withUnsafeBytes(of: address) { bytes in bytes.reduce(UInt128(0)) { $0 << 8 | UInt128($1) } }
    }

    static func ntopV6(_ value: UInt128) -> String {
        var address = in6_addr()
        withUnsafeMutableBytes(of: &address) { bytes in
            for i in 0..<16 { bytes[i] = UInt8(truncatingIfNeeded: value >> UInt128(8 * (15 - i))) }
        }
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        _ = inet_ntop(AF_INET6, &address, &buffer, socklen_t(buffer.count))
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    static let v4Alphabet = Array("0123456789.")
    static let v6Alphabet = Array("0123456789abcdefABCDEF:.")

    @Test func ipv4ParsingAgreesWithInetPton() async {
        let texts = Gen.int(in: 0...(Self.v4Alphabet.count - 1)).array(of: 1...17).map { String($0.map { Self.v4Alphabet[$0] }) }
        await propertyCheck(count: 5000, input: texts) { text in
            #expect(IPAddress(text).map { UInt32($0.value) } == Self.ptonV4(text), "\(text)")
        }
    }

    @Test func ipv6ParsingAgreesWithInetPton() async {
        let texts = Gen.int(in: 0...(Self.v6Alphabet.count - 1)).array(of: 1...41).map { String($0.map { Self.v6Alphabet[$0] }) }
        await propertyCheck(count: 5000, input: texts) { text in
            let ours = IPAddress(text)
            #expect(ours?.value == Self.ptonV6(text), "\(text)")
            if let ours { #expect(ours.family == .ipv6) }
        }
    }

    /// Well-formed spellings in every style: full, zero-compressed anywhere, mixed case, IPv4 tail.
    @Test func ipv6SpellingsAgreeWithInetPton() async {
        let shapes = Gen.uint16().array(of: 8).map { words -> [UInt16] in words.map { $0 % 5 == 0 ? 0 : $0 % 7 == 0 ? $0 >> 8 : $0 } }
        await propertyCheck(count: 3000, input: shapes, Gen.int(in: 0...8), Gen.int(in: 0...8), Gen.bool) { words, start, length, tail in
            var groups = words.map { String($0, radix: 16, uppercase: $0 % 2 == 0) }
            if tail { groups.replaceSubrange(6...7, with: ["\(words[6] >> 8).\(words[6] & 0xFF).\(words[7] >> 8).\(words[7] & 0xFF)"]) }
            var text = groups.joined(separator: ":")
            let end = min(groups.count, start + length)
            if start < end {
                text = groups[..<start].joined(separator: ":") + "::" + groups[end...].joined(separator: ":")
            }
            #expect(IPAddress(text)?.value == Self.ptonV6(text), "\(text)")
        }
    }

    /// Values with runs of zero words, where compression decisions are made.
    static let sparseV6 = Gen.uint8().array(of: 8).map { words -> UInt128 in
        words.reduce(UInt128(0)) { value, word in value << 16 | (word % 3 == 0 ? 0 : UInt128(word) * 257) }
    }

    @Test func ipv6FormattingAgreesWithInetNtop() async {
        await propertyCheck(count: 3000, input: Self.sparseV6) { value in
            // glibc prints IPv4-compatible addresses (::a.b.c.d, deprecated by RFC 4291) in dotted
            // form; RFC 5952 does not, so those are left out of the comparison.
            guard value >> 32 != 0 || value <= 0xFFFF else { return }
            let ours = IPAddress(family: .ipv6, value: value)
            #expect(ours.description == Self.ntopV6(value))
            #expect(IPAddress(ours.description) == ours)
        }
    }

    @Test(arguments: [
        ("::ffff:1.2.3.4", "::ffff:1.2.3.4"),
        ("2001:DB8:0:0:0:0:0:1", "2001:db8::1"),
        ("2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"),
        ("::", "::"),
        ("[2001:db8::1]", "2001:db8::1"),
        ("0:0:0:0:0:0:0:1", "::1"),
        ("198.51.100.7", "198.51.100.7"),
    ])
    func canonicalForms(input: String, expected: String) {
        #expect(IPAddress(input)?.description == expected)
    }

    @Test func mappedAddressesStayIPv6() {
        let mapped = IPAddress("::ffff:203.0.113.9")
        #expect(mapped?.family == .ipv6)
        #expect(mapped?.ipv4Mapped == IPAddress("203.0.113.9"))
    }

    @Test(arguments: ["1.2.3", "256.1.1.1", "01.2.3.4", "1.2.3.4.", "fe80::1%eth0", ":::", "1::2::3", "12345::", "1.2.3.4/33", ""])
    func rejectsMalformedInput(text: String) {
        #expect(CIDR(text) == nil)
    }

    @Test func cidrForms() {
        #expect(CIDR("203.0.113.77/24")?.description == "203.0.113.0/24")
        #expect(CIDR.hasHostBits("203.0.113.77/24"))
        #expect(!CIDR.hasHostBits("203.0.113.0/24"))
        #expect(CIDR("10.0.0.0/255.255.0.0")?.description == "10.0.0.0/16")
        #expect(CIDR("10.0.0.0/255.0.255.0") == nil)
        #expect(CIDR("192.0.2.1")?.prefixLength == 32)
        #expect(CIDR("2001:db8::/32")?.last == CIDR("2001:db8:ffff:ffff:ffff:ffff:ffff:ffff")?.first)
        #expect(CIDR("::/0")?.last == UInt128.max)
    }

    /// The prefix length is read from the bytes: decimal digits only (a sign is refused, as
    /// iptables does), leading zeros allowed, and never past the family's width however long.
    @Test func prefixLengthDigits() {
        #expect(CIDR("10.0.0.0/08")?.prefixLength == 8)
        #expect(CIDR("10.0.0.0/0032")?.prefixLength == 32)
        #expect(CIDR("10.0.0.0/+8") == nil)
        #expect(CIDR("10.0.0.0/-1") == nil)
        #expect(CIDR("10.0.0.0/") == nil)
        #expect(CIDR("10.0.0.0/99999999999999999999999") == nil)
        #expect(CIDR("2001:db8::/129") == nil)
        #expect(CIDR("2001:db8::/ffff::") == nil)
        #expect(CIDR("[2001:db8::1]/64")?.description == "2001:db8::/64")
        #expect(CIDR("192.0.2.1/32/1") == nil)
        let bytes = Array("198.51.100.77/24 trailing".utf8)
        #expect(bytes.withUnsafeBufferPointer { CIDR.parse(utf8: UnsafeBufferPointer(rebasing: $0[0..<16])) }?.description == "198.51.100.0/24")
    }
}
