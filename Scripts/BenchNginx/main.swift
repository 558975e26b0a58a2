import Foundation
import OriginAuditCore
import WebServer

/// Times `NginxLoader.load` (parse + model) on a configuration tree; used by Scripts/bench-nginx.
/// Usage: BenchNginx NGINX_CONF [RUNS]
let arguments = CommandLine.arguments
guard arguments.count >= 2 else {
    FileHandle.standardError.write(Data("usage: BenchNginx NGINX_CONF [RUNS]\n".utf8))
    exit(2)
}
let main = arguments[1]
let runs = arguments.count > 2 ? Int(arguments[2]) ?? 5 : 5
let tree = SourceTree(root: nil, base: URL(fileURLWithPath: (main as NSString).deletingLastPathComponent))
/// CPU time of every thread of this process so far, in seconds: on a machine other work shares,
/// it moves far less than the wall time.
func processCPU() -> Double {
    var time = timespec()
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &time)
    return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
}
var times: [Double] = [], cpuTimes: [Double] = []
var summary = ""
for _ in 0..<runs {
    let start = DispatchTime.now().uptimeNanoseconds, cpuStart = processCPU()
    let result = NginxLoader.load(hostPath: main, role: .main, tree: tree)
    let elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    times.append(elapsed)
    cpuTimes.append(processCPU() - cpuStart)
    let hosts = result.model.virtualHosts
    summary = "\(result.files.count) files, \(hosts.count) virtual hosts (\(hosts.filter { $0.tls != nil }.count) with TLS), "
        + "\(hosts.reduce(0) { $0 + $1.upstreams.count }) upstream targets, \(result.findings.count) findings"
}
var parseTimes: [Double] = [], parseCPUTimes: [Double] = []
for _ in 0..<runs {
    let start = DispatchTime.now().uptimeNanoseconds, cpuStart = processCPU()
    _ = NginxConfigReader.read(hostPath: main, role: .main, tree: tree)
    parseTimes.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
    parseCPUTimes.append(processCPU() - cpuStart)
}
times.sort()
parseTimes.sort()
cpuTimes.sort()
parseCPUTimes.sort()
print("originaudit nginx: \(summary)")
print(String(format: "originaudit nginx: parse alone (read, lex, tree, includes) best %.3f s", parseTimes[0]))
print(String(format: "originaudit nginx: parse+model best %.3f s, median %.3f s over %d runs", times[0], times[times.count / 2], runs))
print(String(format: "originaudit nginx: CPU (all threads) parse+model best %.3f s, median %.3f s; parse alone best %.3f s, median %.3f s",
             cpuTimes[0], cpuTimes[cpuTimes.count / 2], parseCPUTimes[0], parseCPUTimes[parseCPUTimes.count / 2]))
