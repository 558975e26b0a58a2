import Foundation

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
///
/// Its values live in one shared box, copied only when a copy is changed: findings are passed
/// around by value (collected from every rule, completed, sorted, de-duplicated, written), and
/// copying a finding field by field retained each of its strings and arrays; now it is one retain.
public struct Finding: Hashable, Sendable {
    /// The values; never changed while shared (`mutable()` copies first).
    ///
    /// Its fields are not checked for overlapping access at run time: each access to a class's
    /// `var` registered itself with the runtime (swift_beginAccess), several per field read, for
    /// every finding a rule completes, the runner sorts and a reporter writes. The box is only
    /// written through `mutable()`, by the one value that holds it, one field at a time.
    private final class Storage: @unchecked Sendable {
        // In this order the one-byte severity sits beside the message's tag byte: no more room
        // than when the message was a plain string.
        @exclusivity(unchecked) var ruleId: String
        @exclusivity(unchecked) var message: Text
        @exclusivity(unchecked) var severity: Severity?
        @exclusivity(unchecked) var location: SourceLocation?
        @exclusivity(unchecked) var related: [RelatedLocation]
        @exclusivity(unchecked) var predicts: String?
        @exclusivity(unchecked) var remediation: String?
        @exclusivity(unchecked) var key: Text?

        init(ruleId: String, message: Text, location: SourceLocation?, related: [RelatedLocation], severity: Severity?,
             predicts: String?, remediation: String?, key: Text?) {
            self.ruleId = ruleId
            self.message = message
            self.severity = severity
            self.location = location
            self.related = related
            self.predicts = predicts
            self.remediation = remediation
            self.key = key
        }

        func copy() -> Storage {
            Storage(ruleId: ruleId, message: message, location: location, related: related, severity: severity,
                    predicts: predicts, remediation: remediation, key: key)
        }
    }

    /// A message or key as given, or made each time it is read (`Deferred`).
    private enum Text {
        case given(String)
        case deferred(Deferred)

        var string: String {
            switch self {
            case .given(let text): text
            case .deferred(let deferred): deferred.make()
            }
        }
    }

    /// A text made each time it is read, from values its maker captures.
    ///
    /// A rule that finds the same problem across a large estate (every certificate of 5,000 served
    /// alone) held each message and key, ~600 bytes together, from the rule until the report was
    /// written, when each is read once or twice. Made when read, each costs what its maker
    /// captures: references to what the model holds anyway (the served certificate, its file).
    /// The maker must give the same text each time (it captures immutable values only).
    public struct Deferred: Sendable {
        let make: @Sendable () -> String

        public init(_ make: @escaping @Sendable () -> String) { self.make = make }
    }

    private var storage: Storage

    /// The box, made this value's own before a change.
    private mutating func mutable() -> Storage {
        if !isKnownUniquelyReferenced(&storage) { storage = storage.copy() }
        return storage
    }

