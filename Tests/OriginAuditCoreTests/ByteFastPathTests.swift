import Testing
import Foundation
@testable import OriginAuditCore

/// The byte-level shortcuts agree with the String code they stand in front of.
@Suite struct ByteFastPathTests {
    static let components = ["", ".", "..", "...", "a", ".a", "a.", "b.c", "é", "--"]

    /// Every path of up to four components from `components`, absolute and relative.
    static var paths: [String] {
        var paths = [""]
        var level = [[String]()]
        for _ in 1...4 {
            level = level.flatMap { prefix in components.map { prefix + [$0] } }
            for parts in level {
                paths.append(parts.joined(separator: "/"))
                paths.append("/" + parts.joined(separator: "/"))
            }
        }
        return paths
    }

    @Test func pathAlreadyNormalisedIsExactlyWhatNormalisingLeavesAlone() {
        for path in Self.paths {
            // Appending a component and climbing out of it forces the component-by-component path.
            let slow = SourceTree.normalise(path + "/x/..")
            if SourceTree.isNormalised(path) {
                #expect(slow == path, "\(path)")
            } else if path.hasPrefix("/") {
                #expect(slow != path, "\(path)")
            }
        }
    }

    @Test func beginMarkerFoundOnBytesAsFoundationFindsIt() {
        let texts = ["", "-", "-----BEGI", "-----BEGIN", "x-----BEGIN", "----BEGIN", "------BEGIN", "-----BEGIn",
                     "a -----BEGIN PRIVATE KEY----- b", "é-----BEGINé", "-----END", "- - - - -BEGIN", "----- BEGIN",
                     String(repeating: "-", count: 40) + "BEGIN"]
        for text in texts {
            #expect(KeyMaterial.hasBeginMarker(text) == text.contains("-----BEGIN"), "\(text)")
        }
    }
}
