import Foundation
import OriginAuditCore

/// What `evidence` reads the captures for: whose addresses, which ports, how long the CDN waits.
public struct EvidenceOptions: Sendable {
    public var cdn: CDNProfile
    public var ports: PortSet
    /// Seconds the CDN waits for the origin's answer before giving up (→ 524).
    public var readTimeout: Double

    public init(cdn: CDNProfile, ports: PortSet, readTimeout: Double) {
        self.cdn = cdn
        self.ports = ports
        self.readTimeout = readTimeout
    }
}

/// One capture file as read.
public struct CaptureSummary: Sendable, Encodable {
    public var file: String
    public var linkType: String?
    public var packets: Int
    /// Packets that were IP to or from a watched port (TCP, or ICMP about it).
    public var relevantPackets: Int
    public var firstPacket: String?
    public var lastPacket: String?
    /// Why the file could not be read, or stopped being readable (packets before it count).
    public var error: String?
}

/// An example connection of a row.
public struct ExampleAttempt: Sendable, Encodable {
    public var connection: String
    public var client: String
    public var server: String
    public var start: String
    public var end: String
    /// Seconds the client waited for the origin's answer at the longest.
    public var longestWait: Double
}

/// Connection attempts from one source range to one port that ended alike.
public struct EvidenceRow: Sendable, Encodable {
    /// The CDN range the clients' addresses fall in, or `not the CDN`.
    public var source: String
    public var fromCDN: Bool
    public var family: AddressFamily
    public var port: UInt16
    public var outcome: String
    public var summary: String
    public var status: Int?
    /// What visitors see when the CDN meets this (521, 522, 524, 525, 520, 502…); nil: works.
    public var predicts: String?
    public var count: Int
    /// SYN retransmissions over all the row's attempts, and the most for one attempt.
    public var retransmissions: Int
    public var mostRetransmissions: Int
    public var first: String
    public var last: String
    public var example: ExampleAttempt
    /// What in the configuration explains it (or that nothing given does).
    public var explanation: [String] = []

    var sortKey: SortKey
    struct SortKey: Comparable {
        var fromCDN: Bool, family: AddressFamily, rangeFirst: UInt128, port: UInt16, outcome: AttemptOutcome
        static func < (a: SortKey, b: SortKey) -> Bool {
            ((a.fromCDN ? 0 : 1), a.family == .ipv4 ? 0 : 1, a.rangeFirst, a.port, a.outcome)
                < ((b.fromCDN ? 0 : 1), b.family == .ipv4 ? 0 : 1, b.rangeFirst, b.port, b.outcome)
        }
    }

    enum CodingKeys: String, CodingKey {
        case source, fromCDN, family, port, outcome, summary, status, predicts, count, retransmissions, mostRetransmissions, first, last,
             example, explanation
    }
}

/// Everything `evidence` found in the captures.
public struct EvidenceReport: Sendable, Encodable {
    public var toolVersion: String = ToolInfo.version
    public var cdn: String
    public var ports: String
    public var readTimeout: Double
    public var captures: [CaptureSummary]
    /// Connection attempts to the watched ports (a SYN seen).
    public var attempts: Int
    public var attemptsFromCDN: Int
    /// Attempts from the CDN that ended in something visitors see as an error.
    public var failedFromCDN: Int
    public var rows: [EvidenceRow]
    public var notes: [String]

