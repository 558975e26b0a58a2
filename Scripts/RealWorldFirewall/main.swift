import Firewall
import FirewallLab
import Foundation
import OriginAuditCore
import TestSupport

// Real rulesets written by other people against the real kernel (run by Scripts/realworld-firewall).
//
//   RealWorldFirewall DIR [--verbose]
//
// DIR holds one folder per ruleset: `rules.v4` / `rules.v6` (iptables-save), `ruleset.nft`
// (nft list ruleset), `ipset` (ipset save) in any combination, and optionally `interfaces`
// (`public=NAME lan=NAME`; eth0 and eth1 otherwise). Each ruleset is loaded by the real loaders
// into a fresh kernel lab whose public interface and LAN interface carry those names; real TCP
// SYNs from CDN addresses (documentation ranges) and a non-CDN address arrive on the public side,
// SYNs from LAN addresses on the LAN side, to the web ports. The same files go through the
// auditor's loader and evaluator (what `originaudit firewall` and `scan` use): told the interface a
// probe arrives on and the lab origin's addresses (--public-interface, --origin-address), told the
// interface only, and told neither. Prints one line per ruleset and the totals. Files the kernel's loaders refuse are "not loadable" and not counted.

let ports: [UInt16] = [80, 443, 8080, 8443]
let outsider = "100.64.7.7"
let lanSources = ["198.18.0.10", "192.168.1.50", "10.0.0.50"]

struct Tally {
    var probes = 0, certainRight = 0, contradictions = 0, uncertainContains = 0, uncertainMissing = 0
    /// Of the uncertain predictions, those that are a named rate limit (both outcomes, the limit said).
    var rateLimited = 0
    var certain: Int { certainRight + contradictions }
    var percentCertain: String { percent(certain) }
    /// Certain, or a rate limit named with both its outcomes.
    var percentDecided: String { percent(certain + rateLimited) }
    func percent(_ count: Int) -> String { probes == 0 ? "-" : String(format: "%.1f%%", Double(count) * 100 / Double(probes)) }
    static func + (a: Tally, b: Tally) -> Tally {
        Tally(probes: a.probes + b.probes, certainRight: a.certainRight + b.certainRight, contradictions: a.contradictions + b.contradictions,
              uncertainContains: a.uncertainContains + b.uncertainContains, uncertainMissing: a.uncertainMissing + b.uncertainMissing,
              rateLimited: a.rateLimited + b.rateLimited)
    }
}

/// Unbuffered, so that a run that stops early still shows every line written.
func say(_ line: String) { FileHandle.standardOutput.write(Data((line + "\n").utf8)) }

