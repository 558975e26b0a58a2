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