    /// Reads the captures in the order given, as one stream (rotated files continue each other).
    public static func read(_ paths: [String], options: EvidenceOptions) -> EvidenceReport {
        var tracker = ConnectionTracker(ports: options.ports, readTimeout: options.readTimeout)
        var aggregator = Aggregator(cdn: options.cdn)
        var captures: [CaptureSummary] = []
        var notes: [String] = []
        for path in paths {
            var summary = CaptureSummary(file: path, packets: 0, relevantPackets: 0)
            if path != "-" {
                var info = stat()
                if stat(path, &info) != 0 {
                    summary.error = "cannot be read (\(String(cString: strerror(errno))))"
                    captures.append(summary)
                    continue
                }
                // A FIFO or device is never opened: reading one may block for ever.
                if info.st_mode & S_IFMT != S_IFREG {
                    summary.error = "not a regular file: not read (give `-` to read a capture from standard input)"
                    captures.append(summary)
                    continue
                }
            }
            let reader: PcapReader
            do {
                reader = try PcapReader(path: path)
            } catch {
                summary.error = error.message
                captures.append(summary)
                continue
            }
            defer { reader.close() }
            summary.linkType = reader.linkTypeName
            guard LinkType.supported.contains(reader.linkType) else {
                summary.error = "link type \(reader.linkTypeName) (\(reader.linkType)) is not read: Ethernet, 802.1Q, Linux cooked (SLL, SLL2), raw IP and BSD loopback are"
                captures.append(summary)
                continue
            }
            let linkType = reader.linkType
            var first: Int64?
            var last: Int64 = 0
            var packets = 0
            var relevant = 0
            let failure = reader.forEach { packet in
                packets += 1
                if first == nil { first = packet.time }
                last = max(last, packet.time)
                let decoded = PacketDecoder.decode(packet.bytes, linkType: linkType)
                if case .other = decoded { return }
                relevant += 1
                tracker.add(decoded, at: packet.time) { aggregator.add($0) }
            }
            summary.packets = packets
            summary.relevantPackets = relevant
            summary.firstPacket = first.map(Self.timestamp)
            summary.lastPacket = packets > 0 ? Self.timestamp(last) : nil
            if let failure {
                summary.error = "\(failure.message) (after packet \(packets); the packets before it are counted)"
            }
            captures.append(summary)
        }
        tracker.finish { aggregator.add($0) }
        if tracker.midstreamPackets > 0 {
            notes.append("\(tracker.midstreamPackets) packets belong to connections already open when the capture began (no SYN seen): not judged")
        }
        if aggregator.attempts == 0 && captures.contains(where: { $0.error == nil }) {
            notes.append("no connection attempt (SYN) to ports \(options.ports.portList) in the capture: check the capture filter and interface (the CDN reaches the origin's public interface), or give --port")
        }
        let rows = aggregator.rows()
        return EvidenceReport(cdn: options.cdn.displayName, ports: options.ports.portList, readTimeout: options.readTimeout,
                              captures: captures, attempts: aggregator.attempts, attemptsFromCDN: aggregator.fromCDN,
                              failedFromCDN: rows.filter { $0.fromCDN && $0.predicts != nil }.reduce(0) { $0 + $1.count },
                              rows: rows, notes: notes)
    }

    /// RFC 3339 in UTC with microseconds.
    static func timestamp(_ nanoseconds: Int64) -> String {
        let seconds = nanoseconds / 1_000_000_000
        let micros = (nanoseconds % 1_000_000_000) / 1000
        var time = time_t(seconds)
        var parts = tm()
        gmtime_r(&time, &parts)
        return String(format: "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ", Int(parts.tm_year) + 1900, Int(parts.tm_mon) + 1, Int(parts.tm_mday),
                      Int(parts.tm_hour), Int(parts.tm_min), Int(parts.tm_sec), Int(micros))
    }
}

/// Folds judged attempts into rows: source range × port × outcome.
struct Aggregator {
    struct Key: Hashable {
        var range: Int  // index into `ranges`, -1: not the CDN
        var family: AddressFamily
        var port: UInt16
        var outcome: AttemptOutcome
    }

    struct Tally {
        var count: Int
        var retransmissions: Int
        var mostRetransmissions: Int
        var first: Int64
        var last: Int64
        var example: JudgedAttempt
    }

    /// The CDN's ranges, sorted by first address within each family.
    private let ranges: [CIDR]
    private let starts: [AddressFamily: [(first: UInt128, last: UInt128, index: Int)]]
    private var tallies: [Key: Tally] = [:]
    private(set) var attempts = 0
    private(set) var fromCDN = 0

    init(cdn: CDNProfile) {
        var list: [CIDR] = []
        for family in AddressFamily.allCases { list += cdn.ranges[family].cidrs }
        ranges = list
        var starts: [AddressFamily: [(first: UInt128, last: UInt128, index: Int)]] = [:]
        for (index, cidr) in list.enumerated() { starts[cidr.family, default: []].append((cidr.first, cidr.last, index)) }
        self.starts = starts.mapValues { $0.sorted { $0.first < $1.first } }
    }

    /// The CDN range holding `address`, by binary search (the ranges do not overlap: they are the
    /// CIDRs of an interval set).
    func range(of address: UInt128, family: AddressFamily) -> Int {
        guard let list = starts[family], !list.isEmpty else { return -1 }
        var low = 0, high = list.count - 1, found = -1
        while low <= high {
            let middle = (low + high) / 2
            if list[middle].first <= address { found = middle; low = middle + 1 } else { high = middle - 1 }
        }
        return found >= 0 && address <= list[found].last ? list[found].index : -1
    }

