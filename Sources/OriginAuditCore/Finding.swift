/// How much a finding matters (DESIGN.md §5).
public enum Severity: String, Sendable, Codable, CaseIterable, Comparable {
    case info, warning, error

    private var rank: Int {
        switch self {
        case .info: 0
        case .warning: 1
        case .error: 2
        }
    }

    public static func < (a: Severity, b: Severity) -> Bool { a.rank < b.rank }
}

/// A secondary place that explains a finding ("chain INPUT policy DROP").
public struct RelatedLocation: Hashable, Sendable, Codable {
    public var location: SourceLocation
    public var message: String

    public init(_ location: SourceLocation, _ message: String) {
        self.location = location
        self.message = message
    }
}

/// One problem found in the inputs. Parsers and rules create findings with a rule id and a
/// message; severity, predicted outcome and remediation default to the rule's catalog entry
/// (`RuleCatalog.complete`) unless the producer knows better (a mode-dependent severity, a
/// remediation in the server's own syntax).
public struct Finding: Hashable, Sendable {
    public var ruleId: String
    public var message: String
    public var location: SourceLocation?
    public var related: [RelatedLocation]
    public var severity: Severity?
    public var predicts: String?
    public var remediation: String?
    /// Extra identity for the fingerprint beyond rule id, file and message (e.g. a CIDR and port),
    /// so that a finding keeps its fingerprint when lines move.
    public var key: String?

    public init(
        ruleId: String,
        message: String,
        location: SourceLocation? = nil,
        related: [RelatedLocation] = [],
        severity: Severity? = nil,
        predicts: String? = nil,
        remediation: String? = nil,
        key: String? = nil
    ) {
        self.ruleId = ruleId
        self.message = message
        self.location = location
        self.related = related
        self.severity = severity
        self.predicts = predicts
        self.remediation = remediation
        self.key = key
    }

    /// A stable identity: independent of line numbers, so moving code does not make a finding new.
    public var fingerprint: String {
        // FNV1a.hex of rule id, file and key (or message) joined by U+001F, hashed without joining them.
        var hash = FNV1a()
        hash.add(ruleId)
        hash.add(0x1F)
        hash.add(location?.file ?? "")
        hash.add(0x1F)
        hash.add(key ?? message)
        return FNV1a.hex(hash.value)
    }

    /// Report order: file, line, column, rule id (DESIGN.md §1); findings without a place first.
    public static func reportOrder(_ a: Finding, _ b: Finding) -> Bool {
        let la = a.location ?? SourceLocation(file: ""), lb = b.location ?? SourceLocation(file: "")
        if la != lb { return la < lb }
        if a.ruleId != b.ruleId { return a.ruleId < b.ruleId }
        return a.message < b.message
    }
}

/// 64-bit FNV-1a, used for fingerprints: deterministic across runs and platforms (unlike Hasher).
public struct FNV1a {
    public private(set) var value: UInt64 = 0xcbf2_9ce4_8422_2325

    public init() {}

    public mutating func add(_ byte: UInt8) {
        value ^= UInt64(byte)
        value &*= 0x0000_0100_0000_01B3
    }

    public mutating func add(_ text: String) {
        var text = text
        text.withUTF8 { bytes in for byte in bytes { add(byte) } }
    }

    public static func hash(_ text: String) -> UInt64 {
        var hash = FNV1a()
        hash.add(text)
        return hash.value
    }

    public static func hex(_ text: String) -> String { hex(hash(text)) }

    /// 16 lower-case hex digits.
    public static func hex(_ value: UInt64) -> String {
        String(unsafeUninitializedCapacity: 16) { buffer in
            for index in 0..<16 {
                let digit = UInt8(truncatingIfNeeded: value >> UInt64(60 - 4 * index)) & 0x0F
                buffer[index] = digit < 10 ? UInt8(ascii: "0") + digit : UInt8(ascii: "a") + digit - 10
            }
            return 16
        }
    }
}

/// One storage for each distinct text: many findings carry the same remediation, each built
/// separately by its producer; kept through this, equal texts share one string.
public struct SharedText {
    private var texts: Set<String> = []

    public init() {}

    /// `text`, or an equal text seen before (the same characters, in storage already held).
    public mutating func one(_ text: String) -> String { texts.insert(text).memberAfterInsert }

    /// The findings' remediations and predicted outcomes, each replaced by the one copy of its text.
    public mutating func share(_ findings: inout [Finding]) {
        for index in findings.indices {
            if let text = findings[index].remediation { findings[index].remediation = one(text) }
            if let text = findings[index].predicts { findings[index].predicts = one(text) }
        }
    }
}
