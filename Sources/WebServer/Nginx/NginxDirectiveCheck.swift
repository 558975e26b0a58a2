import Foundation
import OriginAuditCore

/// What nginx checks of every directive as it reads the configuration, before anything runs:
/// that the name is known, that it is allowed where it stands, whether it takes a block, and how
/// many arguments it takes. A failure is `nginx -t`'s refusal: the server does not start (521).
/// The facts come from `Rules/webserver/nginx-directives.yml`, learnt from Debian's nginx build
/// by `Scripts/make-nginx-directives`.
enum NginxDirectiveCheck {
    /// One way a directive may be written: where, with or without a block, how many arguments.
    struct Shape: Sendable {
        var contexts: Set<String> { didSet { contextBits = Shape.bits(contexts) } }
        /// `contexts` as bits (`contextNames`), tested once per directive without hashing.
        private(set) var contextBits: UInt32
        var block: Bool
        /// Accepted argument counts: closed ranges; an upper bound of Int.max is "or more".
        var counts: [ClosedRange<Int>]

        init(contexts: Set<String>, block: Bool, counts: [ClosedRange<Int>]) {
            self.contexts = contexts
            contextBits = Shape.bits(contexts)
            self.block = block
            self.counts = counts
        }

        /// The contexts `walk` stands in (`context(opening:in:)`), each a bit; a name not among
        /// them has none (no directive is ever checked there).
        static let contextNames = ["main", "events", "http", "server", "location", "server-if", "location-if", "limit_except", "upstream"]

        static func bit(_ context: String) -> UInt32 {
            contextNames.firstIndex(of: context).map { UInt32(1) << UInt32($0) } ?? 0
        }

        static func bits(_ contexts: Set<String>) -> UInt32 { contexts.reduce(0) { $0 | bit($1) } }
    }

    /// Directive name → its shapes (several when a name means different things in different
    /// contexts: `server` in `http` and in `upstream`).
    static let table: [String: [Shape]] = {
        guard let file = EmbeddedRules.files.first(where: { $0.path == "webserver/nginx-directives.yml" }) else { return [:] }
        return parse(file.contents)
    }()

    /// `table` by name number (`NginxNameTable`): nil for a name the table does not know.
    static let shapesByNumber: [[Shape]?] = NginxNameTable.shared.names.map { table[$0] }

    /// A shape as the walk tests it, without a Set or an array: a name's shapes are consecutive
    /// in `ShapeTable.shapes`, and each one's counts consecutive in `ShapeTable.counts`.
    struct FlatShape: Sendable {
        var contextBits: UInt32
        var block: Bool
        var counts: Range<Int>
    }

    /// `shapesByNumber` flattened, read once per check rather than once per directive.
    struct ShapeTable: Sendable {
        var shapes: [FlatShape] = []
        var counts: [ClosedRange<Int>] = []
        /// Name number → its range of `shapes`; nil for a name the table does not know.
        var byNumber: [Range<Int>?] = []

        /// Whether some shape of `range` allowed in `contextBit` fits: (allowed here, with the block as written, with this many arguments).
        func fit(_ range: Range<Int>, contextBit: UInt32, hasBlock: Bool, argumentCount: Int) -> (allowed: Bool, block: Bool, count: Bool) {
            var allowed = false, block = false
            for index in range where shapes[index].contextBits & contextBit != 0 {
                allowed = true
                let shape = shapes[index]
                if shape.block == hasBlock {
                    block = true
                    for count in shape.counts where counts[count].contains(argumentCount) { return (true, true, true) }
                }
            }
            return (allowed, block, false)
        }
    }

    static let shapeTable: ShapeTable = {
        var flat = ShapeTable()
        for shapes in shapesByNumber {
            guard let shapes else { flat.byNumber.append(nil); continue }
            let start = flat.shapes.count
            for shape in shapes {
                let countStart = flat.counts.count
                flat.counts += shape.counts
                flat.shapes.append(FlatShape(contextBits: shape.contextBits, block: shape.block, counts: countStart..<flat.counts.count))
            }
            flat.byNumber.append(start..<flat.shapes.count)
        }
        return flat
    }()

