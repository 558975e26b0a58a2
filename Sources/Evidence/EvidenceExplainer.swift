import Firewall
import OriginAuditCore
import WebServer

/// What the configuration says about what the capture shows. Built by the CLI from the same
/// inputs `scan` reads; every part may be missing.
public struct EvidenceContext: Sendable {
    public var firewall: FirewallModel?
    public var publicInterfaces: [String]
    /// Web server listeners from the configuration; nil when no web server configuration was given.
    public var listeners: [Listener]?
    /// What listened on this machine (live mode).
    public var sockets: HostSockets?
    /// The audit's findings over the same inputs.
    public var findings: [Finding]
    /// Whether any configuration (firewall, web server, certificates) was given at all.
    public var configurationGiven: Bool

    public init(firewall: FirewallModel?, publicInterfaces: [String], listeners: [Listener]?, sockets: HostSockets?,
                findings: [Finding], configurationGiven: Bool) {
        self.firewall = firewall
        self.publicInterfaces = publicInterfaces
        self.listeners = listeners
        self.sockets = sockets
        self.findings = findings
        self.configurationGiven = configurationGiven
    }
}

/// Ties each failure the CDN met to what explains it in the configuration, or says that nothing
/// given does, and where to look instead. It never invents a cause: "explained by" only where
/// the evaluator's verdict for that very address and port is the behaviour seen.
public enum EvidenceExplainer {
    public static func explain(_ report: inout EvidenceReport, context: EvidenceContext) {
        let evaluator = context.firewall.map { FirewallEvaluator(model: $0, publicInterfaces: context.publicInterfaces) }
        for index in report.rows.indices where report.rows[index].fromCDN && report.rows[index].predicts != nil {
            let row = report.rows[index]
            var lines: [String] = []
            guard context.configurationGiven else {
                report.rows[index].explanation = ["no configuration given: add the firewall dumps and web server configuration (or --live) to tie this to its cause"]
                continue
            }
            switch row.outcome {
            case "no-syn-ack", "reset", "icmp-unreachable":
                lines = explainConnect(row, evaluator: evaluator, context: context)
            default:
                lines = explainByFindings(row, context: context)
            }
            report.rows[index].explanation = lines
        }
    }

    /// SYNs dropped, reset or refused with ICMP: what the firewall does with this address and port.
    private static func explainConnect(_ row: EvidenceRow, evaluator: FirewallEvaluator?, context: EvidenceContext) -> [String] {
        guard let evaluator, let address = IPAddress(row.example.client), evaluator.model.families.contains(row.family) else {
            let what = context.firewall == nil ? "no firewall ruleset was given" : "no \(row.family == .ipv4 ? "IPv4" : "IPv6") ruleset was given"
            return ["\(what): the firewall's part cannot be judged (give iptables-save / ip6tables-save / nft list ruleset, or --live)"]
                + listenerLines(row, context: context)
        }
        let parts = evaluator.evaluate(family: row.family, sources: AddressSet(family: row.family, cidrs: [CIDR(address: address, prefixLength: row.family.bits)]),
                                       ports: PortSet(row.port...row.port))
        guard let decision = parts.first?.decision else { return ["the firewall evaluation gave no verdict for \(address) → \(row.port)"] }
        let rule = decision.decidedBy.description
        let kind = decision.outcome.kind
        switch (row.outcome, kind) {
        case ("no-syn-ack", .drop):
            return ["explained: \(rule) drops SYNs from \(address) to \(row.port) (firewall.cdn-dropped)"]
        case ("no-syn-ack", .rateLimited):
            return ["explained in part: \(rule) limits these SYNs; those over the limit are dropped (firewall.cdn-rate-limited); otherwise \(decision.otherwise?.description ?? "the rules that follow") decides"]
        case ("reset", .reject) where decision.outcome.rejectWith?.contains("reset") == true,
             ("icmp-unreachable", .reject) where decision.outcome.rejectWith?.contains("reset") != true:
            return ["explained: \(rule) rejects \(address) → \(row.port) with \(decision.outcome.rejectWith ?? "a reject") (firewall.cdn-rejected)"]
        case ("reset", .rateLimited), ("icmp-unreachable", .rateLimited):
            // Under the limit the SYN is let in: what answered it is the host behind the rules.
            return ["\(rule) limits these SYNs (firewall.cdn-rate-limited): each gets \(decision.outcome.possible.map(\.description).joined(separator: " or ")) depending on the rate"]
                + (decision.outcome.possible.contains(.accept) ? listenerLines(row, context: context) : [])
        case (_, .unknown):
            let because = decision.uncertainBecause.map(\.description).joined(separator: "; ")
            return ["the firewall may do this: its verdict for \(address) → \(row.port) is \(decision.outcome) (uncertain because of \(because.isEmpty ? rule : because))"]
        case ("reset", .accept), ("icmp-unreachable", .accept):
            return ["the firewall accepts \(address) → \(row.port) (\(rule)): the refusal does not come from these rules"] + listenerLines(row, context: context)
        case ("no-syn-ack", .accept):
            return ["the firewall given accepts \(address) → \(row.port) (\(rule)): the cause is not in the configuration given. "
                    + "Look at a firewall or security group in front of the host, a full SYN backlog or conntrack table "
                    + "(`nstat -az TcpExtListenDrops TcpExtListenOverflows`, `conntrack -S`), or whether the capture point sees the replies"]
        case ("no-syn-ack", .reject):
            return ["the firewall rejects \(address) → \(row.port) with \(decision.outcome.rejectWith ?? "a reply") (\(rule)) but no reply was seen: the reply may be filtered on its way out, or the capture point does not see it"]
        default:
            return ["the firewall's verdict for \(address) → \(row.port) is \(decision.outcome) (\(rule)), which does not produce what was seen: the rules may have changed since the capture, or a device in front of the host answered"]
        }
    }

