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

/// How long each phase of a run took, for `--timings`.
public struct PhaseTimings: Sendable {
    public private(set) var phases: [(name: String, seconds: Double)] = []
    private var mark = DispatchTime.now()

    public init() {}

    /// Ends the current phase under `name` and starts the next.
    public mutating func lap(_ name: String) {
        let now = DispatchTime.now()
        phases.append((name, Double(now.uptimeNanoseconds - mark.uptimeNanoseconds) / 1e9))
        mark = now
    }

    /// One line per phase and the total, in milliseconds.
    public var summary: String {
        let lines = phases.map { String(format: "%8.1f ms  %@", $0.seconds * 1000, $0.name) }
        return (lines + [String(format: "%8.1f ms  total", phases.reduce(0) { $0 + $1.seconds } * 1000)]).joined(separator: "\n")
    }
}