    /// Reads the table's lines: `  - "NAME | CONTEXTS | block|simple | COUNTS"`.
    static func parse(_ text: String) -> [String: [Shape]] {
        var table: [String: [Shape]] = [:]
        // Read on the bytes (the table is ASCII): on Characters, with Foundation's trimming, it cost
        // more than the rest of the first file's parse, which waits for it.
        let space = UInt8(ascii: " "), tab = UInt8(ascii: "\t"), quote = UInt8(ascii: "\"")
        for line in Array(text.utf8).split(separator: UInt8(ascii: "\n")) {
            let trimmed = line.drop { $0 == space }
            guard trimmed.starts(with: [UInt8(ascii: "-"), space, quote]), trimmed.last == quote else { continue }
            let fields = trimmed.dropFirst(3).dropLast().split(separator: UInt8(ascii: "|")).map { field in
                var field = field.drop { $0 == space || $0 == tab }
                while let last = field.last, last == space || last == tab { field = field.dropLast() }
                return String(decoding: field, as: UTF8.self)
            }
            guard fields.count == 4 else { continue }
            var counts: [ClosedRange<Int>] = []
            for part in fields[3].split(separator: ",") {
                if part.hasSuffix("+"), let low = Int(part.dropLast()) { counts.append(low...Int.max) }
                else if let dash = part.firstIndex(of: "-"), let low = Int(part[..<dash]), let high = Int(part[part.index(after: dash)...]), low <= high {
                    counts.append(low...high)
                } else if let single = Int(part) { counts.append(single...single) }
            }
            table[fields[0], default: []].append(Shape(contexts: Set(fields[1].split(separator: ",").map(String.init)),
                                                       block: fields[2] == "block", counts: counts))
        }
        return table
    }

    /// The variables nginx provides by itself and the prefixes of its families (`http_`, `arg_`),
    /// from `Rules/webserver/nginx-variables.yml`.
    /// `fixed`: the built-ins a configuration may not define again (`set $scheme …`).
    static let builtInVariables: (names: Set<String>, prefixes: [String], fixed: Set<String>) = {
        guard let file = EmbeddedRules.files.first(where: { $0.path == "webserver/nginx-variables.yml" }) else { return ([], [], []) }
        var names = Set<String>(), prefixes: [String] = [], fixed = Set<String>(), section = ""
        for line in file.contents.split(separator: "\n") {
            if line.hasSuffix(":") && !line.hasPrefix(" ") { section = String(line.dropLast()); continue }
            let trimmed = line.drop { $0 == " " }
            guard trimmed.hasPrefix("- ") else { continue }
            let value = String(trimmed.dropFirst(2))
            switch section {
            case "prefixes": prefixes.append(value)
            case "fixed": fixed.insert(value)
            default: names.insert(value)
            }
        }
        return (names, prefixes, fixed)
    }()

    /// The variable names an argument refers to (`$host`, `${scheme}`), lowercased as nginx
    /// looks them up.
    static func variables(in text: String) -> [String] {
        // Most arguments name no variable, and nearly all are ASCII: bytes decide both cases.
        guard text.hasByte(UInt8(ascii: "$")) else { return [] }
        var text = text
        return text.withUTF8 { bytes in bytes.contains { $0 >= 0x80 } ? nil : asciiVariables(in: bytes) } ?? characterVariables(in: text)
    }

    /// `variables(in:)` on Characters, for text that is not ASCII (a Unicode letter ends no name
    /// early: the whole run is read, and a name that is not ASCII is no variable nginx knows).
    static func characterVariables(in text: String) -> [String] {
        var names: [String] = []
        var index = text.startIndex
        while let dollar = text[index...].firstIndex(of: "$") {
            var start = text.index(after: dollar)
            var braced = false
            if start < text.endIndex, text[start] == "{" { braced = true; start = text.index(after: start) }
            let name = text[start...].prefix { $0.isLetter || $0.isNumber || $0 == "_" }
            if !name.isEmpty, name.allSatisfy(\.isASCII) { names.append(name.lowercased()) }
            index = text.index(start, offsetBy: name.count + (braced ? 1 : 0), limitedBy: text.endIndex) ?? text.endIndex
            if index >= text.endIndex { break }
        }
        return names
    }