    public var ruleId: String {
        _read { yield storage.ruleId }
        set { mutable().ruleId = newValue }
        _modify { let box = mutable(); yield &box.ruleId }
    }
    public var message: String {
        get { storage.message.string }
        set { mutable().message = .given(newValue) }
    }
    public var location: SourceLocation? {
        _read { yield storage.location }
        set { mutable().location = newValue }
        _modify { let box = mutable(); yield &box.location }
    }
    public var related: [RelatedLocation] {
        _read { yield storage.related }
        set { mutable().related = newValue }
        _modify { let box = mutable(); yield &box.related }
    }
    public var severity: Severity? {
        _read { yield storage.severity }
        set { mutable().severity = newValue }
        _modify { let box = mutable(); yield &box.severity }
    }
    public var predicts: String? {
        _read { yield storage.predicts }
        set { mutable().predicts = newValue }
        _modify { let box = mutable(); yield &box.predicts }
    }
    public var remediation: String? {
        _read { yield storage.remediation }
        set { mutable().remediation = newValue }
        _modify { let box = mutable(); yield &box.remediation }
    }
    /// Extra identity for the fingerprint beyond rule id, file and message (e.g. a CIDR and port),
    /// so that a finding keeps its fingerprint when lines move.
    public var key: String? {
        get { storage.key?.string }
        set { mutable().key = newValue.map(Text.given) }
    }

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
        storage = Storage(ruleId: ruleId, message: .given(message), location: location, related: related, severity: severity,
                          predicts: predicts, remediation: remediation, key: key.map(Text.given))
    }

    /// A finding whose message and key are made when read (see `Deferred`): the same finding as
    /// one given the texts they make.
    public init(
        ruleId: String,
        message: Deferred,
        location: SourceLocation? = nil,
        related: [RelatedLocation] = [],
        severity: Severity? = nil,
        predicts: String? = nil,
        remediation: String? = nil,
        key: Deferred?
    ) {
        storage = Storage(ruleId: ruleId, message: .deferred(message), location: location, related: related, severity: severity,
                          predicts: predicts, remediation: remediation, key: key.map(Text.deferred))
    }

    /// Equal when every value is (one box is equal to itself without comparing).
    public static func == (a: Finding, b: Finding) -> Bool {
        if a.storage === b.storage { return true }
        let (x, y) = (a.storage, b.storage)
        return x.ruleId == y.ruleId && x.message.string == y.message.string && x.location == y.location && x.related == y.related
            && x.severity == y.severity && x.predicts == y.predicts && x.remediation == y.remediation && x.key?.string == y.key?.string
    }

    public func hash(into hasher: inout Hasher) {
        let box = storage
        hasher.combine(box.ruleId)
        hasher.combine(box.message.string)
        hasher.combine(box.location)
        hasher.combine(box.related)
        hasher.combine(box.severity)
        hasher.combine(box.predicts)
        hasher.combine(box.remediation)
        hasher.combine(box.key?.string)
    }

    /// A stable identity: independent of line numbers, so moving code does not make a finding new.
    public var fingerprint: String { FNV1a.hex(fingerprintHash) }

    /// The number `fingerprint` spells in hex (a reporter writes its digits without the string).
    public var fingerprintHash: UInt64 {
        // FNV1a of rule id, file and key (or message) joined by U+001F, hashed without joining them.
        let box = storage
        var hash = FNV1a()
        hash.add(box.ruleId)
        hash.add(0x1F)
        if let file = box.location?.file { hash.add(file) }
        hash.add(0x1F)
        if let key = box.key { hash.add(key.string) } else { hash.add(box.message.string) }
        return hash.value
    }

    /// Report order: file, line, column, rule id (DESIGN.md §1); findings without a place first.
    public static func reportOrder(_ a: Finding, _ b: Finding) -> Bool {
        let la = a.location ?? SourceLocation(file: ""), lb = b.location ?? SourceLocation(file: "")
        if la != lb { return la < lb }
        if a.ruleId != b.ruleId { return a.ruleId < b.ruleId }
        return a.message < b.message
    }
}

extension Finding {
    /// `findings.sort(by: reportOrder)`: the same stable order, found by sorting small integer
    /// keys (each file and rule id ranked once among the distinct ones) instead of comparing
    /// strings and copying findings for each of the ~16 comparisons per finding; messages are
    /// compared only where place and rule id tie.
    ///
    /// Returns the most findings that share one file and one rule id (what `FindingList` caps),
    /// or `Int.max` where it did not count them: when a rule id holds a NUL (`FindingList` joins
    /// file and rule id with one, and could not tell such keys apart) or the list has a handle of 0.
    @discardableResult
    public static func sortInReportOrder(_ findings: inout [Finding]) -> Int {
        var ties: [Bool] = []
        return sortInReportOrder(&findings, ties: &ties)
    }

