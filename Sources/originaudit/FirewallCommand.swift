import ArgumentParser
import Audit
import AuditRules
import Firewall
import Foundation
import OriginAuditCore
import Reporters

struct FirewallCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "firewall",
        abstract: "Print the reachability matrix: every CDN range × every port the CDN will use → outcome and deciding rule.",
        discussion: """
        The ports are those the TLS mode needs (flexible 80; full and strict 80 and 443; origin-pull \
        443) plus the proxied ports the web servers listen on, or --ports. Totals say how many CDN \
        addresses reach each port. --format html writes one self-contained page: the matrix as a \
        grid (each cell linked to its deciding rule and finding), the totals and the firewall's \
        findings. Exit 0 when every CDN address certainly reaches every port, 1 otherwise, 2 when \
        there is nothing to analyse.
        """)

    @OptionGroup var inputs: InputArguments
    @OptionGroup var profile: ProfileArguments
    @Option(help: ArgumentHelp("Ports to check instead, e.g. 80,443,8443 or 2052-2053.", valueName: "list")) var ports: String?
    @Option(help: "Output format: text, json, html.") var format: FirewallFormat = .text
    @Option(help: ArgumentHelp("Write the answer to this file instead of standard output.", valueName: "file")) var output: String?
    @Flag(help: .hidden) var json = false

    func run() async throws {
        let prepared = inputs.prepare(profile)
        let model = prepared.loaded.model
        guard !model.firewall.families.isEmpty else {
            FileHandle.standardError.write(Data("originaudit: no firewall ruleset (iptables-save, ip6tables-save, nft) among the inputs\n".utf8))
            throw ExitCode(2)
        }
        let checked: PortSet
        if let ports {
            guard let parsed = Self.parsePorts(ports) else { throw ValidationError("--ports '\(ports)' is not a list of ports and ranges") }
            checked = parsed
        } else {
            checked = HTMLPage.plannedPorts(prepared)
        }
        let matrix = ReachabilityMatrix.compute(model: model.firewall, cdn: prepared.profile.cdn, ports: checked, publicInterfaces: prepared.profile.publicInterfaces, originAddresses: prepared.profile.originAddresses)
        var text: String
        if json || format == .json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            text = String(decoding: try encoder.encode(matrix), as: UTF8.self) + "\n"
        } else if format == .html {
            // The firewall's own findings, so that each cell links to the one that reports it.
            var report = await AuditRunner.finish(prepared.loaded, profile: prepared.profile, config: prepared.project, catalog: .embedded)
            report.findings = report.findings.filter { $0.ruleId.hasPrefix("firewall.") }
            text = HTMLReporter.render(.init(report: report, matrix: matrix, verdicts: nil))
        } else {
            let asOf = prepared.profile.cdn.asOf.isEmpty ? "" : ", ranges as of \(prepared.profile.cdn.asOf)"
            text = "TLS mode \(prepared.profile.tlsMode.rawValue)\(ports == nil ? ": ports the mode and the listeners need" : "")\(asOf)\n"
            text += TerminalText.escape(matrix.renderText(), keepNewlines: true)
            for note in prepared.loaded.notes { text += TerminalText.escape("note: \(KeyMaterial.redacted(note))") + "\n" }
        }
        do { try emit(text, to: output) } catch { failUsage("\(error)") }
        let everyoneThrough = matrix.totals.allSatisfy { $0.accepted == $0.addresses }
        if !everyoneThrough || !matrix.unfilteredFamilies.isEmpty && matrix.totals.isEmpty { throw ExitCode(1) }
    }

    /// `80,443,2052-2053` → a port set.
    static func parsePorts(_ text: String) -> PortSet? {
        var set = PortSet()
        for item in text.split(separator: ",") {
            let bounds = item.split(separator: "-", maxSplits: 1, omittingEmptySubsequences: false).map { UInt16($0.trimmingCharacters(in: .whitespaces)) }
            guard bounds.allSatisfy({ $0 != nil }), let low = bounds.first ?? nil else { return nil }
            let high = bounds.count == 2 ? bounds[1]! : low
            guard low <= high else { return nil }
            set.insert(low...high)
        }
        return set.isEmpty ? nil : set
    }
}
