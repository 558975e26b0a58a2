import Foundation
import OriginAuditCore

/// How the reporters write many findings: straight into bytes, a few runs of findings at a time
/// on all cores, handed on in order, so a report of 50,000 findings is never built as strings or
/// dictionaries first and never held whole.
@usableFromInline enum ReportBytes {
    /// Items written by one worker at a time, and how many such runs are written or held at once.
    /// A run is about 128 KB of JSON (findings of ~1 KB): the runs in flight are what a report
    /// holds besides its findings (512 findings a run held 4-5 MB while the certificate estate's
    /// report was written, a quarter of its heap at its peak).
    static let run = 128
    static let runsAtOnce = 4
    /// How many bytes the reporters gather before handing them on (their `piece` default): about
    /// two runs, so that a run goes on as it is and the buffer pieces are gathered in stays small
    /// (1 MiB was held for the whole of a report's writing).
    @usableFromInline static let piece = 1 << 18

    /// Writes items `0..<count` with `item` (the same bytes as writing them one after another
    /// into `out`), handing `out` to `sink` whenever it holds `piece` bytes or more, and a run of
    /// a quarter piece or more straight to `sink`. The runs are written on every core while the
    /// calling thread hands the finished ones to `sink` in order (and writes runs itself while
    /// the next one is not finished): no core waits for `sink`, and `sink` waits for no batch.
    /// At most `runsAtOnce` runs are being written or held besides the one being handed on.
    static func write(count: Int, bytesPerItem: Int, into out: inout [UInt8], piece: Int,
                      sink: (UnsafeRawBufferPointer) throws -> Void,
                      _ item: @Sendable (_ index: Int, _ out: inout [UInt8]) -> Void) rethrows {
        let runs = (count + run - 1) / run
        let helpers = min(runs - 1, ProcessInfo.processInfo.activeProcessorCount - 1, runsAtOnce - 1)
        guard helpers > 0 else {
            for index in 0..<runs { try hand(written(run: index, count: count, bytesPerItem: bytesPerItem, item), into: &out, piece: piece, sink: sink) }
            return
        }
        try withoutActuallyEscaping(item) { item in
            // The helper threads find `item` in the queue, which lets go of it once they have
            // stopped (a thread keeps its closure a little after it ends: `item` is not in it).
            let queue = RunQueue(runs: runs, window: runsAtOnce, item: item)
            let done = DispatchGroup()
            for _ in 0..<helpers {
                done.enter()
                Thread {
                    queue.help(count: count, bytesPerItem: bytesPerItem)
                    done.leave()
                }.start()
            }
            // The helpers stop (after the run each is writing) before `item` goes out of scope,
            // also when `sink` throws.
            defer {
                queue.cancel()
                done.wait()
                queue.forgetItem()
            }
            for index in 0..<runs {
                try hand(queue.take(index) { written(run: $0, count: count, bytesPerItem: bytesPerItem, item) }, into: &out, piece: piece, sink: sink)
            }
        }
    }

    /// Hands one run's bytes on: a run of a quarter piece or more goes to `sink` as it is (after
    /// what `out` holds), not copied into `out` first. (The threshold was half a piece: the
    /// bench-nginx tree's runs of 128 findings are 115-120 KB, just under, so its whole 46 MB
    /// report was copied on the thread that hands the runs on while the others waited.)
    private static func hand(_ bytes: [UInt8], into out: inout [UInt8], piece: Int,
                             sink: (UnsafeRawBufferPointer) throws -> Void) rethrows {
        if bytes.count >= piece / 4 {
            if !out.isEmpty { try flush(&out, sink) }
            try bytes.withUnsafeBytes(sink)
            return
        }
        out.append(contentsOf: bytes)
        if out.count >= piece { try flush(&out, sink) }
    }

    /// The bytes of the items of run `index`.
    fileprivate static func written(run index: Int, count: Int, bytesPerItem: Int, _ item: (Int, inout [UInt8]) -> Void) -> [UInt8] {
        let items = index * run..<min(count, (index + 1) * run)
        var bytes: [UInt8] = []
        bytes.reserveCapacity(items.count * bytesPerItem)
        for position in items { item(position, &bytes) }
        return bytes
    }

