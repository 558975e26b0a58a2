// The measurement behind Scripts/bench-apache: loads the generated Apache estate (parse + model)
// several times with a release build and prints figures; asserts nothing.
//   BenchApache ESTATE [RUNS]
import Foundation
import OriginAuditCore
import WebServer

let arguments = CommandLine.arguments
guard arguments.count >= 2 else {
    FileHandle.standardError.write(Data("usage: BenchApache ESTATE [RUNS]\n".utf8))
    exit(2)
}
let estate = arguments[1]
let runs = max(1, Int(arguments.count > 2 ? arguments[2] : "") ?? 5)
let tree = SourceTree(root: URL(fileURLWithPath: estate), base: URL(fileURLWithPath: estate))
let main = estate + "/etc/apache2/apache2.conf"
var timings: [Double] = []
var result: LoadResult<WebServerConfig>?
for _ in 0..<runs {
    let start = ContinuousClock.now
    result = ApacheLoader.load(hostPath: main, role: .main, tree: tree)
    let elapsed = ContinuousClock.now - start
    timings.append(Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
}
if let loaded = result {
    print(String(format: "bench-apache: %d files, %d virtual hosts, %d findings; parse+model best %.3f s, median %.3f s over %d runs",
                 loaded.files.count, loaded.model.virtualHosts.count, loaded.findings.count, timings.min() ?? 0,
                 timings.sorted()[timings.count / 2], timings.count))
}