// A loader that refuses a file exits before reading all of it: writing the rest must not kill this process.
signal(SIGPIPE, SIG_IGN)
let arguments = CommandLine.arguments.dropFirst()
guard let root = arguments.first(where: { !$0.hasPrefix("-") }) else {
    FileHandle.standardError.write(Data("usage: RealWorldFirewall DIR [--verbose]\n".utf8))
    exit(2)
}
let verbose = arguments.contains("--verbose")
if let reason = KernelLab.unavailableReason {
    FileHandle.standardError.write(Data("the kernel lab cannot run here: \(reason)\n".utf8))
    exit(2)
}
let rootURL = URL(fileURLWithPath: root)
let names = ((try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []).filter {
    var isDirectory: ObjCBool = false
    return FileManager.default.fileExists(atPath: rootURL.appendingPathComponent($0).path, isDirectory: &isDirectory) && isDirectory.boolValue
}.sorted()

/// How much the evaluator is told, as a user tells it: the interface, the origin's addresses.
let modes: [(label: String, interface: Bool, addresses: Bool)] = [
    ("with --public-interface and --origin-address", true, true), ("with --public-interface", true, false), ("without", false, false),
]
var totals = [Tally](repeating: Tally(), count: modes.count)
let originAddresses = [KernelLab.originV4, KernelLab.originV6].compactMap { IPAddress($0) }
var notLoadable: [(String, String)] = []
var parserRefusals: [(String, String)] = []
var loaded = 0

func describe(_ decision: Decision) -> String {
    "\(decision.outcome) by \(decision.decidedBy.location.file):\(decision.decidedBy.location.line) \(decision.decidedBy.text)"
        + (decision.byInterface.isEmpty ? "" : " per class: " + decision.byInterface.map { "\($0.interface)\($0.destination.map { " to \($0)" } ?? ""): \($0.outcome)" }.joined(separator: ", "))
}

say(String(format: "%-22@ %-22@ %6@ │ %@ │ %@", "ruleset" as NSString, "interfaces" as NSString, "probes" as NSString,
             "told interface and address: certain/contradict/unc-ok/unc-miss" as NSString, "not told: certain/contradict/unc-ok/unc-miss" as NSString))
for name in names {
    let folder = rootURL.appendingPathComponent(name)
    func read(_ file: String) -> String? { try? String(contentsOf: folder.appendingPathComponent(file), encoding: .utf8) }
    var publicName = "eth0", lanName = "eth1"
    for field in (read("interfaces") ?? "").split(whereSeparator: { $0 == " " || $0 == "\n" }) {
        let parts = field.split(separator: "=", maxSplits: 1).map(String.init)
        guard parts.count == 2 else { continue }
        if parts[0] == "public" { publicName = parts[1] } else if parts[0] == "lan" { lanName = parts[1] }
    }
    let v4 = read("rules.v4"), v6 = read("rules.v6"), nft = read("ruleset.nft"), ipset = read("ipset")
    guard v4 != nil || v6 != nil || nft != nil else { continue }
    do {
        let lab = try KernelLab(publicName: publicName, listening: ports, extraSources: [outsider])
        defer { lab.tearDown() }
        try lab.enableLAN(name: lanName, sources: lanSources)
        var inputs: [FirewallInput] = []
        var refusal: String?
        if let ipset {
            // Files, not standard input: a loader that refuses a file stops reading it.
            let result = try lab.inOrigin(["ipset", "restore", "-f", folder.appendingPathComponent("ipset").path])
            if result.status != 0 { refusal = "ipset restore: \(result.stderr)" }
            inputs.append(FirewallInput(kind: .ipset, displayPath: "\(name)/ipset", bytes: Array(ipset.utf8)))
        }
        for (text, tool, family, file) in [(v4, "iptables-restore", AddressFamily.ipv4, "rules.v4"), (v6, "ip6tables-restore", .ipv6, "rules.v6")] {
            guard let text, refusal == nil else { continue }
            let result = try lab.inOrigin([tool, folder.appendingPathComponent(file).path])
            if result.status != 0 { refusal = "\(tool): \(result.stderr.split(separator: "\n").prefix(2).joined(separator: " / "))" }
            inputs.append(FirewallInput(kind: .iptablesSave, familyHint: family, displayPath: "\(name)/\(file)", bytes: Array(text.utf8)))
        }
        if let nft, refusal == nil {
            let result = try lab.inOrigin(["nft", "-f", folder.appendingPathComponent("ruleset.nft").path])
            if result.status != 0 { refusal = "nft -f: \(result.stderr.split(separator: "\n").prefix(2).joined(separator: " / "))" }
            inputs.append(FirewallInput(kind: .nftText, displayPath: "\(name)/ruleset.nft", bytes: Array(nft.utf8)))
        }
        if let refusal {
            notLoadable.append((name, refusal.trimmingCharacters(in: .whitespacesAndNewlines)))
            continue
        }
        loaded += 1
        let result = FirewallLoader.load(inputs)
        for finding in result.findings where finding.ruleId == "input.parse-error" {
            parserRefusals.append((name, "\(finding.location.map { "\($0.file):\($0.line)" } ?? "?"): \(finding.message)"))
        }
        let families = result.model.families
        var publicProbes: [(source: String, port: UInt16)] = []
        if families.contains(.ipv4) { publicProbes += (KernelLab.v4Sources + [outsider]).flatMap { source in ports.map { (source: source, port: $0) } } }
        if families.contains(.ipv6) { publicProbes += KernelLab.v6Sources.flatMap { source in ports.map { (source: source, port: $0) } } }
        let lanProbes = families.contains(.ipv4) ? lanSources.flatMap { source in ports.map { (source: source, port: $0) } } : []
        let observed = try lab.probe(publicProbes) + (lanProbes.isEmpty ? [] : lab.probe(lanProbes, fromLAN: true))
        let probes = publicProbes.map { ($0.source, $0.port, publicName) } + lanProbes.map { ($0.source, $0.port, lanName) }
        guard observed.count == probes.count else { throw LabError("probe output \(observed)") }
        var rows = [Tally](repeating: Tally(), count: modes.count)
        for ((source, port, arrival), seen) in zip(probes, observed) {
            guard let address = IPAddress(source) else { continue }
            let cell = AddressSet(family: address.family, cidrs: [CIDR(address: address, prefixLength: address.family.bits)])
            for (m, mode) in modes.enumerated() {
                let evaluator = FirewallEvaluator(model: result.model, publicInterfaces: mode.interface ? [arrival] : [],
                                                  originAddresses: mode.addresses ? originAddresses : [])
                guard let decision = evaluator.evaluate(family: address.family, sources: cell, ports: PortSet(port...port)).first?.decision else { continue }
                var tally = Tally(probes: 1)
                let kind = decision.outcome.kind
                let isCertain = kind == .accept || kind == .drop || kind == .reject
                let expected = Observation.compatible(decision.outcome)
                let agrees = expected?.contains(Observation.normalise(seen)) ?? true
                switch (isCertain, agrees) {
                case (true, true): tally.certainRight = 1
                case (true, false): tally.contradictions = 1
                case (false, true): tally.uncertainContains = 1; if kind == .rateLimited { tally.rateLimited = 1 }
                case (false, false): tally.uncertainMissing = 1
                }
                rows[m] = rows[m] + tally
                if !agrees || (verbose && !isCertain) {
                    say("  \(agrees ? "uncertain" : isCertain ? "CONTRADICTION" : "UNCERTAIN, TRUTH MISSING") \(name): \(source) on \(arrival) → tcp/\(port): kernel \(seen); evaluator (\(mode.label)) \(describe(decision))")
                }
            }
        }
        for m in modes.indices { totals[m] = totals[m] + rows[m] }
        func cells(_ t: Tally) -> String { "\(t.certain) (\(t.percentCertain)) / \(t.contradictions) / \(t.uncertainContains) / \(t.uncertainMissing)" }
        say(String(format: "%-22@ %-22@ %6d │ %-54@ │ %@", name as NSString, "\(publicName)+\(lanName)" as NSString, rows[0].probes,
                     cells(rows[0]) as NSString, cells(rows[modes.count - 1]) as NSString))
    } catch {
        notLoadable.append((name, "lab: \(error)"))
    }
}

say("")
for (name, reason) in notLoadable { say("not loadable: \(name): \(reason)") }
for (name, message) in parserRefusals { say("our parser refuses what the kernel loaded: \(name): \(message)") }
say("")
say("| | rulesets | probes | contradictions | uncertain, contains truth (of which rate limits) | uncertain, misses truth | certain | certain or named rate limit |")
say("| --- | --- | --- | --- | --- | --- | --- | --- |")
for (mode, t) in zip(modes, totals) {
    let label = mode.label
    say("| \(label) | \(loaded) | \(t.probes) | \(t.contradictions) | \(t.uncertainContains) (\(t.rateLimited)) | \(t.uncertainMissing) | \(t.percentCertain) | \(t.percentDecided) |")
}
say("not loadable: \(notLoadable.count) rulesets")
