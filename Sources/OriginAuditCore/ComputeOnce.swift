import Foundation

/// Values several threads ask for by key, each computed once: the first to ask for a key
/// computes it, the others wait for its result instead of computing it again. Rules run
/// concurrently and share derived results (firewall verdicts, served certificates) this way.
public final class ComputeOnce<Key: Hashable, Value>: @unchecked Sendable {
    // Guarded by `condition`.
    private let condition = NSCondition()
    private var values: [Key: Value] = [:]
    private var inProgress: Set<Key> = []

    public init() {}

    public func value(_ key: Key, _ compute: () -> Value) -> Value {
        condition.lock()
        while inProgress.contains(key) { condition.wait() }
        if let value = values[key] { condition.unlock(); return value }
        inProgress.insert(key)
        condition.unlock()
        let value = compute()
        condition.lock()
        values[key] = value
        inProgress.remove(key)
        condition.broadcast()
        condition.unlock()
        return value
    }
}
