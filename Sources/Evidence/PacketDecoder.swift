import OriginAuditCore

/// The TCP header fields and payload the connection tracker needs.
struct TCPSegment {
    var family: AddressFamily
    var source: UInt128
    var destination: UInt128
    var sourcePort: UInt16
    var destinationPort: UInt16
    var sequence: UInt32
    var flags: UInt8
    /// Payload length from the IP header (the capture may hold less).
    var payloadLength: Int
    /// The payload bytes the capture kept.
    var payload: UnsafeRawBufferPointer

    static let fin: UInt8 = 0x01, syn: UInt8 = 0x02, rst: UInt8 = 0x04, ack: UInt8 = 0x10
    func has(_ flag: UInt8) -> Bool { flags & flag != 0 }
}

/// An ICMP or ICMPv6 "destination unreachable" about a TCP packet: the quoted packet's
/// addresses and ports say which connection attempt it answers.
struct Unreachable {
    var family: AddressFamily
    /// Of the quoted (original) packet: the client and the server.
    var source: UInt128
    var destination: UInt128
    var sourcePort: UInt16
    var destinationPort: UInt16
    var type: UInt8
    var code: UInt8
}

enum DecodedPacket {
    case tcp(TCPSegment)
    case unreachable(Unreachable)
    /// Not IP, not TCP or ICMP, a non-first fragment, or cut too short to read.
    case other
}

/// Link-layer types read (libpcap's DLT_ values as `pcap_datalink` returns them).
enum LinkType {
    static let null: Int32 = 0, ethernet: Int32 = 1, raw: Int32 = 12, rawOpenBSD: Int32 = 14, linktypeRaw: Int32 = 101
    static let loop: Int32 = 108, linuxSLL: Int32 = 113, ipv4: Int32 = 228, ipv6: Int32 = 229, linuxSLL2: Int32 = 276
    static let supported: Set<Int32> = [null, ethernet, raw, rawOpenBSD, linktypeRaw, loop, linuxSLL, ipv4, ipv6, linuxSLL2]
}

/// Decodes one captured frame down to TCP or ICMP. Works on the bytes in place: no copies, no
/// allocation per packet.
enum PacketDecoder {
    static func decode(_ bytes: UnsafeRawBufferPointer, linkType: Int32) -> DecodedPacket {
        var offset: Int
        var etherType: UInt16?
        switch linkType {
        case LinkType.ethernet:
            guard bytes.count >= 14 else { return .other }
            offset = 12
            var type = u16(bytes, offset)
            offset = 14
            // 802.1Q / 802.1ad tags, possibly stacked.
            while type == 0x8100 || type == 0x88A8 || type == 0x9100 {
                guard bytes.count >= offset + 4 else { return .other }
                type = u16(bytes, offset + 2)
                offset += 4
            }
            etherType = type
        case LinkType.linuxSLL:
            guard bytes.count >= 16 else { return .other }
            etherType = u16(bytes, 14)
            offset = 16
        case LinkType.linuxSLL2:
            guard bytes.count >= 20 else { return .other }
            etherType = u16(bytes, 0)
            offset = 20
        case LinkType.null, LinkType.loop:
            offset = 4
        case LinkType.raw, LinkType.rawOpenBSD, LinkType.linktypeRaw, LinkType.ipv4, LinkType.ipv6:
            offset = 0
        default:
            return .other
        }
        if var type = etherType {
            // A VLAN tag inside a cooked header.
            while type == 0x8100 || type == 0x88A8, bytes.count >= offset + 4 {
                type = u16(bytes, offset + 2)
                offset += 4
            }
            guard type == 0x0800 || type == 0x86DD else { return .other }
        }
        return decodeIP(bytes, at: offset, quoted: false)
    }

