import Foundation

/// How long each phase of a run took, for `--timings`: wall time, and the CPU time the whole
/// process spent meanwhile (all threads: above the wall time when a phase uses several cores).
public struct PhaseTimings: Sendable {
    public private(set) var phases: [(name: String, seconds: Double, cpuSeconds: Double)] = []
    private var mark = DispatchTime.now()
    private var cpuMark = PhaseTimings.processCPU()

    public init() {}

    /// Ends the current phase under `name` and starts the next.
    public mutating func lap(_ name: String) {
        let now = DispatchTime.now()
        let cpu = Self.processCPU()
        phases.append((name, Double(now.uptimeNanoseconds - mark.uptimeNanoseconds) / 1e9, cpu - cpuMark))
        mark = now
        cpuMark = cpu
    }

    /// One line per phase and the total, in milliseconds.
    public var summary: String {
        let lines = phases.map { String(format: "%8.1f ms  %8.1f ms cpu  %@", $0.seconds * 1000, $0.cpuSeconds * 1000, $0.name) }
        let total = String(format: "%8.1f ms  %8.1f ms cpu  total", phases.reduce(0) { $0 + $1.seconds } * 1000,
                           phases.reduce(0) { $0 + $1.cpuSeconds } * 1000)
        return (lines + [total]).joined(separator: "\n")
    }

    /// User and system time of every thread of this process so far.
    static func processCPU() -> Double {
        var time = timespec()
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &time)
        return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
    }
}
