import OriginAuditCore

/// How one connection attempt to the origin ended, as the capture shows it.
public enum AttemptOutcome: Hashable, Sendable, Comparable {
    /// The origin answered; `status` when the answer was plain HTTP.
    case answered(status: Int?)
    /// The TLS handshake got the origin's ServerHello (what follows is encrypted).
    case tlsHandshake
    /// SYNs that got no SYN-ACK (the retransmissions are counted in `JudgedAttempt`).
    case noAnswer
    /// The origin (or a firewall on the way) answered the SYN with a reset.
    case refused
    /// ICMP / ICMPv6 destination unreachable, type and code, about the SYN.
    case unreachable(icmpv6: Bool, type: UInt8, code: UInt8)
    /// A request went out and no answer came within the CDN's read timeout.
    case silence
    /// The origin sent a TLS alert instead of (or during) the handshake.
    case tlsAlert(description: UInt8)
    /// The origin ended a TLS handshake it had not completed (reset or close).
    case tlsAborted
    /// The origin reset the connection after the handshake, before a complete answer.
    case resetAfterData
    /// The origin closed the connection after the request without sending anything.
    case closedWithoutAnswer
    /// The handshake completed and no request followed (the client's doing, or still open).
    case noRequest
    /// The capture ended before the attempt could be judged.
    case unfinished

    /// The Cloudflare-style status visitors see when the CDN meets this; nil when it works.
    public var predicts: String? {
        switch self {
        case .answered(let status?) where [502, 503, 504].contains(status): "\(status)"
        case .answered, .tlsHandshake, .noRequest, .unfinished: nil
        case .noAnswer: "522"
        case .refused, .unreachable: "521"
        case .silence: "524"
        case .tlsAlert, .tlsAborted: "525"
        case .resetAfterData, .closedWithoutAnswer: "520"
        }
    }

    /// A stable word for JSON and grouping.
    public var kind: String {
        switch self {
        case .answered: "answered"
        case .tlsHandshake: "tls-handshake"
        case .noAnswer: "no-syn-ack"
        case .refused: "reset"
        case .unreachable: "icmp-unreachable"
        case .silence: "silence"
        case .tlsAlert: "tls-alert"
        case .tlsAborted: "tls-aborted"
        case .resetAfterData: "reset-after-data"
        case .closedWithoutAnswer: "closed-without-answer"
        case .noRequest: "no-request"
        case .unfinished: "unfinished"
        }
    }

    /// For people: "no SYN-ACK (2 retransmissions)", "ICMP port unreachable".
    public var summary: String {
        switch self {
        case .answered(let status?): "answered \(status)"
        case .answered(nil): "answered (not plain HTTP)"
        case .tlsHandshake: "TLS handshake answered"
        case .noAnswer: "no SYN-ACK"
        case .refused: "refused with a reset"
        case .unreachable(let v6, let type, let code): "\(v6 ? "ICMPv6" : "ICMP") \(Self.unreachableName(v6: v6, type: type, code: code))"
        case .silence: "handshake, request, then silence past the read timeout"
        case .tlsAlert(let description): "TLS alert from the origin: \(Self.alertName(description))"
        case .tlsAborted: "TLS handshake ended by the origin"
        case .resetAfterData: "reset by the origin after the handshake"
        case .closedWithoutAnswer: "closed without an answer"
        case .noRequest: "connected, no request sent"
        case .unfinished: "unfinished when the capture ended"
        }
    }

    /// Failures first, then the rest; within a kind by detail.
    public static func < (a: AttemptOutcome, b: AttemptOutcome) -> Bool {
        (a.predicts == nil ? 1 : 0, a.kind, a.detail) < (b.predicts == nil ? 1 : 0, b.kind, b.detail)
    }

    /// The number that distinguishes outcomes of one kind (status, retransmissions, alert).
    public var detail: Int {
        switch self {
        case .answered(let status): status ?? 0
        case .unreachable(_, let type, let code): Int(type) << 8 | Int(code)
        case .tlsAlert(let description): Int(description)
        default: 0
        }
    }

