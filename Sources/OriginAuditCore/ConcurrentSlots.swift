import Foundation

/// Results of independent work items computed concurrently and kept in item order.
public final class ConcurrentSlots<Value>: @unchecked Sendable {
    private var storage: [Value?]
    private let lock = NSLock()

    init(count: Int) { storage = Array(repeating: nil, count: count) }

    /// Runs `work` for every index in 0..<count on all cores; the results in index order.
    public static func fill(count: Int, _ work: @Sendable (Int) -> Value?) -> [Value?] {
        let slots = ConcurrentSlots(count: count)
        DispatchQueue.concurrentPerform(iterations: count) { index in
            let value = work(index)
            slots.lock.lock()
            slots.storage[index] = value
            slots.lock.unlock()
        }
        return slots.storage
    }
}

/// Long lists worked through in one run of consecutive items per core.
public enum ConcurrentRuns {
    /// `work` over consecutive runs of `0..<count`, their results joined in order: one run per
    /// core when `count` is at least `minimum`, else one run on the calling thread (a few
    /// thousand items are not worth waking the other cores for).
    public static func map<Element>(count: Int, minimum: Int, _ work: @Sendable (Range<Int>) -> [Element]) -> [Element] {
        let runs = count < minimum ? 1 : ProcessInfo.processInfo.activeProcessorCount
        guard runs > 1 else { return work(0..<count) }
        let size = (count + runs - 1) / runs
        return ConcurrentSlots<[Element]>.fill(count: runs) { run in
            work(min(count, run * size)..<min(count, (run + 1) * size))
        }.flatMap { $0! }
    }
}

/// Large structures let go of on another thread.
public enum BackgroundRelease {
    /// Holds `value` on a thread of its own until that thread lets go of it: when the caller's
    /// own references end right after (as they do when this is called just before a scope
    /// ends), the freeing — the parse trees of 2,000 files, tables of tens of thousands of
    /// paths, a few milliseconds of one core — happens there while this thread goes on. (A
    /// thread of its own starts at once; a block on a dispatch queue waited behind the work
    /// that fills the cores, holding the memory meanwhile.)
    public static func release<Value: Sendable>(_ value: Value) {
        Thread { withExtendedLifetime(value) {} }.start()
    }
}