    /// `sortInReportOrder(&findings)`, also telling for each finding in the new order whether it
    /// ties in report order with the one before it (same place, rule id and message; a run of
    /// equal findings ties throughout): found from the sort's keys, so that whoever removes
    /// duplicates compares only the findings that tie, not every neighbour's strings.
    @discardableResult
    public static func sortInReportOrder(_ findings: inout [Finding], ties: inout [Bool]) -> Int {
        // Each finding's place and rule id, read in runs side by side (reading them is most of
        // the work: each finding's storage and file name are visited once, cold in the cache).
        let runs = ReportOrderKeys.runs(findings)
        // The comparator tells a handle of 0 from none only by inequality (a non-strict order
        // whose result the sort algorithm decides): such a list is sorted as it was.
        if runs.contains(where: \.zeroHandle) {
            findings.sort(by: reportOrder)
            ties = findings.indices.map { $0 > 0 && !reportOrder(findings[$0 - 1], findings[$0]) }
            return .max
        }
        // The runs' files and rule ids, each ranked once among the distinct ones in string order
        // (equal as dictionary keys are: canonically, as the comparator compares them).
        func ranks(_ names: KeyPath<ReportOrderKeys.Run, ReportOrderKeys.Numbering>) -> (tables: [[Int]], distinct: [String]) {
            var all = ReportOrderKeys.Numbering()
            let local = runs.map { $0[keyPath: names].texts.map { all.number($0) } }
            let distinct = all.texts
            var rank = [Int](repeating: 0, count: distinct.count)
            for (position, id) in distinct.indices.sorted(by: { distinct[$0] < distinct[$1] }).enumerated() { rank[id] = position }
            return (local.map { $0.map { rank[$0] } }, distinct)
        }
        let (fileRanks, files) = ranks(\.files), (ruleRanks, rules) = ranks(\.rules)
        let ruleHasNUL = rules.contains { $0.utf8.contains(0) }
        var keys: [ReportOrderKeys.Key] = []
        keys.reserveCapacity(findings.count)
        for (run, part) in runs.enumerated() {
            for var key in part.keys {
                key.file = fileRanks[run][key.file]
                key.rule = ruleRanks[run][key.rule]
                keys.append(key)
            }
        }
        // Grouped by file (a counting sort on the file's rank keeps each file's findings in the
        // order they came), then each file's findings sorted on their own: a few dozen each
        // rather than one sort of them all.
        var starts = [Int](repeating: 0, count: files.count + 1)
        for key in keys { starts[key.file + 1] += 1 }
        for file in files.indices { starts[file + 1] += starts[file] }
        var order = [Int](repeating: 0, count: keys.count)
        var next = starts
        for index in keys.indices {
            let file = keys[index].file
            order[next[file]] = index
            next[file] += 1
        }
        keys.withUnsafeBufferPointer { keys in
            order.withUnsafeMutableBufferPointer { order in
                for file in files.indices where starts[file + 1] - starts[file] > 1 {
                    var group = UnsafeMutableBufferPointer(rebasing: order[starts[file]..<starts[file + 1]])
                    group.sort { i, j in
                        let a = keys[i], b = keys[j]
                        if (a.line, a.column, a.handle, a.rule) != (b.line, b.column, b.handle, b.rule) {
                            return (a.line, a.column, a.handle, a.rule) < (b.line, b.column, b.handle, b.rule)
                        }
                        let (x, y) = (findings[i].message, findings[j].message)
                        if x < y { return true }
                        if y < x { return false }
                        // Equal in report order: the order they came in (the sort this stands for is stable).
                        return i < j
                    }
                }
            }
        }
        // Equal keys mean the same place and rule id; the messages, compared only then.
        ties = order.indices.map { position in
            guard position > 0 else { return false }
            let (i, j) = (order[position - 1], order[position])
            let (a, b) = (keys[i], keys[j])
            return (a.file, a.line, a.column, a.handle, a.rule) == (b.file, b.line, b.column, b.handle, b.rule)
                && findings[i].message == findings[j].message
        }
        // Each cycle of the permutation swapped into place, in the array's memory: moves, which
        // touch no finding (Array's swapAt copied each finding out and back, retaining and
        // releasing it: a cache miss on each of 50,000 findings' storage, 5 ms of one core).
        var placed = [Bool](repeating: false, count: order.count)
        findings.withUnsafeMutableBufferPointer { findings in
            for start in order.indices where !placed[start] {
                var position = start
                while order[position] != start {
                    findings.swapAt(position, order[position])
                    placed[position] = true
                    position = order[position]
                }
                placed[position] = true
            }
        }
        if ruleHasNUL { return .max }
        // In sorted order one file's findings are together: each file's rule ids counted.
        var largest = 0, file = -1
        var counts = [Int](repeating: 0, count: rules.count), counted: [Int] = []
        for index in order {
            let key = keys[index]
            if key.file != file {
                for rule in counted { counts[rule] = 0 }
                counted.removeAll(keepingCapacity: true)
                file = key.file
            }
            if counts[key.rule] == 0 { counted.append(key.rule) }
            counts[key.rule] += 1
            largest = max(largest, counts[key.rule])
        }
        return largest
    }
}

/// The keys `Finding.sortInReportOrder` sorts by, read from the findings in runs side by side.
enum ReportOrderKeys {
    /// A finding's place and rule id: its file and rule id by number (first the run's own, then
    /// their ranks among every run's).
    struct Key { var file: Int, line: Int, column: Int, handle: Int, rule: Int }

    /// One run of findings' keys, its distinct files and rule ids in the order first seen.
    struct Run: Sendable {
        var keys: [Key] = []
        var files = Numbering(), rules = Numbering()
        /// A finding of the run has a handle of 0 (its keys are not read further).
        var zeroHandle = false
    }

    /// Distinct texts numbered in the order first seen. Findings come in runs from one rule, and
    /// a file's findings mostly together: the last text is compared (equal as the dictionary's
    /// keys are) before hashing.
    struct Numbering: Sendable {
        private(set) var texts: [String] = []
        private var numbers: [String: Int] = [:]
        private var last: (text: String, number: Int)?