    static func unreachableName(v6: Bool, type: UInt8, code: UInt8) -> String {
        let names: [UInt8: String] = v6
            ? [0: "no route", 1: "administratively prohibited", 2: "beyond scope", 3: "address unreachable", 4: "port unreachable",
               5: "source address failed policy", 6: "reject route"]
            : [0: "net unreachable", 1: "host unreachable", 2: "protocol unreachable", 3: "port unreachable", 9: "net prohibited",
               10: "host prohibited", 13: "administratively prohibited"]
        return "\(names[code] ?? "destination unreachable") (type \(type), code \(code))"
    }

    static func alertName(_ description: UInt8) -> String {
        let names: [UInt8: String] = [0: "close_notify", 10: "unexpected_message", 20: "bad_record_mac", 22: "record_overflow",
                                      40: "handshake_failure", 42: "bad_certificate", 43: "unsupported_certificate",
                                      44: "certificate_revoked", 45: "certificate_expired", 46: "certificate_unknown",
                                      47: "illegal_parameter", 48: "unknown_ca", 49: "access_denied", 50: "decode_error",
                                      51: "decrypt_error", 70: "protocol_version", 71: "insufficient_security",
                                      80: "internal_error", 86: "inappropriate_fallback", 90: "user_canceled",
                                      109: "missing_extension", 110: "unsupported_extension", 112: "unrecognized_name",
                                      116: "certificate_required", 120: "no_application_protocol"]
        return "\(names[description] ?? "alert") (\(description))"
    }
}

/// The two ends of a connection attempt: the client (the CDN, or anyone) and the origin's port.
public struct Endpoints: Hashable, Sendable {
    public var family: AddressFamily
    public var client: UInt128
    public var server: UInt128
    public var clientPort: UInt16
    public var serverPort: UInt16

    public var clientAddress: IPAddress { IPAddress(family: family, value: client) }
    public var serverAddress: IPAddress { IPAddress(family: family, value: server) }
    public var description: String {
        family == .ipv4 ? "\(clientAddress):\(clientPort) → \(serverAddress):\(serverPort)"
            : "[\(clientAddress)]:\(clientPort) → [\(serverAddress)]:\(serverPort)"
    }
}

/// One attempt, judged.
public struct JudgedAttempt: Sendable {
    public var endpoints: Endpoints
    public var outcome: AttemptOutcome
    /// Nanoseconds since the epoch: the first SYN, and the last packet seen.
    public var start: Int64
    public var end: Int64
    /// The longest the client waited for the origin after sending data, in nanoseconds.
    public var longestWait: Int64
    /// SYNs sent again for this attempt.
    public var retransmissions: Int
}

/// Follows every TCP connection attempt to the watched ports through the packets, in capture
/// order, and hands each judged attempt to `sink` as soon as it is over. Attempts idle for longer
/// than the CDN could wait are judged and dropped, so memory follows the number of connections
/// open at once, not the length of the capture.
struct ConnectionTracker {
    /// A class: the table holds a reference, so a packet updates its attempt in place (a struct
    /// value updated through the dictionary was copied with the whole table: 35% of the time).
    final class Attempt {
        let firstSyn: Int64
        let isn: UInt32
        var syns = 1
        var synAck: Int64?
        var clientBytes = 0
        var serverBytes = 0
        var tls = false
        var serverHello = false
        var alert: UInt8?
        var status: Int?
        /// The first bytes of the origin's answer, kept until an HTTP status line is complete.
        var head: [UInt8] = []
        var awaitingSince: Int64?
        var longestWait: Int64 = 0
        var serverReset = false
        var serverClosed = false
        var clientDone = false
        var unreachable: (v6: Bool, type: UInt8, code: UInt8)?
        var lastSeen: Int64

        init(firstSyn: Int64, isn: UInt32, lastSeen: Int64) {
            self.firstSyn = firstSyn
            self.isn = isn
            self.lastSeen = lastSeen
        }
    }

    /// Nanoseconds the CDN waits for an answer (→ 524).
    let readTimeout: Int64
    private var open: [Endpoints: Attempt] = [:]
    /// Attempts judged in the last few seconds: their trailing packets (the last ACK, a reset
    /// answering a late segment) are not connections the capture caught in the middle.
    private var recentlyJudged: [Endpoints: Int64] = [:]
    private var lastSweep: Int64 = 0
    private(set) var now: Int64 = 0
    /// Packets of connections that were open before the capture began (no SYN seen).
    private(set) var midstreamPackets = 0

    /// The watched ports, one bit each: asked for every packet, a bitmap beats the interval search.
    private let watched: [UInt64]

