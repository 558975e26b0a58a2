import Foundation
import Testing

/// Re-recording of expectations (reporter golden files, the locations fixtures and scenarios
/// expect). Only a developer asks for it, on the command line: `Scripts/test --record`, which sets
/// `ORIGINAUDIT_RECORD=1` for that run and clears it otherwise. In CI (`CI` set) a recording
/// request is refused and fails the test, so an inherited variable can never turn checks into
/// re-recordings.
public enum Recording {
    /// True when this run re-records instead of comparing.
    public static var requested: Bool {
        guard ProcessInfo.processInfo.environment["ORIGINAUDIT_RECORD"] == "1" else { return false }
        if let ci = ProcessInfo.processInfo.environment["CI"], !ci.isEmpty {
            Issue.record("ORIGINAUDIT_RECORD=1 in CI: expectations are never re-recorded there; the comparison runs instead")
            return false
        }
        return true
    }
}
