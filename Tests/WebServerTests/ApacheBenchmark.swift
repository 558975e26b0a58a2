import Foundation
import OriginAuditCore
import Testing
import WebServer

/// The measurement behind Scripts/bench-apache. It runs only when that script sets
/// ORIGINAUDIT_BENCH_APACHE (the generated estate); it prints figures and asserts nothing about
/// time, so it is a benchmark driver, not a timed test.
@Suite("ApacheBenchmark", .enabled(if: ProcessInfo.processInfo.environment["ORIGINAUDIT_BENCH_APACHE"] != nil,
                                   "run Scripts/bench-apache to measure the Apache loader"))
struct ApacheBenchmark {
    @Test func loadGeneratedEstate() throws {
        let environment = ProcessInfo.processInfo.environment
        let estate = try #require(environment["ORIGINAUDIT_BENCH_APACHE"])
        let runs = Int(environment["ORIGINAUDIT_BENCH_RUNS"] ?? "") ?? 5
        let tree = SourceTree(root: URL(fileURLWithPath: estate), base: URL(fileURLWithPath: estate))
        let main = estate + "/etc/apache2/apache2.conf"
        var timings: [Double] = []
        var result: LoadResult<WebServerConfig>?
        for _ in 0..<max(1, runs) {
            let start = ContinuousClock.now
            result = ApacheLoader.load(hostPath: main, role: .main, tree: tree)
            let elapsed = ContinuousClock.now - start
            timings.append(Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
        }
        let loaded = try #require(result)
        let hosts = loaded.model.virtualHosts
        print(String(format: "bench-apache: %d files, %d virtual hosts, %d findings; parse+model best %.3f s, median %.3f s over %d runs",
                     loaded.files.count, hosts.count, loaded.findings.count, timings.min() ?? 0,
                     timings.sorted()[timings.count / 2], timings.count))
        #expect(hosts.count >= 10_000)
    }
}