        mutating func number(_ text: String) -> Int {
            if let last, last.text == text { return last.number }
            let number = numbers[text] ?? texts.count
            if number == texts.count {
                numbers[text] = number
                texts.append(text)
            }
            last = (text, number)
            return number
        }
    }

    /// The keys of `findings`, in runs of consecutive findings (one per core on a long list).
    static func runs(_ findings: [Finding]) -> [Run] {
        ConcurrentRuns.map(count: findings.count, minimum: 8_192) { [run(findings, $0)] }
    }

    private static func run(_ findings: [Finding], _ range: Range<Int>) -> Run {
        var run = Run()
        run.keys.reserveCapacity(range.count)
        // Each field read in place: a copy of a whole finding retains each of its strings.
        for index in range {
            let location = findings[index].location
            if location?.handle == 0 {
                run.zeroHandle = true
                return run
            }
            run.keys.append(Key(file: run.files.number(location?.file ?? ""), line: location?.line ?? 0, column: location?.column ?? 0,
                                handle: location?.handle ?? 0, rule: run.rules.number(findings[index].ruleId)))
        }
        return run
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
        // Hashed in a local (no exclusive access to `self` checked per text), the bytes in place.
        var value = self.value
        UTF8Bytes.of(text) { bytes in
            for byte in bytes { value = (value ^ UInt64(byte)) &* 0x0000_0100_0000_01B3 }
        }
        self.value = value
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
            writeHex(value, to: buffer.baseAddress!)
            return 16
        }
    }

    /// `hex(value)`'s 16 digits written at `digits`.
    public static func writeHex(_ value: UInt64, to digits: UnsafeMutablePointer<UInt8>) {
        for index in 0..<16 {
            let digit = UInt8(truncatingIfNeeded: value >> UInt64(60 - 4 * index)) & 0x0F
            digits[index] = digit < 10 ? UInt8(ascii: "0") + digit : UInt8(ascii: "a") + digit - 10
        }
    }
}

/// One storage for each distinct text: many findings carry the same remediation, each built
/// separately by its producer; kept through this, equal texts share one string.
public struct SharedText {
    private var texts: Set<Text> = []
    /// The long text last given and the one returned for it: a rule gives the same string (one
    /// storage) to thousands of findings, which is then not hashed again.
    private var last: (given: String, shared: String)?

    /// A text compared and hashed by its UTF-8 bytes: only byte-equal texts are merged (so
    /// what a report shows does not change), and no hash normalises Unicode first.
    private struct Text: Hashable {
        var string: String

        static func == (a: Text, b: Text) -> Bool {
            guard a.string.utf8.count == b.string.utf8.count else { return false }
            var (first, second) = (a.string, b.string)
            return first.withUTF8 { x in second.withUTF8 { y in x.count == 0 || memcmp(x.baseAddress!, y.baseAddress!, x.count) == 0 } }
        }

        func hash(into hasher: inout Hasher) {
            var string = string
            string.withUTF8 { hasher.combine(bytes: UnsafeRawBufferPointer($0)) }
        }
    }

    public init() {}

    /// `text`, or an equal text seen before (the same bytes, in storage already held).
    public mutating func one(_ text: String) -> String {
        // Up to 15 bytes a text is held in the string itself (no storage to share): as it is.
        guard text.utf8.count > 15 else { return text }
        if let last, Self.sameStorage(last.given, text) { return last.shared }
        let shared = texts.insert(Text(string: text)).memberAfterInsert.string
        last = (text, shared)
        return shared
    }

    /// Whether two texts of more than 15 bytes (which small strings never are) are one storage.
    static func sameStorage(_ a: String, _ b: String) -> Bool {
        guard a.utf8.count == b.utf8.count else { return false }
        let same = a.utf8.withContiguousStorageIfAvailable { first in
            b.utf8.withContiguousStorageIfAvailable { second in first.baseAddress == second.baseAddress }
        }
        return same == true
    }

    /// The findings' remediations and predicted outcomes, each replaced by the one copy of its text.
    public mutating func share(_ findings: inout [Finding]) {
        // Written back only where the kept copy is another storage: a rule that gave every
        // finding one string already shares it.
        for index in findings.indices {
            // A rule whose texts differ (a file's path in each) fills the set with thousands of
            // them: room made once at the second, rather than every text hashed again each time
            // the set grows.
            if texts.count == 2, texts.capacity < findings.count { texts.reserveCapacity(findings.count) }
            if let text = findings[index].remediation {
                let kept = one(text)
                if !Self.sameStorage(kept, text) { findings[index].remediation = kept }
            }
            if let text = findings[index].predicts {
                let kept = one(text)
                if !Self.sameStorage(kept, text) { findings[index].predicts = kept }
            }
        }
    }
}
