/// A string written from an interpolation into one storage of its exact size: the parts are
/// gathered first and copied once. The standard interpolation reserves room for its literal
/// text and a few bytes per value, then grows (a new storage and a copy) each time longer values
/// outrun it: a finding's message or key with a file path and host names in it grew three or
/// four times, and rules write tens of thousands of them on a large estate.
///
/// `String(exactly: "… \(name) …")` gives the same string as `"… \(name) …"`; only strings and
/// integers are interpolated (what finding texts hold), so no value is described differently.
public struct ExactText: ExpressibleByStringInterpolation {
    public let string: String

    public init(stringLiteral value: String) { string = value }

    public init(stringInterpolation: StringInterpolation) {
        let parts = stringInterpolation.parts
        let count = stringInterpolation.count
        // Up to 15 bytes a string is held in itself: no storage to size.
        guard count > 15 else {
            string = parts.joined()
            return
        }
        string = String(unsafeUninitializedCapacity: count) { buffer in
            var offset = 0
            for index in parts.indices { offset = Self.write(parts[index], into: buffer, at: offset) }
            return offset
        }
    }

    /// Copies `text`'s UTF-8 bytes into `buffer` at `offset` (room for them assumed), and
    /// returns the offset after them: the bytes are read where they are, the text neither
    /// copied nor retained. For writing a string of known length in one storage. (Inlined
    /// here: called for each part of each text, a call per part cost a third more.)
    @inline(__always)
    public static func write(_ text: String, into buffer: UnsafeMutableBufferPointer<UInt8>, at offset: Int) -> Int {
        UTF8Bytes.of(text) { bytes in
            if let source = bytes.baseAddress, !bytes.isEmpty { (buffer.baseAddress! + offset).initialize(from: source, count: bytes.count) }
            return offset + bytes.count
        }
    }

    /// The parts of one interpolation, in order, and their length in UTF-8 bytes.
    public struct StringInterpolation: StringInterpolationProtocol {
        var parts: [String] = []
        var count = 0

        public init(literalCapacity: Int, interpolationCount: Int) {
            parts.reserveCapacity(2 * interpolationCount + 1)
        }

        public mutating func appendLiteral(_ literal: String) {
            guard !literal.isEmpty else { return }
            parts.append(literal)
            count += literal.utf8.count
        }

        public mutating func appendInterpolation(_ value: String) {
            parts.append(value)
            count += value.utf8.count
        }

        public mutating func appendInterpolation(_ value: Substring) { appendInterpolation(String(value)) }

        public mutating func appendInterpolation<Value: BinaryInteger>(_ value: Value) { appendInterpolation(String(value)) }
    }
}

extension String {
    /// The interpolation's text, written once into storage of its exact size (`ExactText`).
    public init(exactly text: ExactText) { self = text.string }

    /// The same text in storage of just its size. A string made by appending (an interpolation,
    /// `appendingPathComponent`) keeps the capacity of its last growth, up to twice its bytes
    /// (a 384-byte certificate message sat in 800); one kept for the whole run, thousands of
    /// times over (a walked path), is worth one copy. Strings of
    /// up to 15 bytes hold their text in themselves and are returned as they are.
    public var exactlySized: String {
        guard utf8.count > 15 else { return self }
        return UTF8Bytes.of(self) { bytes in
            String(unsafeUninitializedCapacity: bytes.count) { buffer in
                _ = buffer.initialize(fromContentsOf: bytes)
                return bytes.count
            }
        }
    }
}