    init(ports: PortSet, readTimeout: Double) {
        var bits = [UInt64](repeating: 0, count: 1024)
        for range in ports.ranges {
            for port in range { bits[Int(port) >> 6] |= 1 << UInt64(port & 63) }
        }
        watched = bits
        self.readTimeout = Int64(readTimeout * 1e9)
    }

    @inline(__always) private func isWatched(_ port: UInt16) -> Bool { watched[Int(port) >> 6] & (1 << UInt64(port & 63)) != 0 }

    /// Idle attempts are judged after this: long enough for the CDN's timeouts to have played out.
    private var idleLimit: Int64 { max(2 * readTimeout, 60_000_000_000) }

    mutating func add(_ packet: DecodedPacket, at time: Int64, sink: (JudgedAttempt) -> Void) {
        if time > now { now = time }
        switch packet {
        case .tcp(let segment): add(segment, at: time, sink: sink)
        case .unreachable(let icmp):
            let key = Endpoints(family: icmp.family, client: icmp.source, server: icmp.destination,
                                clientPort: icmp.sourcePort, serverPort: icmp.destinationPort)
            guard let attempt = open[key] else { return }
            attempt.unreachable = (icmp.family == .ipv6, icmp.type, icmp.code)
            attempt.lastSeen = time
        case .other:
            break
        }
        if now - lastSweep > 5_000_000_000 {
            lastSweep = now
            sweep(sink: sink)
        }
    }

    private mutating func add(_ segment: TCPSegment, at time: Int64, sink: (JudgedAttempt) -> Void) {
        let isSyn = segment.has(TCPSegment.syn) && !segment.has(TCPSegment.ack)
        if isSyn {
            guard isWatched(segment.destinationPort) else { return }
            let key = Endpoints(family: segment.family, client: segment.source, server: segment.destination,
                                clientPort: segment.sourcePort, serverPort: segment.destinationPort)
            if let old = open[key] {
                if old.isn == segment.sequence && old.synAck == nil {
                    old.syns += 1
                    old.lastSeen = time
                    return
                }
                // The same four-tuple reused by a new attempt: the old one is over.
                sink(judge(key, old, end: time))
            }
            open[key] = Attempt(firstSyn: time, isn: segment.sequence, lastSeen: time)
            return
        }
        // From the client?
        let forward = Endpoints(family: segment.family, client: segment.source, server: segment.destination,
                                clientPort: segment.sourcePort, serverPort: segment.destinationPort)
        if isWatched(segment.destinationPort), let attempt = open[forward] {
            attempt.lastSeen = time
            if segment.has(TCPSegment.rst) || segment.has(TCPSegment.fin) { attempt.clientDone = true }
            if segment.payloadLength > 0 {
                if attempt.clientBytes == 0, let first = segment.payload.first { attempt.tls = first == 0x16 }
                attempt.clientBytes += segment.payloadLength
                if attempt.awaitingSince == nil { attempt.awaitingSince = time }
            }
            return
        }
        let reverse = Endpoints(family: segment.family, client: segment.destination, server: segment.source,
                                clientPort: segment.destinationPort, serverPort: segment.sourcePort)
        guard isWatched(segment.sourcePort), let attempt = open[reverse] else {
            if recentlyJudged[forward] == nil && recentlyJudged[reverse] == nil && (isWatched(segment.sourcePort) || isWatched(segment.destinationPort)) {
                midstreamPackets += 1
            }
            return
        }
        attempt.lastSeen = time
        if segment.has(TCPSegment.syn) && segment.has(TCPSegment.ack) {
            if attempt.synAck == nil { attempt.synAck = time }
            return
        }
        if segment.payloadLength > 0 {
            if let since = attempt.awaitingSince {
                attempt.longestWait = max(attempt.longestWait, time - since)
                attempt.awaitingSince = nil
            }
            if attempt.serverBytes == 0 || attempt.head.count > 0 {
                readAnswerStart(segment.payload, into: attempt)
            }
            attempt.serverBytes += segment.payloadLength
        }
        if segment.has(TCPSegment.rst) { attempt.serverReset = true }
        if segment.has(TCPSegment.fin) { attempt.serverClosed = true }
        // A reset ends it at once; a close once the client is done too.
        if attempt.serverReset || (attempt.serverClosed && attempt.clientDone) {
            open.removeValue(forKey: reverse)
            recentlyJudged[reverse] = time
            sink(judge(reverse, attempt, end: time))
        }
    }