    /// The runs of one report: which is written next, and the ones written but not handed on yet.
    /// Runs are claimed in order, no further than `window` runs ahead of the one handed on next.
    private final class RunQueue: @unchecked Sendable {
        private let condition = NSCondition()
        private let runs: Int, window: Int
        private var claimed = 0
        /// The run handed on next (every run before it was taken).
        private var next = 0
        private var finished: [Int: [UInt8]] = [:]
        private var cancelled = false

        private var item: (@Sendable (Int, inout [UInt8]) -> Void)?

        init(runs: Int, window: Int, item: @escaping @Sendable (Int, inout [UInt8]) -> Void) {
            self.runs = runs
            self.window = window
            self.item = item
        }

        /// A helper thread's work: runs claimed and written until none is left.
        func help(count: Int, bytesPerItem: Int) {
            condition.lock()
            let item = self.item
            condition.unlock()
            guard let item else { return }
            while let index = claim() { finish(index, ReportBytes.written(run: index, count: count, bytesPerItem: bytesPerItem, item)) }
        }

        func forgetItem() {
            condition.lock()
            item = nil
            condition.unlock()
        }

        /// The next run to write, once it is within the window; nil when none is left.
        func claim() -> Int? {
            condition.lock()
            defer { condition.unlock() }
            while !cancelled && claimed < runs && claimed >= next + window { condition.wait() }
            return claimClaimable()
        }

        /// Claims the next run if it may be written now (the lock held).
        private func claimClaimable() -> Int? {
            guard !cancelled, claimed < runs, claimed < next + window else { return nil }
            claimed += 1
            return claimed - 1
        }

        func finish(_ index: Int, _ bytes: [UInt8]) {
            condition.lock()
            finished[index] = bytes
            condition.broadcast()
            condition.unlock()
        }

        /// Run `index`'s bytes (the runs before it were taken): while it is being written
        /// elsewhere, the caller writes the next runs with `write`.
        func take(_ index: Int, write: (Int) -> [UInt8]) -> [UInt8] {
            condition.lock()
            defer { condition.unlock() }
            while true {
                if let bytes = finished.removeValue(forKey: index) {
                    next = index + 1
                    condition.broadcast()
                    return bytes
                }
                if let claim = claimClaimable() {
                    condition.unlock()
                    let bytes = write(claim)
                    condition.lock()
                    finished[claim] = bytes
                    continue
                }
                condition.wait()
            }
        }

        /// Lets no more runs be claimed (the report is written, or `sink` failed).
        func cancel() {
            condition.lock()
            cancelled = true
            condition.broadcast()
            condition.unlock()
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

    static func append(_ text: String, to out: inout [UInt8]) { JSONValue.append(text, to: &out) }

    /// `FNV1a.hex(value)`'s 16 digits (a fingerprint), without making the string.
    static func hex(_ value: UInt64, into out: inout [UInt8]) {
        var digits: (UInt64, UInt64) = (0, 0)
        withUnsafeMutableBytes(of: &digits) { buffer in
            FNV1a.writeHex(value, to: buffer.baseAddress!.assumingMemoryBound(to: UInt8.self))
            out.append(contentsOf: buffer)
        }
    }

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

extension Array where Element == UInt8 {
    /// Appends `bytes` without taking a reference to their storage. `append(contentsOf:)` takes
    /// its argument owned: a retain and a release of the array per call; the reporters' constant
    /// pieces (a finding's keys and indentation) are arrays that every writing thread appends, so
    /// each of those was an atomic change to a count another core had just changed (on two
    /// cores, a 50,000-finding JSON report's retains took more CPU than the rest of its writing).
    @inline(__always) mutating func append(constant bytes: [UInt8]) {
        bytes.withUnsafeBufferPointer { append(contentsOf: $0) }
    }
}