    /// A reset where the firewall lets the SYN in: does anything listen on the port?
    private static func listenerLines(_ row: EvidenceRow, context: EvidenceContext) -> [String] {
        guard row.outcome == "reset" || row.outcome == "icmp-unreachable" else { return [] }
        if let sockets = context.sockets {
            return sockets.listens(port: row.port)
                ? ["something listens on port \(row.port) on this machine now: it did not when the capture was taken, or it listens on another address"]
                : ["explained: nothing listens on port \(row.port) on this machine (the kernel answers such SYNs with a reset)"]
        }
        guard let listeners = context.listeners else {
            return ["nothing given says what listens on port \(row.port): give the web server configuration, or --live"]
        }
        let here = listeners.filter { $0.port == row.port }
        guard let first = here.first else {
            return ["explained: no server in the configuration given listens on port \(row.port) (the kernel answers SYNs to a closed port with a reset)"]
        }
        return ["the configuration listens on port \(row.port) (\(first.location)): the server was not running, or listened on another address, when the capture was taken"]
    }

    /// 524, 525, 520, 502–504: the audit's findings that predict the same failure.
    private static func explainByFindings(_ row: EvidenceRow, context: EvidenceContext) -> [String] {
        guard let code = row.predicts else { return [] }
        let matching = context.findings.filter { finding in
            guard let predicts = finding.predicts else { return false }
            return predicts.split(whereSeparator: { !$0.isNumber }).contains { $0 == code }
        }
        guard !matching.isEmpty else {
            let elsewhere: String = switch code {
            case "524": "the application or upstream behind the web server: it answered later than the CDN waits"
            case "525": "the TLS offer of the CDN against the origin's TLS settings (`originaudit probe` shows the handshake)"
            case "520": "the application or upstream closing connections (its logs at that time)"
            default: "the upstream the web server proxies to"
            }
            return ["nothing in the configuration given predicts \(code): look at \(elsewhere)"]
        }
        var lines = matching.prefix(3).map { finding in
            "the configuration predicts \(code): \(finding.ruleId)\(finding.location.map { " at \($0)" } ?? ""): \(KeyMaterial.redacted(finding.message))"
        }
        if matching.count > 3 { lines.append("and \(matching.count - 3) more findings predicting \(code)") }
        return lines
    }

    static func formatSeconds(_ seconds: Double) -> String {
        seconds == seconds.rounded() ? "\(Int(seconds)) s" : String(format: "%.1f s", seconds)
    }
}
