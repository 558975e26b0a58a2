import OriginAuditCore

/// How the reporters write many findings: straight into bytes, a few runs of findings at a time
/// on all cores, handed on in order, so a report of 50,000 findings is never built as strings or
/// dictionaries first and never held whole.
enum ReportBytes {
    /// Items written by one worker at a time, and how many such runs are written at once.
    static let run = 512
    static let runsAtOnce = 4

    /// Writes items `0..<count` with `item` (the same bytes as writing them one after another
    /// into `out`), handing `out` to `sink` whenever it holds `piece` bytes or more, and a run of
    /// half a piece or more straight to `sink`. At most `runsAtOnce` runs are held besides `out`.
    static func write(count: Int, bytesPerItem: Int, into out: inout [UInt8], piece: Int,
                      sink: (UnsafeRawBufferPointer) throws -> Void,
                      _ item: @Sendable (_ index: Int, _ out: inout [UInt8]) -> Void) rethrows {
        var start = 0
        while start < count {
            let runs = stride(from: start, to: min(count, start + run * runsAtOnce), by: run)
                .map { $0..<min($0 + run, count) }
            let written = ConcurrentSlots<[UInt8]>.fill(count: runs.count) { index in
                var bytes: [UInt8] = []
                bytes.reserveCapacity(runs[index].count * bytesPerItem)
                for position in runs[index] { item(position, &bytes) }
                return bytes
            }
            for bytes in written {
                guard let bytes else { continue }
                // A run as large as a piece goes to `sink` as it is (after what `out` holds),
                // not copied into `out` first: a large report is copied once less.
                if bytes.count >= piece / 2 {
                    if !out.isEmpty { try flush(&out, sink) }
                    try bytes.withUnsafeBytes(sink)
                    continue
                }
                out.append(contentsOf: bytes)
                if out.count >= piece { try flush(&out, sink) }
            }
            start = runs.last!.upperBound
        }
    }

    /// Hands `out` to `sink` and empties it (keeping its storage for the next piece).
    static func flush(_ out: inout [UInt8], _ sink: (UnsafeRawBufferPointer) throws -> Void) rethrows {
        try out.withUnsafeBytes(sink)
        out.removeAll(keepingCapacity: true)
    }

    /// The bytes `sink` is handed, gathered into one string (the `render` of a `write`).
    static func string(_ write: ((UnsafeRawBufferPointer) -> Void) -> Void) -> String {
        var bytes: [UInt8] = []
        write { bytes.append(contentsOf: $0) }
        return String(decoding: bytes, as: UTF8.self)
    }

    static func append(_ text: String, to out: inout [UInt8]) { out.append(contentsOf: text.utf8) }

    /// `String(value)`'s bytes, without making the string.
    static func decimal(_ value: Int, into out: inout [UInt8]) {
        if value < 0 {
            append(String(value), to: &out)
            return
        }
        var digits: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                     UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) =
            (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        var rest = value, count = 0
        withUnsafeMutableBytes(of: &digits) { buffer in
            repeat {
                buffer[19 - count] = UInt8(ascii: "0") + UInt8(rest % 10)
                rest /= 10
                count += 1
            } while rest > 0
            out.append(contentsOf: buffer[(20 - count)...])
        }
    }
}
