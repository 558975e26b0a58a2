import Foundation

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
