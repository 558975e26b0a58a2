import Foundation
import Testing
import TestSupport

/// Every figure README.md states about the tests is checked by the test that produces it: each
/// `<!--fig:NAME-->` marker is named by a `ReadmeFigures.value("NAME")` in some test source.
@Suite struct ReadmeFigureTests {
    @Test func everyFigureInTheReadmeIsCheckedByATest() throws {
        #expect(!ReadmeFigures.all.isEmpty, "README.md marks no figures")
        let tests = TestTools.packageRoot.appendingPathComponent("Tests")
        var sources = ""
        let walker = try #require(FileManager.default.enumerator(at: tests, includingPropertiesForKeys: nil))
        for case let url as URL in walker where url.pathExtension == "swift" && url.lastPathComponent != "ReadmeFigures.swift" {
            sources += try String(contentsOf: url, encoding: .utf8)
        }
        for name in ReadmeFigures.all.keys.sorted() {
            #expect(sources.contains("ReadmeFigures.value(\"\(name)\")"), "README.md states <!--fig:\(name)--> but no test checks it")
        }
    }
}
