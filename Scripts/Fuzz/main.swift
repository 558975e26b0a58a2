// An in-process fuzzer, one target per parser: inputs are the repository's own fixtures (Tests/,
// Examples/, Rules/), mutated (bit flips, interesting bytes, deleted, repeated and spliced runs,
// each format's own tokens), fed to the parser in this process. A crash leaves the input that
// caused it in the work directory; an input that takes longer than the hang limit (processor
// time, so a loaded machine is not a hang) or grows the process by more than 1 GiB is saved and
// the run fails. Coverage is not measured (the toolchain's libFuzzer needs a separate build of
// every module); the run prints executions per second and what it found.
//
//   Fuzz TARGET SECONDS [--seed N] [--executions N] [--work DIR]     TARGET: iptables ip6tables ipset nft-text
//                                                  nft-json nginx apache pem yaml, or all
import Audit
import Certificates
import Firewall
import Foundation
import OriginAuditCore
import TestSupport
import WebServer

/// One parser, fed bytes.
struct Target {
    var name: String
    /// Which fixtures seed it.
    var seeds: (String, InputKind) -> Bool
    /// Pieces of the format, inserted by the mutator.
    var tokens: [String]
    var run: ([UInt8], Scratch) -> Void
}

/// Where file-based parsers read their input from, and where a crashing input is kept.
struct Scratch {
    let directory: String
    var file: String { directory + "/input.conf" }

    func write(_ bytes: [UInt8], to path: String) {
        let descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { return }
        _ = bytes.withUnsafeBytes { Foundation.write(descriptor, $0.baseAddress, $0.count) }
        close(descriptor)
    }
}

func firewall(_ kind: FirewallInputKind, _ family: AddressFamily?) -> ([UInt8], Scratch) -> Void {
    { bytes, _ in _ = FirewallLoader.load([FirewallInput(kind: kind, familyHint: family, displayPath: "fuzz", bytes: bytes)]) }
}

