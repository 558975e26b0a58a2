import Foundation
import Testing
import OriginAuditCore
import TestSupport
import FirewallLab
@testable import Firewall

/// The kernel is the oracle: every corpus ruleset is accepted by iptables-restore --test / nft -c
/// and by our parser, loaded into a namespace, probed with real connections, and what the
/// evaluator predicted must be what happened. What the kernel dumps back must parse to the same model.
@Suite(.serialized) struct KernelTruthTests {
    /// A model comparable across input forms: no locations, no rule text, match order ignored.
    static func canonical(_ model: FirewallModel) -> [String] {
        func describe(_ match: Match) -> String {
            switch match {
            case .rateLimit(let limit): "rateLimit(\(limit.kind))"
            case .unknown: "unknown"
            case .always: "always"
            case .never: "never"
            case .address(let direction, .literal(let set), let negated): "\(negated ? "!" : "")\(direction) \(set.cidrs)"
            case .address(let direction, .named(let name), let negated): "\(negated ? "!" : "")\(direction) @\(name)"
            case .proto(let numbers, let negated): "\(negated ? "!" : "")proto \(numbers.sorted())"
            case .port(let direction, let ports, let negated): "\(negated ? "!" : "")\(direction) port \(ports.portList)"
            case .interface(let input, let names, let negated): "\(negated ? "!" : "")\(input ? "in" : "out") \(names.sorted())"
            case .connectionState(let states, let negated): "\(negated ? "!" : "")ct \(states.sorted())"
            case .addressType(let direction, let types, let negated): "\(negated ? "!" : "")\(direction) type \(types.sorted())"
            case .family(let family): "family \(family)"
            }
        }
        return model.tables.sorted { ($0.family.rawValue, $0.name) < ($1.family.rawValue, $1.name) }.flatMap { table in
            table.chains.sorted { $0.name < $1.name }.map { chain in
                // Rules expanded from one verdict map share a location; the kernel may list their keys in any order.
                var rules: [String] = []
                var run: [String] = []
                var runLocation: OriginAuditCore.SourceLocation?
                for rule in chain.rules {
                    let text = Set(rule.matches.map(describe)).sorted().joined(separator: " & ") + " -> \(rule.action)"
                    if rule.location != runLocation { rules += run.sorted(); run = [] }
                    runLocation = rule.location
                    run.append(text)
                }
                rules += run.sorted()
                return "\(table.family) \(table.name) \(chain.name) hook=\(chain.hook.map(\.rawValue) ?? "-") prio=\(chain.priority) policy=\(chain.isBaseChain ? "\(chain.policy)" : "-"): " + rules.joined(separator: " | ")
            }
        }
    }

    static func errors(_ result: LoadResult<FirewallModel>) -> [Finding] { result.findings.filter { $0.ruleId == "input.parse-error" } }