    /// The start of the origin's answer: a TLS record header, or an HTTP status line (which may
    /// arrive split over segments: up to 32 bytes are kept until the line is complete).
    private func readAnswerStart(_ payload: UnsafeRawBufferPointer, into attempt: Attempt) {
        if attempt.tls {
            guard attempt.serverBytes == 0, payload.count >= 1 else { return }
            if payload[0] == 0x15, payload.count >= 7 { attempt.alert = payload[6] }
            else if payload[0] == 0x16 { attempt.serverHello = true }
            return
        }
        attempt.head.append(contentsOf: payload.prefix(32 - attempt.head.count))
        let head = attempt.head
        let prefix = Array("HTTP/".utf8)
        guard head.count >= prefix.count else { return }
        guard head.starts(with: prefix) else { attempt.head = []; return }
        // HTTP/1.1 200
        if let space = head.firstIndex(of: 0x20), head.count >= space + 4 {
            let digits = head[(space + 1)..<(space + 4)]
            if digits.allSatisfy({ (0x30...0x39).contains($0) }) {
                attempt.status = digits.reduce(0) { $0 * 10 + Int($1 - 0x30) }
            }
            attempt.head = []
        } else if head.count >= 32 {
            attempt.head = []
        }
    }

    /// Judges attempts idle past the limit.
    private mutating func sweep(sink: (JudgedAttempt) -> Void) {
        recentlyJudged = recentlyJudged.filter { now - $0.value < 10_000_000_000 }
        let limit = idleLimit
        let stale = open.filter { now - $0.value.lastSeen > limit }
        for (key, attempt) in stale.sorted(by: { $0.value.firstSyn < $1.value.firstSyn }) {
            open.removeValue(forKey: key)
            sink(judge(key, attempt, end: attempt.lastSeen + limit))
        }
    }

    /// Judges every attempt still open: the capture is over.
    mutating func finish(sink: (JudgedAttempt) -> Void) {
        for (key, attempt) in open.sorted(by: { $0.value.firstSyn < $1.value.firstSyn }) {
            sink(judge(key, attempt, end: now))
        }
        open = [:]
    }

    /// `end`: the last instant the attempt could have been seen (the capture's end for open ones).
    private func judge(_ key: Endpoints, _ attempt: Attempt, end: Int64) -> JudgedAttempt {
        var longest = attempt.longestWait
        if let since = attempt.awaitingSince { longest = max(longest, end - since) }
        let outcome: AttemptOutcome
        if let icmp = attempt.unreachable, attempt.synAck == nil {
            outcome = .unreachable(icmpv6: icmp.v6, type: icmp.type, code: icmp.code)
        } else if attempt.synAck == nil {
            if attempt.serverReset { outcome = .refused }
            // The first retransmission comes after a second: a lone SYN closer to the end
            // than that has not yet been ignored.
            else if attempt.syns == 1 && end - attempt.firstSyn < 1_000_000_000 { outcome = .unfinished }
            else { outcome = .noAnswer }
        } else if let alert = attempt.alert {
            outcome = .tlsAlert(description: alert)
        } else if longest > readTimeout {
            outcome = .silence
        } else if let status = attempt.status {
            outcome = .answered(status: status)
        } else if attempt.tls && !attempt.serverHello && attempt.clientBytes > 0 && (attempt.serverReset || attempt.serverClosed) {
            outcome = .tlsAborted
        } else if attempt.serverReset && attempt.clientBytes > 0 {
            outcome = .resetAfterData
        } else if attempt.serverClosed && attempt.serverBytes == 0 && attempt.clientBytes > 0 {
            outcome = .closedWithoutAnswer
        } else if attempt.serverHello {
            outcome = .tlsHandshake
        } else if attempt.serverBytes > 0 {
            outcome = .answered(status: nil)
        } else if attempt.clientBytes == 0 {
            outcome = attempt.serverReset ? .resetAfterData : attempt.clientDone || attempt.serverClosed ? .noRequest : .unfinished
        } else {
            outcome = .unfinished
        }
        return JudgedAttempt(endpoints: key, outcome: outcome, start: attempt.firstSyn, end: max(attempt.lastSeen, attempt.firstSyn),
                             longestWait: longest, retransmissions: attempt.syns - 1)
    }
}
