import Foundation
import Testing

/// A real program, privilege or kernel facility that a test consults as its judge (`nginx -t`,
/// `apache2`, network namespaces, the kernel's netfilter, root). A test that cannot consult its
/// judge has checked nothing, so a missing judge is a **failure**, never a quiet skip — unless the
/// developer asked for a partial run by name (`Scripts/test --without-root`, which sets
/// `ORIGINAUDIT_PARTIAL_RUN=1`): then the test is cancelled with a comment that starts with
/// ``Oracle/leftOutMarker``, and Scripts/test counts those in its last line.
public struct Oracle: TestTrait, SuiteTrait, TestScoping {
    /// What the judge is, for messages ("the kernel lab", "apache2 -t").
    public let name: String
    private let unavailableReason: @Sendable () -> String?

    public init(_ name: String, unavailableReason: @escaping @Sendable () -> String?) {
        self.name = name
        self.unavailableReason = unavailableReason
    }

    /// The words Scripts/test looks for to count the oracle suites a partial run left out.
    public static let leftOutMarker = "oracle left out by the partial run"

    /// True only in the partial run a developer asked for by name.
    public static var partialRun: Bool { ProcessInfo.processInfo.environment["ORIGINAUDIT_PARTIAL_RUN"] == "1" }

    public var isRecursive: Bool { false }

    public func provideScope(for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void) async throws {
        guard let reason = unavailableReason() else {
            try await function()
            return
        }
        if Self.partialRun {
            try Test.cancel("\(Self.leftOutMarker): \(name): \(reason)")
        }
        Issue.record("""
            the judge \(name) cannot be consulted: \(reason). A test whose judge is missing has checked nothing: \
            run Scripts/test as root (it installs every judge), or ask for a partial run by name with Scripts/test --without-root
            """)
    }

    // MARK: - The reasons a judge may be missing

    /// Why `programs` (and root, and network namespaces when asked) are not all here, or nil.
    /// `root` is also for judges that read the configurations as a server would: `nginx -t` on a
    /// Debian-style fixture opens /var/log/nginx, which only root may write.
    public static func missing(programs: [String] = [], root: Bool = false, namespaces: Bool = false,
                               files: [String] = []) -> String? {
        if root && !TestTools.isRoot { return "it needs root" }
        for program in programs where TestTools.locate(program) == nil {
            return "\(program) is not installed"
        }
        for file in files where !FileManager.default.fileExists(atPath: file) {
            return "\(file) does not exist"
        }
        if namespaces, let reason = namespacesUnavailable { return reason }
        return nil
    }

    /// Whether this machine lets the tests make network namespaces (asked once per process).
    static let namespacesUnavailable: String? = {
        guard TestTools.isRoot else { return "network namespaces need root" }
        guard TestTools.locate("ip") != nil else { return "ip (iproute2) is not installed" }
        let probe = "oa-nscheck-\(getpid())"
        guard let result = try? TestTools.run("ip", ["netns", "add", probe], timeout: 10), result.status == 0 else {
            return "network namespaces are unavailable here (ip netns add failed)"
        }
        _ = try? TestTools.run("ip", ["netns", "del", probe], timeout: 10)
        return nil
    }()
}

extension Trait where Self == Oracle {
    /// The test (or suite) consults the judge `name`; `unavailable` says why it is missing, or nil.
    public static func oracle(_ name: String, unavailable: @escaping @autoclosure @Sendable () -> String?) -> Self {
        Oracle(name, unavailableReason: unavailable)
    }
}