    /// Loads a case into the lab; returns the inputs as given (or as ufw made them).
    func load(_ kernelCase: KernelCase, into lab: KernelLab) throws -> [FirewallInput] {
        var inputs: [FirewallInput] = []
        if let ipset = kernelCase.ipset {
            let result = try lab.inOrigin(["ipset", "restore"], stdin: ipset + "\n")
            #expect(result.status == 0, "\(kernelCase.name): ipset restore: \(result.stderr)")
            inputs.append(FirewallInput(kind: .ipset, displayPath: "ipset.save", bytes: Array(ipset.utf8)))
        }
        for (index, source) in kernelCase.sources.enumerated() {
            switch source {
            case .iptables(let text), .ip6tables(let text):
                let v6: Bool
                if case .ip6tables = source { v6 = true } else { v6 = false }
                let tool = v6 ? "ip6tables-restore" : "iptables-restore"
                let test = try lab.inOrigin([tool, "--test"], stdin: text + "\n")
                #expect(test.status == 0, "\(kernelCase.name): \(tool) --test rejects the corpus file: \(test.stderr)")
                let loaded = try lab.inOrigin([tool], stdin: text + "\n")
                #expect(loaded.status == 0, "\(kernelCase.name): \(tool): \(loaded.stderr)")
                inputs.append(FirewallInput(kind: .iptablesSave, familyHint: v6 ? .ipv6 : nil, displayPath: "rules\(index).v\(v6 ? 6 : 4)", bytes: Array(text.utf8)))
            case .iptablesCommands(let text):
                for line in text.split(separator: "\n") {
                    let result = try lab.inOrigin(["iptables"] + line.split(separator: " ").map(String.init))
                    #expect(result.status == 0, "\(kernelCase.name): iptables \(line): \(result.stderr)")
                }
                inputs.append(FirewallInput(kind: .iptablesRules, displayPath: "iptables-S.txt", bytes: Array(text.utf8)))
            case .nft(let text):
                let file = lab.directory.appendingPathComponent("ruleset\(index).nft")
                try text.write(to: file, atomically: true, encoding: .utf8)
                let check = try lab.inOrigin(["nft", "-c", "-f", file.path])
                #expect(check.status == 0, "\(kernelCase.name): nft -c rejects the corpus file: \(check.stderr)")
                let loaded = try lab.inOrigin(["nft", "-f", file.path])
                #expect(loaded.status == 0, "\(kernelCase.name): nft -f: \(loaded.stderr)")
                inputs.append(FirewallInput(kind: .nftText, displayPath: "ruleset\(index).nft", bytes: Array(text.utf8)))
            case .ufw(let commands), .ufwNft(let commands):
                let root = lab.directory.appendingPathComponent("ufw-root-\(index)")
                try? FileManager.default.removeItem(at: root)
                try FileManager.default.createDirectory(at: root.appendingPathComponent("etc/default"), withIntermediateDirectories: true)
                try FileManager.default.createDirectory(at: root.appendingPathComponent("lib"), withIntermediateDirectories: true)
                try FileManager.default.copyItem(atPath: "/etc/ufw", toPath: root.appendingPathComponent("etc/ufw").path)
                try FileManager.default.copyItem(atPath: "/lib/ufw", toPath: root.appendingPathComponent("lib/ufw").path)
                try FileManager.default.copyItem(atPath: "/etc/default/ufw", toPath: root.appendingPathComponent("etc/default/ufw").path)
                let ufw = ["ufw", "--rootdir=\(root.path)", "--datadir=\(root.path)"]
                for command in commands + ["--force enable"] {
                    let result = try lab.inOrigin(ufw + command.split(separator: " ").map(String.init), timeout: 60)
                    #expect(result.status == 0, "\(kernelCase.name): ufw \(command): \(result.stderr)")
                }
                if case .ufwNft = source {
                    let listing = try lab.inOrigin(["nft", "list", "ruleset"])
                    #expect(listing.status == 0, "\(kernelCase.name): nft list ruleset: \(listing.stderr)")
                    inputs.append(FirewallInput(kind: .nftText, displayPath: "ufw.nft", bytes: Array(listing.stdout.utf8)))
                } else {
                    for (tool, family) in [("iptables-save", AddressFamily.ipv4), ("ip6tables-save", .ipv6)] {
                        let dump = try lab.inOrigin([tool])
                        inputs.append(FirewallInput(kind: .iptablesSave, familyHint: family, displayPath: "ufw.\(tool)", bytes: Array(dump.stdout.utf8)))
                    }
                }
            }
        }
        return inputs
    }

    /// What the kernel dumps back, in each form that applies to the case.
    func dumps(_ kernelCase: KernelCase, from lab: KernelLab) throws -> [(String, [FirewallInput])] {
        var result: [(String, [FirewallInput])] = []
        let ipset = kernelCase.ipset != nil ? [FirewallInput(kind: .ipset, displayPath: "ipset.dump", bytes: Array(try lab.inOrigin(["ipset", "save"]).stdout.utf8))] : []
        let hasNft = kernelCase.sources.contains { if case .nft = $0 { true } else { false } }
        let hasIptables = kernelCase.sources.contains { if case .nft = $0 { false } else { true } }
        if hasIptables && !hasNft {
            var inputs = ipset
            if kernelCase.sources.contains(where: { if case .ip6tables = $0 { false } else { true } }) {
                inputs.append(FirewallInput(kind: .iptablesSave, familyHint: .ipv4, displayPath: "dump.v4", bytes: Array(try lab.inOrigin(["iptables-save"]).stdout.utf8)))
            }
            if kernelCase.sources.contains(where: { if case .ip6tables = $0 { true } else if case .ufw = $0 { true } else { false } }) {
                inputs.append(FirewallInput(kind: .iptablesSave, familyHint: .ipv6, displayPath: "dump.v6", bytes: Array(try lab.inOrigin(["ip6tables-save"]).stdout.utf8)))
            }
            result.append(("iptables-save", inputs))
        }
        if hasNft && !hasIptables {
            result.append(("nft -j", ipset + [FirewallInput(kind: .nftJSON, displayPath: "dump.json", bytes: Array(try lab.inOrigin(["nft", "-j", "list", "ruleset"]).stdout.utf8))]))
            result.append(("nft text", ipset + [FirewallInput(kind: .nftText, displayPath: "dump.nft", bytes: Array(try lab.inOrigin(["nft", "list", "ruleset"]).stdout.utf8))]))
        }
        return result
    }