let targets: [Target] = [
    Target(name: "iptables", seeds: { _, kind in kind == .iptablesSave || kind == .iptablesRules },
           tokens: ["*filter\n", ":INPUT DROP [0:0]\n", "-A INPUT ", "-s 173.245.48.0/20 ", "-p tcp ", "--dport 443 ", "-m multiport --dports 80,443 ",
                    "-j ACCEPT", "-j DROP", "-j REJECT --reject-with tcp-reset", "-m set --match-set cf src ", "-g ", "COMMIT\n", "! ", "\"", "\n"],
           run: firewall(.iptablesSave, .ipv4)),
    Target(name: "ip6tables", seeds: { _, kind in kind == .iptablesSave },
           tokens: ["*filter\n", "-A INPUT ", "-s 2400:cb00::/32 ", "-p tcp ", "--dport 443 ", "-j ACCEPT", "::", "/128 ", "COMMIT\n"],
           run: firewall(.iptablesSave, .ipv6)),
    Target(name: "ipset", seeds: { _, kind in kind == .ipset },
           tokens: ["create cf hash:net family inet hashsize 1024 maxelem 65536\n", "add cf 173.245.48.0/20\n", "create l list:set\n",
                    "add l cf\n", " timeout 0", " nomatch", "family inet6", "\n"],
           run: firewall(.ipset, nil)),
    Target(name: "nft-text", seeds: { _, kind in kind == .nftText },
           tokens: ["table inet filter {\n", "chain input {\n", "type filter hook input priority 0; policy drop;\n", "}\n", "ip saddr { 173.245.48.0/20 } ",
                    "tcp dport { 80, 443 } ", "accept\n", "drop\n", "set cf { type ipv4_addr; flags interval; elements = { ", "@cf ", "jump x\n", "$var ", "define x = 1\n"],
           run: firewall(.nftText, nil)),
    Target(name: "nft-json", seeds: { _, kind in kind == .nftJSON },
           tokens: ["{\"nftables\": [", "{\"rule\": {", "\"expr\": [", "{\"match\": {\"op\": \"==\", \"left\": ", "\"right\": ", "{\"accept\": null}",
                    "{\"drop\": null}", "]", "}", ",", "\"", "\\u0000", "1e999", "[[[[[[[[", "null"],
           run: firewall(.nftJSON, nil)),
    Target(name: "nginx", seeds: { _, kind in [.nginxMain, .nginxDump, .nginxFragment].contains(kind) },
           tokens: ["server {\n", "}\n", "listen 443 ssl;\n", "server_name a.example;\n", "location / {\n", "include ", "*.conf;\n", "\"", "'", "\\",
                    "${", "$host", "ssl_certificate /etc/ssl/x.pem;\n", "return 301 https://$host$request_uri;\n", "set_real_ip_from ", "if ($x) {\n", ";", "{", "#"],
           run: { bytes, scratch in
               scratch.write(bytes, to: scratch.file)
               _ = NginxLoader.load(hostPath: scratch.file, role: .main, tree: SourceTree(root: URL(fileURLWithPath: scratch.directory)))
           }),
    Target(name: "apache", seeds: { _, kind in kind == .apacheMain || kind == .apacheFragment },
           tokens: ["<VirtualHost *:443>\n", "</VirtualHost>\n", "<IfModule ssl_module>\n", "</IfModule>\n", "<IfDefine X>\n", "</IfDefine>\n",
                    "Define V ${V}${V}\n", "${V}", "Include ", "IncludeOptional *.conf\n", "<Macro M $a>\n", "</Macro>\n", "Use M 1\n", "\\\n", "\"",
                    "RewriteRule ^ https://%{HTTP_HOST}%{REQUEST_URI} [R=301,L]\n", "Require ip 173.245.48.0/20\n", "<If \"%{HTTPS} == 'on'\">\n", "</If>\n"],
           run: { bytes, scratch in
               scratch.write(bytes, to: scratch.file)
               _ = ApacheLoader.load(hostPath: scratch.file, role: .main, tree: SourceTree(root: URL(fileURLWithPath: scratch.directory)))
           }),
    Target(name: "pem", seeds: { _, kind in kind == .certificate || kind == .privateKey },
           tokens: ["-----BEGIN CERTIFICATE-----\n", "-----END CERTIFICATE-----\n", "-----BEGIN PRIVATE KEY-----\n", "-----END PRIVATE KEY-----\n",
                    "-----BEGIN ENCRYPTED PRIVATE KEY-----\n", "MII", "==", "\r\n", "\u{30}\u{82}"],
           run: { bytes, scratch in _ = CertificateLoader.decode(bytes, hostPath: scratch.file) }),
    Target(name: "yaml", seeds: { path, _ in path.hasSuffix(".yml") || path.hasSuffix(".yaml") },
           tokens: ["cdn: cloudflare\n", "tlsMode: strict\n", "inputs:\n  nginx: [", "suppress:\n  - rule: x\n    reason: y\n", "[", "{", "- ", "&a ", "*a",
                    "!!binary ", "? ", ": ", "'", "\"", "|\n", "  ", "<<: *a\n"],
           run: { bytes, _ in _ = ProjectConfig.parse(String(decoding: bytes, as: UTF8.self), file: "fuzz.yml", directory: "/nonexistent") }),
]

let interesting: [UInt8] = [0, 0x0A, 0x0D, 0x20, 0x22, 0x27, 0x23, 0x24, 0x5C, 0x7B, 0x7D, 0x5B, 0x5D, 0x3B, 0x3C, 0x3E, 0x2F, 0x2A, 0x7F, 0x80, 0xC3, 0xFF]
let maxLength = 64 * 1024

