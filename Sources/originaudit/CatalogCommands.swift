import ArgumentParser
import AuditRules
import Foundation
import OriginAuditCore

struct Rules: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List every rule: id, severity, status and title.")

    @Option(help: ArgumentHelp("A directory of rule YAML files that add to or override the embedded catalog.", valueName: "dir"))
    var rules: String?

    @Flag(help: "Print JSON instead of a table.") var json = false
    @Flag(help: "Print a Markdown table (the README's rule table is this output).") var markdown = false

    func run() throws {
        let catalog = try loadCatalog(rules)
        let implemented = RuleRegistry.implementedIds
        let entries = catalog.sorted
        if json {
            let list = entries.map { rule -> [String: Any] in
                ["id": rule.id, "severity": rule.severity.rawValue, "title": rule.title,
                 "predicts": rule.predicts as Any, "implemented": implemented.contains(rule.id)]
            }
            let data = try JSONSerialization.data(withJSONObject: list, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
            print(String(decoding: data, as: UTF8.self))
            return
        }
        if markdown {
            print("| id | severity | predicts | what it finds |")
            print("| --- | --- | --- | --- |")
            for rule in entries {
                let status = implemented.contains(rule.id) ? "" : " *(not yet implemented)*"
                print("| `\(rule.id)` | \(rule.severity.rawValue) | \(rule.predicts ?? "—") | \(rule.title)\(status) |")
            }
            return
        }
        let idWidth = entries.map(\.id.count).max() ?? 10
        print("ID".padding(toLength: idWidth, withPad: " ", startingAt: 0) + "  SEVERITY  STATUS       PREDICTS         TITLE")
        for rule in entries {
            let status = implemented.contains(rule.id) ? "active" : "not yet"
            print(rule.id.padding(toLength: idWidth, withPad: " ", startingAt: 0) + "  "
                  + rule.severity.rawValue.padding(toLength: 8, withPad: " ", startingAt: 0) + "  "
                  + status.padding(toLength: 11, withPad: " ", startingAt: 0) + "  "
                  + (rule.predicts ?? "—").padding(toLength: 15, withPad: " ", startingAt: 0) + "  " + rule.title)
        }
        let missing = entries.filter { !implemented.contains($0.id) }.count
        print("\n\(entries.count) rules; \(entries.count - missing) active, \(missing) not implemented in this build.")
    }
}

struct Explain: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Explain one rule: why it matters, what it predicts, how to fix it.")

    @Argument(help: "A rule id, such as firewall.cdn-dropped.") var id: String

    @Option(help: ArgumentHelp("A directory of rule YAML files that add to or override the embedded catalog.", valueName: "dir"))
    var rules: String?

    func run() throws {
        let catalog = try loadCatalog(rules)
        guard let rule = catalog[id] else {
            let close = catalog.sorted.map(\.id).filter { $0.contains(id) || id.contains($0.split(separator: ".").last.map(String.init) ?? "#") }
            throw ValidationError("unknown rule '\(id)'" + (close.isEmpty ? "; `originaudit rules` lists them" : "; did you mean \(close.joined(separator: ", "))?"))
        }
        var out = "\(rule.id) — \(rule.title)\n\n"
        out += "Severity: \(rule.severity.rawValue)\n"
        out += "Predicts: \(rule.predicts ?? "—")\n"
        out += "Status:   \(RuleRegistry.implementedIds.contains(rule.id) ? "active" : "not implemented in this build")\n\n"
        out += "Why it matters\n" + indented(rule.rationale) + "\n\n"
        out += "How to fix it\n" + indented(rule.remediation) + "\n"
        if !rule.references.isEmpty { out += "\nReferences\n" + rule.references.map { "  " + $0 }.joined(separator: "\n") + "\n" }
        print(out, terminator: "")
    }

    func indented(_ text: String) -> String {
        text.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: "\n", omittingEmptySubsequences: false)
            .map { $0.isEmpty ? "" : "  " + $0 }.joined(separator: "\n")
    }
}

struct Ranges: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print a CDN's embedded address ranges, ports and timeouts, with their source and date.",
        subcommands: [Show.self, Update.self],
        defaultSubcommand: Show.self)
}

