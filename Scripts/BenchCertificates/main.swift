// Loads and checks the benchmark estate's certificates and keys in process, and prints how long
// each step takes: loading (read, parse, match keys) and checking (every rule over the loaded
// inventory, chains verified against the trust store). Run through Scripts/bench-certs.
import Foundation
import OriginAuditCore
import Certificates
import AuditRules

let estate = URL(fileURLWithPath: CommandLine.arguments.dropFirst().first ?? ".build/bench-estate").standardizedFileURL
let tree = SourceTree(root: estate, base: estate)
var references: [CertificateReference] = []
for folder in ["etc/ssl/sites", "etc/ssl/private"] {
    let directory = estate.appendingPathComponent(folder).path
    for name in tree.listDirectory(directory) {
        references.append(CertificateReference(hostPath: directory + "/" + name, role: .any))
    }
}
let profile = Profile(cdn: try CDNProfile.embedded("cloudflare"), tlsMode: .strict, hostnames: ["site1.hosting.test"],
                      at: Date(timeIntervalSince1970: 1_795_392_000))

func seconds(since start: UInt64) -> Double { Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9 }

var best = (load: Double.infinity, check: Double.infinity)
var counts = (certificates: 0, keys: 0, findings: 0)
for _ in 1...3 {
    let start = DispatchTime.now().uptimeNanoseconds
    let loaded = CertificateLoader.load(references, tree: tree)
    let load = seconds(since: start)
    let checkStart = DispatchTime.now().uptimeNanoseconds
    let findings = await RuleRegistry.run(OriginModel(certificates: loaded.model), profile: profile, disabled: [])
    let check = seconds(since: checkStart)
    best = (min(best.load, load), min(best.check, check))
    counts = (loaded.model.files.values.reduce(0) { $0 + $1.certificates.count }, loaded.model.files.values.reduce(0) { $0 + $1.keys.count },
              findings.count)
}
print("\(counts.certificates) certificates and \(counts.keys) keys in \(references.count) files (best of 3, \(ProcessInfo.processInfo.activeProcessorCount) cores)")
print(String(format: "  load (read, parse, match keys):          %.2f s", best.load))
print(String(format: "  check (all rules, chains verified):      %.2f s  (%d findings)", best.check, counts.findings))
print(String(format: "  load and check:                          %.2f s", best.load + best.check))