func mutate(_ input: [UInt8], seeds: [[UInt8]], tokens: [[UInt8]], random: inout SplitMix) -> [UInt8] {
    var bytes = input
    for _ in 0..<(1 + Int(random.next() % 6)) {
        let position = bytes.isEmpty ? 0 : Int(random.next() % UInt64(bytes.count + 1))
        switch random.next() % 8 {
        case 0 where !bytes.isEmpty:
            let index = min(position, bytes.count - 1)
            bytes[index] ^= UInt8(1 << (random.next() % 8))
        case 1 where !bytes.isEmpty:
            bytes[min(position, bytes.count - 1)] = interesting[Int(random.next() % UInt64(interesting.count))]
        case 2 where !bytes.isEmpty:
            let end = min(bytes.count, position + 1 + Int(random.next() % 64))
            bytes.removeSubrange(min(position, end)..<end)
        case 3 where !bytes.isEmpty:
            // Repeat a run: deep nesting, long lines.
            let start = min(position, bytes.count - 1)
            let run = Array(bytes[start..<min(bytes.count, start + 1 + Int(random.next() % 16))])
            let times = 1 + Int(random.next() % 200)
            for _ in 0..<times where bytes.count + run.count <= maxLength { bytes.insert(contentsOf: run, at: start) }
        case 4, 5:
            let token = tokens[Int(random.next() % UInt64(tokens.count))]
            bytes.insert(contentsOf: token, at: min(position, bytes.count))
        case 6 where !seeds.isEmpty:
            let other = seeds[Int(random.next() % UInt64(seeds.count))]
            guard !other.isEmpty else { continue }
            let start = Int(random.next() % UInt64(other.count))
            let piece = other[start..<min(other.count, start + 1 + Int(random.next() % 256))]
            bytes.insert(contentsOf: piece, at: min(position, bytes.count))
        default:
            if bytes.count > 1 { bytes.removeSubrange(Int(random.next() % UInt64(bytes.count))...) }
        }
    }
    if bytes.count > maxLength { bytes.removeSubrange(maxLength...) }
    return bytes
}

/// The fixtures of the repository, by path: every file below Tests/, Examples/ and Rules/.
func fixtures(root: String) -> [(path: String, bytes: [UInt8])] {
    var result: [(String, [UInt8])] = []
    let tree = SourceTree(root: nil)
    for top in ["Tests", "Examples", "Rules"] {
        guard let enumerator = FileManager.default.enumerator(atPath: root + "/" + top) else { continue }
        while let relative = enumerator.nextObject() as? String {
            let path = root + "/" + top + "/" + relative
            guard !tree.isDirectory(path), case .success(let bytes) = tree.read(path), bytes.count <= maxLength else { continue }
            result.append((path, bytes))
        }
    }
    return result
}

// The input being run, where a crash handler can find it: written before every execution.
nonisolated(unsafe) var currentInputDescriptor: Int32 = -1

/// SIGPROF during one input: it has used three times the hang limit of processor time and may
/// never return. SIGALRM: it has been running for `blockedLimit` seconds of wall time without
/// returning (blocked in a system call, which uses no processor time).
signal(SIGPROF) { _ in
    let message = "fuzz: an input used more than three times the hang limit of processor time and was stopped; it is in the work directory's current-input\n"
    _ = message.withCString { write(2, $0, strlen($0)) }
    _exit(3)
}
signal(SIGALRM) { _ in
    let message = "fuzz: an input ran for 120 s of wall time without returning (blocked?) and was stopped; it is in the work directory's current-input\n"
    _ = message.withCString { write(2, $0, strlen($0)) }
    _exit(3)
}
let blockedLimit: UInt32 = 120

/// Processor time this process has used (all threads), in seconds: what an input costs,
/// whatever else the machine is doing (wall time under a loaded test run is not the input's).
func processorSeconds() -> Double {
    var usage = rusage()
    getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
    return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
}

/// The most memory this process has held, in bytes.
func peakResidentBytes() -> Int {
    var usage = rusage()
    getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
    return usage.ru_maxrss * 1024
}

/// One input may not make the process grow by more than this (inputs are at most `maxLength`).
let memoryGrowthLimit = 1 << 30