extension Ranges {
struct Update: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Turn a CDN's freshly published address list into a file for --cdn-ranges.",
        discussion: """
        originaudit never fetches anything itself. Download the list the CDN publishes (the source \
        printed by `originaudit ranges --cdn X`), then convert it: Cloudflare's ips-v4/ips-v6 text or \
        API JSON, Fastly's public-ip-list JSON, AWS ip-ranges.json (CloudFront origin-facing \
        entries), or any list of CIDRs. The output also says what changed against the embedded snapshot.
        """)

    @Option(help: "The CDN the list belongs to.") var cdn: String = "cloudflare"
    @Option(name: .customLong("from"), help: ArgumentHelp("The downloaded list (repeatable, e.g. ips-v4 and ips-v6).", valueName: "file"))
    var sources: [String]
    @Option(help: ArgumentHelp("Where to write the ranges file (default: standard output).", valueName: "file")) var output: String?

    func run() throws {
        let embedded: CDNProfile
        do { embedded = try CDNProfile.embedded(cdn) } catch { throw ValidationError("\(error)") }
        var cidrs: [CIDR] = []
        for source in sources {
            guard let data = FileManager.default.contents(atPath: source) else { throw ValidationError("--from \(source): cannot be read") }
            do {
                cidrs += try PublishedRanges.parse(String(decoding: data, as: UTF8.self), cdn: cdn)
            } catch {
                throw ValidationError("--from \(source): \(error)")
            }
        }
        guard !cidrs.isEmpty else { throw ValidationError("no ranges found in \(sources.joined(separator: ", "))") }
        let fresh = DualStackSet(cidrs: cidrs)
        var text = "# \(embedded.displayName) ranges converted by originaudit ranges update from \(sources.joined(separator: ", "))\n"
        text += fresh.cidrs.map(\.description).joined(separator: "\n") + "\n"
        try emit(text, to: output)
        for family in AddressFamily.allCases where !fresh[family].isEmpty {
            let added = fresh[family].subtracting(embedded.ranges[family])
            let removed = embedded.ranges[family].subtracting(fresh[family])
            if !added.isEmpty { FileHandle.standardError.write(Data("new since the embedded snapshot (\(embedded.asOf)): \(added)\n".utf8)) }
            if !removed.isEmpty { FileHandle.standardError.write(Data("no longer published: \(removed)\n".utf8)) }
        }
    }
}

struct Show: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "show", abstract: "Print a CDN's embedded ranges (the default).")

    @Option(help: "The CDN: \(CDNProfile.embeddedNames.joined(separator: ", ")).") var cdn: String = "cloudflare"
    @Flag(help: "Print only the CIDRs, one per line (a file for --cdn-ranges).") var plain = false

    func run() throws {
        let profile: CDNProfile
        do { profile = try CDNProfile.embedded(cdn) } catch { throw ValidationError("\(error)") }
        if plain {
            print(profile.ranges.cidrs.map(\.description).joined(separator: "\n"))
            return
        }
        var out = "\(profile.displayName) — source \(profile.source), as of \(profile.asOf)\n"
        out += "IPv4 (\(profile.ranges.ipv4.cidrs.count) ranges, \(profile.ranges.ipv4.count) addresses):\n"
        out += profile.ranges.ipv4.cidrs.map { "  \($0)" }.joined(separator: "\n") + "\n"
        out += "IPv6 (\(profile.ranges.ipv6.cidrs.count) ranges):\n"
        out += profile.ranges.ipv6.cidrs.map { "  \($0)" }.joined(separator: "\n") + "\n"
        if !profile.staleRanges.isEmpty {
            out += "Formerly published, no longer the CDN's:\n" + profile.staleRanges.cidrs.map { "  \($0)" }.joined(separator: "\n") + "\n"
        }
        out += "HTTP ports: \(profile.httpPorts.portList)\nHTTPS ports: \(profile.httpsPorts.portList)\n"
        if let connect = profile.connectTimeout { out += "Connect timeout: \(format(connect)) s\n" }
        if let read = profile.readTimeout { out += "Read timeout: \(format(read)) s\n" }
        if let header = profile.clientIPHeader { out += "Client address header: \(header)\n" }
        out += "\nThese ranges change. Compare them with \(profile.source) before relying on them, and pass a newer list with --cdn-ranges FILE.\n"
        print(out, terminator: "")
    }

    func format(_ value: Double) -> String { value.rounded() == value ? String(Int(value)) : String(value) }
}
}

/// The embedded catalog, plus a `--rules DIR` when given.
func loadCatalog(_ directory: String?) throws -> RuleCatalog {
    var catalog = RuleCatalog.embedded
    if let directory {
        let errors = catalog.merge(directory: URL(fileURLWithPath: directory))
        if !errors.isEmpty { throw ValidationError(errors.map(\.description).joined(separator: "\n")) }
    }
    return catalog
}
