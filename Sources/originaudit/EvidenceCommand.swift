import ArgumentParser
import Audit
import AuditRules
import Evidence
import Foundation
import OriginAuditCore

struct EvidenceCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "evidence",
        abstract: "Read packet captures and say what the CDN's connections to the origin met (522, 521, 524, 525, 520…), and what in the configuration explains it.",
        discussion: """
        CAPTUREs are pcap or pcapng files as tcpdump, dumpcap and Wireshark write them (or - for \
        standard input: tcpdump -w - | originaudit evidence -); the other PATHs, the per-format \
        options and --live are the configuration, read as `scan` reads it. Every TCP connection \
        attempt to the web ports (the CDN's ports, or --port) is followed: answered (with the HTTP \
        status when the traffic is plain HTTP), no SYN-ACK (with the retransmissions), reset, ICMP \
        unreachable, silence past the CDN's read timeout, TLS alert, reset after the request. The \
        report counts them per CDN range × port × outcome, with the first and last time and an \
        example, and ties each failure to the rule or finding that explains it — or says that the \
        configuration given accepts it, so the cause is elsewhere.
        Needs libpcap at run time (Debian: libpcap0.8). Exit 0 when no connection from the CDN \
        failed, 1 when some did, 2 when no capture could be read.
        """)

    @OptionGroup var inputs: InputArguments
    @OptionGroup var profile: ProfileArguments
    @Option(name: .customLong("port"), help: ArgumentHelp("Web ports to follow instead of the CDN's (repeatable; lists and ranges: 80,443,8000-8080).", valueName: "list"))
    var ports: [String] = []
    @Option(name: .customLong("read-timeout"), help: ArgumentHelp("Seconds the CDN waits for the origin's answer before it gives up with 524 (default: the CDN profile's).", valueName: "seconds"))
    var readTimeout: Double?
    @Option(help: "Report format: text, json.") var format: AnswerFormat = .text
    @Option(help: ArgumentHelp("Write the report to this file instead of standard output.", valueName: "file")) var output: String?

    func run() async throws {
        // Positional paths: captures (by their first bytes) and configuration.
        var captures: [String] = []
        var configuration = inputs
        configuration.paths = []
        for path in inputs.paths {
            // Captures by content; a named capture that cannot be read still counts as one, so the
            // report says why it could not be read.
            let captureName = ["pcap", "pcapng", "cap", "dmp"].contains((path as NSString).pathExtension.lowercased())
            if path == "-" || captureName || !FileManager.default.fileExists(atPath: path) || Self.isCapture(path) {
                captures.append(path)
            } else {
                configuration.paths.append(path)
            }
        }
        guard !captures.isEmpty else {
            throw ValidationError("give at least one capture (a pcap or pcapng file, or - for standard input)")
        }
        if let readTimeout, !(readTimeout > 0) { throw ValidationError("--read-timeout must be a positive number of seconds") }
        var watched = PortSet()
        for list in ports {
            guard let parsed = FirewallCommand.parsePorts(list) else { throw ValidationError("--port '\(list)' is not a list of ports and ranges") }
            watched.formUnion(parsed)
        }

        let hasConfiguration = !configuration.paths.isEmpty || configuration.live || !(configuration.iptables + configuration.ip6tables
            + configuration.nft + configuration.ipset + configuration.nginx + configuration.apache + configuration.certs).isEmpty
        var context = EvidenceContext(firewall: nil, publicInterfaces: [], listeners: nil, sockets: nil, findings: [], configurationGiven: false)
        let cdn: CDNProfile
        var notes: [String] = []
        if hasConfiguration {
            let prepared = configuration.prepare(profile)
            let report = await AuditRunner.finish(prepared.loaded, profile: prepared.profile, config: prepared.project, catalog: RuleCatalog.embedded)
            let model = prepared.loaded.model
            cdn = prepared.profile.cdn
            if watched.isEmpty {
                watched = cdn.allPorts.union({ let p = model.cdnPorts(prepared.profile); return p.http.union(p.https) }())
            }
            let webServerGiven = !model.webServer.virtualHosts.isEmpty
            context = EvidenceContext(firewall: model.firewall.families.isEmpty ? nil : model.firewall,
                                      publicInterfaces: prepared.profile.publicInterfaces,
                                      listeners: webServerGiven ? model.webServer.virtualHosts.flatMap(\.listeners) : nil,
                                      sockets: model.sockets, findings: report.findings, configurationGiven: prepared.loaded.recognised > 0 || model.sockets != nil)
            notes += prepared.loaded.notes
        } else {
            do {
                cdn = try ProfileBuilder.build(profile.options, config: ProjectConfig(), now: Date(), tree: SourceTree(root: nil)).cdn
            } catch {
                failUsage("\(error)")
            }
            if watched.isEmpty { watched = cdn.allPorts }
        }
        if cdn.name == "none" && profile.cdnRanges == nil {
            notes.append("no CDN profile (--cdn none): every connection is counted as not the CDN's")
        }
        let timeout = readTimeout ?? cdn.readTimeout ?? 100
        var report = EvidenceReport.read(captures, options: EvidenceOptions(cdn: cdn, ports: watched, readTimeout: timeout))
        EvidenceExplainer.explain(&report, context: context)
        report.notes += notes.map(KeyMaterial.redacted)

        let text: String
        switch format {
        case .text: text = TerminalText.escape(report.renderText(), keepNewlines: true)
        case .json:
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            text = String(decoding: try encoder.encode(report), as: UTF8.self) + "\n"
        }
        do { try emit(text, to: output) } catch { failUsage("\(error)") }
        if report.captures.allSatisfy({ $0.error != nil && $0.packets == 0 }) { throw ExitCode(2) }
        if report.failedFromCDN > 0 { throw ExitCode(1) }
    }

    /// A pcap (either byte order, micro- or nanosecond) or pcapng file, by its magic number.
    static func isCapture(_ path: String) -> Bool {
        // Read as every typed file is sniffed: never blocking on a FIFO, regular files only.
        guard case .success(let head) = SourceTree(root: nil).head(path, count: 4), head.count == 4 else { return false }
        let magic = head.withUnsafeBytes { $0.loadUnaligned(as: UInt32.self) }
        return [0xA1B2_C3D4, 0xD4C3_B2A1, 0xA1B2_3C4D, 0x4D3C_B2A1, 0x0A0D_0D0A].contains(magic)
    }
}