    /// `variables(in:)` for ASCII text, on bytes: the same names, without Character work.
    static func asciiVariables(in bytes: [UInt8]) -> [String] {
        bytes.withUnsafeBufferPointer { asciiVariables(in: $0) }
    }

    /// `asciiVariables(in:)` on the text's own storage.
    static func asciiVariables(in bytes: UnsafeBufferPointer<UInt8>) -> [String] {
        var names: [String] = []
        forEachVariableName(in: bytes) { names.append(String(decoding: $0, as: UTF8.self).lowercased()) }
        return names
    }

    /// Calls `body` with the bytes of each variable name an ASCII text refers to, as written (not
    /// lowercased), in order: what `asciiVariables(in:)` returns, before Strings are made.
    @inline(__always) static func forEachVariableName(in bytes: UnsafeBufferPointer<UInt8>, _ body: (UnsafeBufferPointer<UInt8>) -> Void) {
        func isWord(_ byte: UInt8) -> Bool {
            (byte >= 0x61 && byte <= 0x7A) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x30 && byte <= 0x39) || byte == 0x5F
        }
        var index = 0
        while index < bytes.count {
            guard bytes[index] == UInt8(ascii: "$") else { index += 1; continue }
            var start = index + 1
            var braced = false
            if start < bytes.count, bytes[start] == UInt8(ascii: "{") { braced = true; start += 1 }
            var end = start
            while end < bytes.count, isWord(bytes[end]) { end += 1 }
            if end > start { body(UnsafeBufferPointer(rebasing: bytes[start..<end])) }
            index = end + (braced ? 1 : 0)
        }
    }

    /// Whether variable names are known, remembered by their ASCII bytes with capitals folded (as
    /// nginx looks names up): an estate refers to a few names ~100,000 times, and only a name's
    /// first reference makes its String (to decide, by `deciding`) and hashes it.
    struct VariableMemo {
        /// The names' lowercased bytes, one after another.
        private var bytes: [UInt8] = []
        /// Per name: where its bytes start and end in `bytes`, and the verdict.
        private var entries: [(start: Int, end: Int, known: Bool)] = []
        /// Open addressing on an FNV-1a hash of the lowercased bytes: slot → entry index + 1 (0: empty).
        private var slots = [Int](repeating: 0, count: 64)

        @inline(__always) private static func folded(_ byte: UInt8) -> UInt8 {
            byte >= 0x41 && byte <= 0x5A ? byte | 0x20 : byte
        }

        private static func hash(_ name: UnsafeBufferPointer<UInt8>) -> Int {
            var hash: UInt64 = 0xcbf2_9ce4_8422_2325
            for byte in name { hash = (hash ^ UInt64(folded(byte))) &* 0x100_0000_01b3 }
            return Int(truncatingIfNeeded: hash ^ (hash >> 29))
        }

        /// Whether the name (ASCII bytes, any case) is known; `deciding` is asked with its
        /// lowercased String the first time.
        mutating func isKnown(_ name: UnsafeBufferPointer<UInt8>, deciding: (String) -> Bool) -> Bool {
            let hash = VariableMemo.hash(name)
            var slot = hash & (slots.count - 1)
            while slots[slot] != 0 {
                let entry = entries[slots[slot] - 1]
                if entry.end - entry.start == name.count {
                    var index = 0
                    while index < name.count && bytes[entry.start + index] == VariableMemo.folded(name[index]) { index += 1 }
                    if index == name.count { return entry.known }
                }
                slot = (slot + 1) & (slots.count - 1)
            }
            let known = deciding(String(decoding: name, as: UTF8.self).lowercased())
            let start = bytes.count
            bytes.append(contentsOf: name.lazy.map(VariableMemo.folded))
            entries.append((start, bytes.count, known))
            slots[slot] = entries.count
            if entries.count * 2 > slots.count { grow() }
            return known
        }

        /// Twice the slots, every entry placed again (kept at most half full).
        private mutating func grow() {
            slots = [Int](repeating: 0, count: slots.count * 2)
            let mask = slots.count - 1
            bytes.withUnsafeBufferPointer { all in
                for (number, entry) in entries.enumerated() {
                    var slot = VariableMemo.hash(UnsafeBufferPointer(rebasing: all[entry.start..<entry.end])) & mask
                    while slots[slot] != 0 { slot = (slot + 1) & mask }
                    slots[slot] = number + 1
                }
            }
        }
    }

    /// Names a regular expression captures by name (`(?<name>…)`, `(?P<name>…)`, `(?'name'…)`):
    /// each becomes a variable.
    static func captureNames(in text: String) -> [String] {
        var names: [String] = []
        for opener in ["(?<", "(?P<", "(?'"] {
            var rest = Substring(text)
            while let range = rest.range(of: opener) {
                let name = rest[range.upperBound...].prefix { $0.isLetter || $0.isNumber || $0 == "_" }
                if !name.isEmpty { names.append(name.lowercased()) }
                rest = rest[range.upperBound...]
            }
        }
        return names
    }

    /// What may follow the address in an http server's `listen` (`ssl`, `backlog=511`, …), from
    /// `Rules/webserver/nginx-listen-parameters.yml`; an entry ending in `=` takes a value.
    static let listenParameters: Set<String> = {
        guard let file = EmbeddedRules.files.first(where: { $0.path == "webserver/nginx-listen-parameters.yml" }) else { return [] }
        return Set(file.contents.split(separator: "\n").compactMap { line in
            let trimmed = line.drop { $0 == " " }
            return trimmed.hasPrefix("- ") ? String(trimmed.dropFirst(2)) : nil
        })
    }()

    /// `listenParameters` as bytes, searched in order of length: an ASCII parameter is compared
    /// on its bytes (for ASCII text byte equality is String equality).
    static let listenParameterBytes: [[UInt8]] = listenParameters.map { Array($0.utf8) }.sorted { $0.count < $1.count }

    /// nginx's "invalid parameter" for `listen`: the first parameter it does not know.
    static func unknownListenParameter(_ directive: NginxDirective) -> String? {
        guard !listenParameters.isEmpty else { return nil }
        for position in 1..<max(1, directive.argumentCount) {
            // nil: known; true: not known; false: not ASCII, asked on the String.
            let unknown = directive.withValue(position) { bytes -> Bool? in
                let bytes = bytes!
                if bytes.contains(where: { $0 >= 0x80 }) { return false }
                let key = bytes.firstIndex(of: UInt8(ascii: "=")).map { UnsafeBufferPointer(rebasing: bytes[...$0]) } ?? bytes
                return listenParameterBytes.contains { $0.count == key.count && $0.elementsEqual(key) } ? nil : true
            }
            guard let unknown else { continue }
            let value = directive.value(position)!
            if unknown { return value }
            if let equals = value.firstIndex(of: "=") {
                if !listenParameters.contains(String(value[...equals])) { return value }
            } else if !listenParameters.contains(value) {
                return value
            }
        }
        return nil
    }

    /// Blocks whose contents are data, not directives (`types`, `map`, …), or whose directives
    /// belong to modules the table does not describe (`stream`, `mail`): not looked into.
    static let opaqueBlocks: Set<String> = ["types", "map", "geo", "split_clients", "charset_map", "stream", "mail", "match"]

    /// The contexts `walk` stands in, in the order of `Shape.contextNames` (which gives each its bit).
    enum Context: UInt32 {
        case main, events, http, server, location, serverIf, locationIf, limitExcept, upstream

        var bit: UInt32 { 1 << rawValue }
    }

    /// The context a block opens, seen from the context it stands in.
    static func context(opening name: NginxName, in parent: Context) -> Context? {
        switch (name, parent) {
        case (.events, .main): .events
        case (.http, .main): .http
        case (.server, .http): .server
        case (.location, .server), (.location, .location): .location
        case (.if, .server): .serverIf
        case (.if, .location): .locationIf
        case (.limitExcept, .location): .limitExcept
        case (.upstream, .http): .upstream
        default: nil
        }
    }

    /// Checks every directive of the tree from its main file (`http` for a fragment read as if
    /// included there). Names the table does not know are errors unless the configuration loads
    /// modules (`load_module`) the table does not describe; then they are said in a note.
    static func check(_ config: NginxConfigTree, fragment: Bool) -> (findings: [Finding], notes: [String]) {
        guard !table.isEmpty, let main = config.files.first, main.isRead else { return ([], []) }
        let loadsModules = main.topLevel.contains { $0.kind == .loadModule }
        var findings: [Finding] = []
        var unknown: [String] = []
        var seen = Set<String>()
        var sawEvents = false
        func refuse(_ message: String, _ directive: NginxDirective) {
            var location = config.location(of: directive)
            location.line = directive.endLine + config.files[directive.file].lineOffset
            let finding = Finding(ruleId: "input.parse-error", message: "nginx: \(message): nginx refuses to start",
                                  location: location, key: "directive \(location) \(message)")
            if seen.insert("\(location) \(message)").inserted { findings.append(finding) }
        }
        // Names other directives refer to: log formats and shared-memory zones, defined anywhere.
        var logFormats: Set<String> = ["combined"], zones = Set<String>(), upstreams = Set<String>(), defined = Set<String>()
        var uses: [(name: String, directive: NginxDirective)] = []
        // Every directive of every file passes here: its record is read once, and its arguments'
        // bytes straight from the file's words.
        let collectTraits = NginxNameTable.shared.traits
        func collect(_ directives: NginxChildren) {
            let syntax = directives.syntax
            for directive in directives {
                let node = directive.node
                let kind = NginxName(rawValue: node.nameNumber) ?? .other, traits = collectTraits[Int(node.nameNumber)]
                switch kind {
                case .logFormat: if let name = directive.value(0) { logFormats.insert(name) }
                case .upstream: if let name = directive.value(0) { upstreams.insert(name) }
                case .map, .splitClients: if let name = directive.value(1) { defined.formUnion(variables(in: name)) }
                case .geo: if let name = directive.values.last { defined.formUnion(variables(in: name)) }
                case .limitReqZone, .limitConnZone:
                    if let zone = directive.argument(after: "zone=") {
                        zones.insert(String(zone.prefix { $0 != ":" }))
                    }
                default: break
                }
                if traits.contains(.setSuffix) || kind == .set, let name = directive.value(0) {
                    defined.formUnion(variables(in: name))
                }
                let arguments = (Int(node.firstWord) + 1)..<(Int(node.firstWord) + 1 + Int(node.argumentCount))
                for word in arguments where syntax.withValue(ofWord: word, { $0.contains(UInt8(ascii: "(")) }) {
                    let value = syntax.value(ofWord: word)
                    if value.asciiContains("(?") ?? value.contains("(?") { defined.formUnion(captureNames(in: value)) }
                }
                if node.hasBlock, let children = directive.children {
                    if !traits.contains(.opaque) || kind == .map { collect(children) }
                    if kind == .map { children.forEach { entry in defined.formUnion(captureNames(in: entry.name)) } }
                }
            }
        }
        config.files.forEach { collect($0.topLevel) }
        /// What nginx refuses about a reference: a log format or a zone nothing defines.
        func dangling(_ directive: NginxDirective) -> String? {
            switch directive.kind {
            case .accessLog:
                if let format = directive.value(1), !(format.asciiContains("=") ?? format.contains("=")), !(format.asciiContains("$") ?? format.contains("$")),
                   !logFormats.contains(format) {
                    return "unknown log format \"\(format)\""
                }
            case .limitReq:
                guard let zone = directive.argument(after: "zone=").map(String.init) else { break }
                if !(zone.asciiContains("$") ?? zone.contains("$")), !zones.contains(zone) {
                    return "zero size shared memory zone \"\(zone)\""
                }
            case .fastcgiPass, .uwsgiPass, .scgiPass, .memcachedPass:
                // An ASCII target naming a variable or a unix: socket is decided on its bytes (for
                // ASCII text these byte tests are the String tests below), without a String.
                let decided = directive.withValue(0) { bytes -> Bool in
                    guard let bytes, !bytes.contains(where: { $0 >= 0x80 }) else { return false }
                    return bytes.contains(UInt8(ascii: "$")) || bytes.starts(with: "unix:".utf8)
                }
                if decided { return nil }
                // No scheme gives these a default port: a name that is no upstream group needs one.
                guard var target = directive.value(0), !(target.asciiContains("$") ?? target.contains("$")), !target.hasPrefix("unix:") else { return nil }
                if let scheme = target.range(of: "://") { target = String(target[scheme.upperBound...]) }
                if upstreams.contains(target) { return nil }
                if target.hasPrefix("[") { return nil }
                guard let colon = target.lastIndex(of: ":") else { return "no port in upstream \"\(target)\"" }
                let port = target[target.index(after: colon)...]
                if port.isEmpty || !port.allSatisfy(\.isNumber) { return "invalid port in upstream \"\(target)\"" }
            case .resolver:
                // An IPv6 address needs brackets: nginx reads `::1` as host ":" and port "1"… and refuses.
                if let bare = directive.values.first(where: { !$0.contains("=") && !$0.hasPrefix("[") && $0.filter { $0 == ":" }.count > 1 }) {
                    return "invalid port in resolver \"\(bare)\""
                }
            case .limitConn:
                if let zone = directive.value(0), !(zone.asciiContains("$") ?? zone.contains("$")), !zones.contains(zone) {
                    return "zero size shared memory zone \"\(zone)\""
                }
            default: break
            }
            return nil
        }
        // Whether a variable name is one nginx or the configuration defines, asked once per name.
        var knownVariables: [String: Bool] = [:]
        func isKnown(_ name: String) -> Bool {
            if let known = knownVariables[name] { return known }
            let known = defined.contains(name) || builtInVariables.names.contains(name)
                || builtInVariables.prefixes.contains(where: { name.hasPrefix($0) }) || name.allSatisfy(\.isNumber)
            knownVariables[name] = known
            return known
        }
        // The same answers by the names' bytes, for ASCII arguments: no String per reference.
        var knownByBytes = VariableMemo()
        /// The unknown variables argument `position` refers to, in order (`variables(in:)` filtered by
        /// `isKnown`); `firstArgument` is the word of the directive's first argument (its record's, read once).
        func unknownVariables(in directive: NginxDirective, _ position: Int, firstArgument: Int, _ found: (String) -> Void) {
            let decided = directive.syntax.withValue(ofWord: firstArgument + position) { bytes -> Bool in
                guard bytes.contains(UInt8(ascii: "$")) else { return true }
                if bytes.contains(where: { $0 >= 0x80 }) { return false }
                forEachVariableName(in: bytes) { name in
                    if !knownByBytes.isKnown(name, deciding: isKnown) {
                        found(String(decoding: name, as: UTF8.self).lowercased())
                    }
                }
                return true
            }
            if !decided {
                for variable in characterVariables(in: directive.value(position)!) where !isKnown(variable) { found(variable) }
            }
        }
        let shapeTable = Self.shapeTable, checksVariables = !builtInVariables.names.isEmpty, fixedVariables = builtInVariables.fixed
        func walk(_ directives: NginxChildren, in context: Context, chain: [Int]) {
            let contextBit = context.bit
            let traitTable = NginxNameTable.shared.traits
            for directive in directives {
                let node = directive.node
                let kind = NginxName(rawValue: node.nameNumber) ?? .other, traits = traitTable[Int(node.nameNumber)]
                if kind == .events && context == .main { sawEvents = true }
                if kind == .include {
                    for file in directive.includes ?? [] where !chain.contains(file) && chain.count < 64 {
                        walk(config.files[file].topLevel, in: context, chain: chain + [file])
                    }
                    continue
                }
                guard let shapes = shapeTable.byNumber[Int(node.nameNumber)] else {
                    let name = directive.name
                    if loadsModules || NginxGrammar.isLuaBlock(name) {
                        unknown.append("\(name) (\(config.location(of: directive)))")
                    } else {
                        refuse("unknown directive \"\(name)\"", directive)
                    }
                    continue
                }
                // The shapes allowed here; of those, the ones with or without a block as written;
                // of those, one that takes this many arguments (one pass, nothing allocated).
                let hasBlock = node.hasBlock, argumentCount = Int(node.argumentCount)
                let (allowedHere, blockFits, countFits) = shapeTable.fit(shapes, contextBit: contextBit, hasBlock: hasBlock, argumentCount: argumentCount)
                guard allowedHere else {
                    refuse("\"\(directive.name)\" directive is not allowed here", directive)
                    continue
                }
                if !blockFits {
                    // The parser already says "has no opening {" / "is not terminated by ;" for the
                    // names its grammar knows; the table says it for the others.
                    if !(traits.contains(.grammarBlock) || traits.contains(.grammarSimple)) {
                        refuse(!hasBlock ? "directive \"\(directive.name)\" has no opening \"{\"" : "directive \"\(directive.name)\" is not terminated by \";\"", directive)
                    }
                    continue
                }
                if !countFits {
                    refuse("invalid number of arguments in \"\(directive.name)\" directive", directive)
                    continue
                }
                if checksVariables {
                    // Regular expressions (location, rewrite's pattern, server_name) may hold a `$` anchor.
                    let skipped = kind == .location || kind == .serverName ? argumentCount : kind == .rewrite ? 1 : 0
                    for position in 0..<argumentCount where position >= skipped {
                        if kind == .if, position > 0, ["~", "~*", "!~", "!~*"].contains(directive.value(position - 1)!) { continue }
                        if kind == .set && position == 0 { continue }
                        unknownVariables(in: directive, position, firstArgument: Int(node.firstWord) + 1) { uses.append(($0, directive)) }
                    }
                    // A map's values may name variables; nginx compiles them too.
                    if kind == .map, let children = directive.children {
                        for entry in children {
                            for value in entry.values { for variable in variables(in: value) where !isKnown(variable) { uses.append((variable, entry)) } }
                        }
                    }
                    let defines = kind == .set ? directive.value(0) : kind == .map || kind == .splitClients ? directive.value(1) : kind == .geo ? directive.value(argumentCount - 1) : nil
                    if let defined = defines.flatMap({ variables(in: $0).first }), fixedVariables.contains(defined) {
                        refuse("the duplicate \"\(defined)\" variable", directive)
                        continue
                    }
                }
                if let problem = dangling(directive) {
                    refuse(problem, directive)
                    continue
                }
                if kind == .listen, context == .server, let parameter = unknownListenParameter(directive) {
                    refuse("invalid parameter \"\(parameter)\"", directive)
                    continue
                }
                if let block = directive.children, !traits.contains(.opaque), let inner = Self.context(opening: kind, in: context) {
                    walk(block, in: inner, chain: chain)
                }
            }
        }
        walk(main.topLevel, in: fragment && !main.topLevel.contains { $0.kind == .http } ? .http : .main, chain: [0])
        // A variable nothing defines: nginx compiles every variable reference while reading and
        // refuses ('unknown "NAME" variable'). Modules the table does not know may define some.
        if unknown.isEmpty && !loadsModules {
            // `uses` holds only the names `isKnown` refused while walking.
            for use in uses {
                refuse("unknown \"\(use.name)\" variable", use.directive)
            }
        }
        var notes: [String] = []
        if !unknown.isEmpty {
            notes.append("nginx: directives of modules the audit's table (Debian's nginx build) does not describe were not checked: "
                         + unknown.prefix(10).joined(separator: ", ") + (unknown.count > 10 ? " and \(unknown.count - 10) more" : ""))
        }
        if !fragment && !sawEvents {
            findings.append(Finding(ruleId: "input.parse-error", message: "nginx: no \"events\" section in configuration: nginx refuses to start",
                                    location: SourceLocation(file: main.display), key: "no events \(main.display)"))
        }
        return (findings, notes)
    }
}

extension String {
    /// Whether the text holds an (ASCII) byte, searched on its contiguous UTF-8 where it has one.
    func hasByte(_ byte: UInt8) -> Bool {
        utf8.withContiguousStorageIfAvailable { $0.contains(byte) } ?? utf8.contains(byte)
    }

    /// Whether an ASCII text holds `needle` (ASCII), found on the bytes; nil for a text that is not
    /// ASCII, where the caller asks as before (canonical equivalence can matter there, never on ASCII).
    func asciiContains(_ needle: StaticString) -> Bool? {
        var text = self
        return text.withUTF8 { bytes -> Bool? in
            if bytes.contains(where: { $0 >= 0x80 }) { return nil }
            let count = needle.utf8CodeUnitCount
            guard bytes.count >= count else { return false }
            let first = needle.utf8Start[0]
            var index = 0
            while index <= bytes.count - count {
                if bytes[index] == first && (1..<count).allSatisfy({ bytes[index + $0] == needle.utf8Start[$0] }) { return true }
                index += 1
            }
            return false
        }
    }
}