    /// An IP packet at `offset`. `quoted`: inside an ICMP error, where only the first 8 bytes
    /// of the transport header are present.
    private static func decodeIP(_ bytes: UnsafeRawBufferPointer, at start: Int, quoted: Bool) -> DecodedPacket {
        guard bytes.count > start else { return .other }
        let version = bytes[start] >> 4
        let family: AddressFamily
        var offset: Int
        var protocolNumber: UInt8
        var payloadLength: Int
        let source: UInt128, destination: UInt128
        if version == 4 {
            guard bytes.count >= start + 20 else { return .other }
            let headerLength = Int(bytes[start] & 0x0F) * 4
            guard headerLength >= 20 else { return .other }
            let total = Int(u16(bytes, start + 2))
            // A later fragment carries no TCP header.
            guard u16(bytes, start + 6) & 0x1FFF == 0 else { return .other }
            family = .ipv4
            protocolNumber = bytes[start + 9]
            source = UInt128(u32(bytes, start + 12))
            destination = UInt128(u32(bytes, start + 16))
            offset = start + headerLength
            // TSO captures write 0 as the total length: the wire holds what was captured.
            payloadLength = total >= headerLength ? total - headerLength : max(0, bytes.count - offset)
        } else if version == 6 {
            guard bytes.count >= start + 40 else { return .other }
            family = .ipv6
            payloadLength = Int(u16(bytes, start + 4))
            protocolNumber = bytes[start + 6]
            source = u128(bytes, start + 8)
            destination = u128(bytes, start + 24)
            offset = start + 40
            // Extension headers: hop-by-hop, routing, destination options; a fragment header
            // with a non-zero offset means no transport header here.
            while [0, 43, 60, 44].contains(protocolNumber) {
                guard bytes.count >= offset + 8 else { return .other }
                let next = bytes[offset]
                let length: Int
                if protocolNumber == 44 {
                    guard u16(bytes, offset + 2) & 0xFFF8 == 0 else { return .other }
                    length = 8
                } else {
                    length = (Int(bytes[offset + 1]) + 1) * 8
                }
                protocolNumber = next
                offset += length
                payloadLength -= length
            }
        } else {
            return .other
        }
        switch protocolNumber {
        case 6:
            guard bytes.count >= offset + (quoted ? 8 : 20) else { return .other }
            let sourcePort = u16(bytes, offset), destinationPort = u16(bytes, offset + 2)
            if quoted {
                return .tcp(TCPSegment(family: family, source: source, destination: destination, sourcePort: sourcePort,
                                       destinationPort: destinationPort, sequence: u32(bytes, offset + 4), flags: 0,
                                       payloadLength: 0, payload: UnsafeRawBufferPointer(start: nil, count: 0)))
            }
            let headerLength = Int(bytes[offset + 12] >> 4) * 4
            guard headerLength >= 20 else { return .other }
            let payloadStart = min(bytes.count, offset + headerLength)
            let kept = max(0, min(bytes.count, offset + max(headerLength, payloadLength)) - payloadStart)
            return .tcp(TCPSegment(family: family, source: source, destination: destination, sourcePort: sourcePort,
                                   destinationPort: destinationPort, sequence: u32(bytes, offset + 4), flags: bytes[offset + 13],
                                   payloadLength: max(0, payloadLength - headerLength),
                                   payload: UnsafeRawBufferPointer(rebasing: bytes[payloadStart..<(payloadStart + kept)])))
        case 1 where family == .ipv4 && !quoted, 58 where family == .ipv6 && !quoted:
            guard bytes.count >= offset + 8 else { return .other }
            let type = bytes[offset], code = bytes[offset + 1]
            // ICMP 3 / ICMPv6 1: destination unreachable; ICMP 3/4 (fragmentation needed) is path
            // MTU discovery, not a refusal.
            let unreachable = family == .ipv4 ? (type == 3 && code != 4) : type == 1
            guard unreachable, case .tcp(let original) = decodeIP(bytes, at: offset + 8, quoted: true) else { return .other }
            return .unreachable(Unreachable(family: family, source: original.source, destination: original.destination,
                                            sourcePort: original.sourcePort, destinationPort: original.destinationPort,
                                            type: type, code: code))
        default:
            return .other
        }
    }

    @inline(__always) static func u16(_ bytes: UnsafeRawBufferPointer, _ at: Int) -> UInt16 {
        UInt16(bytes[at]) << 8 | UInt16(bytes[at + 1])
    }

    @inline(__always) static func u32(_ bytes: UnsafeRawBufferPointer, _ at: Int) -> UInt32 {
        UInt32(bytes[at]) << 24 | UInt32(bytes[at + 1]) << 16 | UInt32(bytes[at + 2]) << 8 | UInt32(bytes[at + 3])
    }

    @inline(__always) static func u128(_ bytes: UnsafeRawBufferPointer, _ at: Int) -> UInt128 {
        UInt128(u32(bytes, at)) << 96 | UInt128(u32(bytes, at + 4)) << 64 | UInt128(u32(bytes, at + 8)) << 32 | UInt128(u32(bytes, at + 12))
    }
}