    @Test(.oracle("the kernel lab", unavailable: KernelLab.unavailableReason))
    func kernelAgreesWithTheEvaluator() async throws {
        #expect(KernelCorpus.cases.count == ReadmeFigures.value("kernel-rulesets"))
        // Two labs side by side: probes mostly wait for timeouts, so the shards overlap well.
        let shards = 2
        let totals = try await withThrowingTaskGroup(of: (Int, Int).self) { group in
            for shard in 0..<shards {
                let cases = KernelCorpus.cases.enumerated().filter { $0.offset % shards == shard }.map(\.element)
                group.addTask { try self.run(cases) }
            }
            return try await group.reduce((0, 0)) { ($0.0 + $1.0, $0.1 + $1.1) }
        }
        #expect(totals.0 == ReadmeFigures.value("kernel-predictions"), "predictions compared with the kernel")
        #expect(totals.1 == 0, "\(totals.1) predictions had no outcome to compare with the kernel: every probe must be checked")
        print("kernel-truth: \(KernelCorpus.cases.count) rulesets, \((KernelLab.v4Sources.count + KernelLab.v6Sources.count) * KernelLab.ports.count) probes each, \(totals.0) predictions compared, \(totals.1) with no definite prediction")
    }

    /// Runs cases in one lab; returns (predictions compared, predictions without a definite answer).
    func run(_ cases: [KernelCase]) throws -> (Int, Int) {
        let lab = try KernelLab()
        defer { lab.tearDown() }
        let probes = KernelLab.v4Sources.flatMap { source in KernelLab.ports.map { (source: source, port: $0) } }
            + KernelLab.v6Sources.flatMap { source in KernelLab.ports.map { (source: source, port: $0) } }
        var compared = 0, skipped = 0
        for kernelCase in cases {
            try lab.reset()
            if kernelCase.container { try lab.enableContainer() }
            let inputs = try load(kernelCase, into: lab)
            let loaded = FirewallLoader.load(inputs)
            #expect(Self.errors(loaded).isEmpty, "\(kernelCase.name): our parser rejects a file the kernel accepts: \(Self.errors(loaded).map { "\($0.location!): \($0.message)" })")

            let observed = try lab.probe(probes)
            #expect(observed.count == probes.count, "\(kernelCase.name): probe output \(observed)")
            // Told the interface name; told it and the origin's own addresses; and with neither.
            let origin = [KernelLab.originV4, KernelLab.originV6].compactMap { IPAddress($0) }
            for evaluator in [FirewallEvaluator(model: loaded.model, inInterface: "eth0"), FirewallEvaluator(model: loaded.model, inInterface: "eth0", originAddresses: origin),
                              FirewallEvaluator(model: loaded.model)] {
                var split = 0
                for (probe, seen) in zip(probes, observed) {
                    guard let address = IPAddress(probe.source) else { continue }
                    let parts = evaluator.evaluate(family: address.family, sources: AddressSet(family: address.family, cidrs: [CIDR(address: address, prefixLength: address.family.bits)]), ports: PortSet(probe.port...probe.port))
                    guard let decision = parts.first?.decision, let expected = Observation.compatible(decision.outcome) else { skipped += 1; continue }
                    if kernelCase.hingesOnOriginAddress && !evaluator.originAddresses.isEmpty {
                        #expect(decision.byInterface.isEmpty && decision.outcome.possible.count == 1,
                                "\(kernelCase.name): \(probe.source) → tcp/\(probe.port): told the origin's address, still \(decision.outcome)")
                    }
                    if decision.byInterface.contains(where: { $0.destination != nil }) { split += 1 }
                    compared += 1
                    #expect(expected.contains(Observation.normalise(seen)),
                            "\(kernelCase.name): \(probe.source) → tcp/\(probe.port): kernel said \(seen), evaluator (public interfaces \(evaluator.publicInterfaces), origin \(evaluator.originAddresses)) predicted \(decision.outcome) by \(decision.decidedBy)")
                }
                if kernelCase.hingesOnOriginAddress && evaluator.originAddresses.isEmpty {
                    #expect(split > 0, "\(kernelCase.name): not told the origin's address, no outcome is given per destination")
                }
            }

            if kernelCase.sources.contains(where: { switch $0 { case .ufw, .ufwNft: true; default: false } }) { continue }
            let original = Self.canonical(loaded.model)
            for (form, dumpInputs) in try dumps(kernelCase, from: lab) {
                let reparsed = FirewallLoader.load(dumpInputs)
                #expect(Self.errors(reparsed).isEmpty, "\(kernelCase.name): \(form) dump does not parse: \(Self.errors(reparsed).map(\.message))")
                let again = Self.canonical(reparsed.model)
                #expect(again == original, "\(kernelCase.name): the \(form) dump parses to a different model:\n\(again.filter { !original.contains($0) }.joined(separator: "\n"))\nversus\n\(original.filter { !again.contains($0) }.joined(separator: "\n"))")
            }
        }
        return (compared, skipped)
    }
}