func fuzz(_ target: Target, seconds: Double, executionLimit: Int?, seed: UInt64, work: String, corpus: [(path: String, bytes: [UInt8])]) -> Bool {
    let directory = work + "/" + target.name
    try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    let scratch = Scratch(directory: directory)
    var seeds = corpus.filter { target.seeds($0.path, InputClassifier.classify(name: $0.path, bytes: $0.bytes)) }.map(\.bytes)
    if seeds.isEmpty { seeds = [Array("\n".utf8)] }
    let tokens = target.tokens.map { Array($0.utf8) }
    currentInputDescriptor = open(directory + "/current-input", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
    var random = SplitMix(state: seed)
    let hangLimit = 10.0
    var executions = 0, slowest = 0.0
    let started = Date()
    let deadline = started.addingTimeInterval(seconds)
    // Every seed once as it is, then mutations; until the time is up or the executions are done.
    var queue = seeds
    while Date() < deadline && executions < (executionLimit ?? Int.max) {
        let input = queue.popLast() ?? mutate(seeds[Int(random.next() % UInt64(seeds.count))], seeds: seeds, tokens: tokens, random: &random)
        _ = ftruncate(currentInputDescriptor, 0)
        _ = input.withUnsafeBytes { pwrite(currentInputDescriptor, $0.baseAddress, $0.count, 0) }
        let processorBefore = processorSeconds(), memoryBefore = peakResidentBytes()
        // An input that never returns is caught by a timer: the process ends with status 3, and
        // the input stays in current-input.
        var timer = itimerval(it_interval: timeval(), it_value: timeval(tv_sec: Int(hangLimit) * 3, tv_usec: 0))
        setitimer(__itimer_which_t(ITIMER_PROF.rawValue), &timer, nil)
        alarm(blockedLimit)
        target.run(input, scratch)
        alarm(0)
        timer = itimerval()
        setitimer(__itimer_which_t(ITIMER_PROF.rawValue), &timer, nil)
        let cost = processorSeconds() - processorBefore
        slowest = max(slowest, cost)
        executions += 1
        if cost > hangLimit {
            scratch.write(input, to: directory + "/hang-\(executions)")
            defer { fflush(nil) }
            print("\(target.name): an input used \(String(format: "%.1f", cost)) s of processor time (limit \(Int(hangLimit)) s): saved as \(directory)/hang-\(executions)")
            return false
        }
        if peakResidentBytes() - memoryBefore > memoryGrowthLimit {
            scratch.write(input, to: directory + "/memory-\(executions)")
            defer { fflush(nil) }
            print("\(target.name): an input of \(input.count) bytes grew the process by more than \(memoryGrowthLimit >> 20) MiB: saved as \(directory)/memory-\(executions)")
            return false
        }
    }
    close(currentInputDescriptor)
    unlink(directory + "/current-input")
    let elapsed = Date().timeIntervalSince(started)
    print("\(target.name): \(executions) executions in \(String(format: "%.1f", elapsed)) s (\(Int(Double(executions) / max(elapsed, 0.001)))/s) from \(seeds.count) seeds, seed \(seed), most processor time for one input \(String(format: "%.3f", slowest)) s, no crash, no hang")
    return true
}

// MARK: - Command line

var arguments = Array(CommandLine.arguments.dropFirst())
@MainActor func option(_ name: String) -> String? {
    guard let index = arguments.firstIndex(of: name), index + 1 < arguments.count else { return nil }
    defer { arguments.removeSubrange(index...(index + 1)) }
    return arguments[index + 1]
}
let seed = option("--seed").flatMap(UInt64.init) ?? 1
// Bounded by executions as well as by time: the same inputs on a loaded machine as on an idle one.
let executionLimit = option("--executions").flatMap(Int.init)
let repository = option("--repository") ?? FileManager.default.currentDirectoryPath
let work = option("--work") ?? NSTemporaryDirectory() + "originaudit-fuzz"
guard arguments.count == 2, let seconds = Double(arguments[1]), seconds > 0,
      arguments[0] == "all" || targets.contains(where: { $0.name == arguments[0] }) else {
    FileHandle.standardError.write(Data("usage: Fuzz TARGET SECONDS [--seed N] [--executions N] [--work DIR] [--repository DIR]\n  TARGET: \(targets.map(\.name).joined(separator: " ")) or all\n".utf8))
    exit(2)
}
// A crash: say where the input is, then die of the same signal.
for signalNumber in [SIGSEGV, SIGBUS, SIGILL, SIGTRAP, SIGABRT, SIGFPE] {
    signal(signalNumber) { number in
        let message = "Fuzz: crashed; the input is in WORK/TARGET/current-input\n"
        _ = message.withCString { write(2, $0, strlen($0)) }
        signal(number, SIG_DFL)
        raise(number)
    }
}
let corpus = fixtures(root: repository)
let chosen = arguments[0] == "all" ? targets : targets.filter { $0.name == arguments[0] }
var clean = true
for target in chosen {
    clean = fuzz(target, seconds: seconds, executionLimit: executionLimit, seed: seed, work: work, corpus: corpus) && clean
    // Each target's line as soon as it is done, also into a pipe.
    fflush(nil)
}
exit(clean ? 0 : 1)
