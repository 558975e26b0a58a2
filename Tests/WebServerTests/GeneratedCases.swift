import Dispatch
import Foundation
import Synchronization
import TestSupport

/// Runs generated configurations past a real server on four workers, each case in a directory
/// of its own, and gathers what the judge and the audit disagree on.
enum GeneratedCases {
    /// `judge` returns nil when the case could not be put to the server (not judged), "" when
    /// both agree, and otherwise the disagreement to report.
    static func judge<Case: Sendable>(_ cases: [Case], scratch: URL,
                                      _ judge: @Sendable (Case, URL) -> String?) -> (judged: Int, disagreements: [String]) {
        let disagreements = Mutex<[String]>([])
        let judged = Atomic<Int>(0)
        DispatchQueue.concurrentPerform(iterations: 4) { worker in
            for (index, testCase) in cases.enumerated() where index % 4 == worker {
                let directory = scratch.appendingPathComponent("\(index)")
                try? FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
                guard let outcome = judge(testCase, directory) else { continue }
                judged.add(1, ordering: .relaxed)
                if !outcome.isEmpty { disagreements.withLock { $0.append(outcome) } }
            }
        }
        return (judged.load(ordering: .relaxed), disagreements.withLock { $0 })
    }
}