    mutating func add(_ attempt: JudgedAttempt) {
        attempts += 1
        let index = range(of: attempt.endpoints.client, family: attempt.endpoints.family)
        if index >= 0 { fromCDN += 1 }
        let key = Key(range: index, family: attempt.endpoints.family, port: attempt.endpoints.serverPort, outcome: attempt.outcome)
        if let existing = tallies.index(forKey: key) {
            tallies.values[existing].count += 1
            tallies.values[existing].retransmissions += attempt.retransmissions
            tallies.values[existing].mostRetransmissions = max(tallies.values[existing].mostRetransmissions, attempt.retransmissions)
            tallies.values[existing].first = min(tallies.values[existing].first, attempt.start)
            tallies.values[existing].last = max(tallies.values[existing].last, attempt.start)
        } else {
            tallies[key] = Tally(count: 1, retransmissions: attempt.retransmissions, mostRetransmissions: attempt.retransmissions,
                                 first: attempt.start, last: attempt.start, example: attempt)
        }
    }

    func rows() -> [EvidenceRow] {
        tallies.map { key, tally in
            let example = tally.example
            let status: Int? = if case .answered(let status) = key.outcome { status } else { nil }
            let source = key.range >= 0 ? ranges[key.range].description : "not the CDN"
            var summary = key.outcome.summary
            if key.outcome == .noAnswer {
                summary += " (\(tally.retransmissions) retransmission\(tally.retransmissions == 1 ? "" : "s")"
                    + (tally.count > 1 ? ", at most \(tally.mostRetransmissions) for one attempt)" : ")")
            }
            return EvidenceRow(
                source: source, fromCDN: key.range >= 0, family: key.family, port: key.port, outcome: key.outcome.kind,
                summary: summary, status: status, predicts: key.range >= 0 ? key.outcome.predicts : nil, count: tally.count,
                retransmissions: tally.retransmissions, mostRetransmissions: tally.mostRetransmissions,
                first: EvidenceReport.timestamp(tally.first), last: EvidenceReport.timestamp(tally.last),
                example: ExampleAttempt(connection: example.endpoints.description, client: example.endpoints.clientAddress.description,
                                        server: example.endpoints.serverAddress.description,
                                        start: EvidenceReport.timestamp(example.start), end: EvidenceReport.timestamp(example.end),
                                        longestWait: Double(example.longestWait / 1_000_000) / 1000),
                sortKey: EvidenceRow.SortKey(fromCDN: key.range >= 0, family: key.family,
                                             rangeFirst: key.range >= 0 ? ranges[key.range].first : 0, port: key.port, outcome: key.outcome))
        }.sorted { $0.sortKey < $1.sortKey }
    }
}

extension EvidenceReport {
    /// The report for people: captures, then one block per source range, failures first.
    public func renderText() -> String {
        var out = ""
        for capture in captures {
            var line = "capture \(capture.file)"
            if let link = capture.linkType { line += " (\(link))" }
            line += ": \(capture.packets) packets"
            if let first = capture.firstPacket, let last = capture.lastPacket { line += ", \(first) – \(last)" }
            if let error = capture.error { line += "; \(error)" }
            out += line + "\n"
        }
        out += "\n\(attempts) connection attempts to ports \(ports); \(attemptsFromCDN) from \(cdn), \(failedFromCDN) of them failed as visitors would see (read timeout \(EvidenceExplainer.formatSeconds(readTimeout)))\n"
        var currentSource: String?
        for row in rows {
            let source = row.fromCDN ? "\(cdn) \(row.source)" : "not \(cdn)"
            if source != currentSource {
                out += "\n\(source)\n"
                currentSource = source
            }
            let predicts = row.predicts.map { "→ \($0)" } ?? "ok"
            out += "  port \(row.port)  \(row.summary): \(row.count) (\(predicts)), \(row.first)\(row.count > 1 ? " – \(row.last)" : "")\n"
            out += "    e.g. \(row.example.connection) at \(row.example.start)"
            if row.example.longestWait >= 0.05 { out += ", waited \(EvidenceExplainer.formatSeconds(row.example.longestWait)) for an answer" }
            out += "\n"
            for line in row.explanation { out += "    \(line)\n" }
        }
        for note in notes { out += "note: \(note)\n" }
        return out
    }
}
