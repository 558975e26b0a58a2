import Foundation
import OriginAuditCore
import Yams

/// A suppression: a finding the team has accepted, with the reason and until when.
public struct Suppression: Sendable, Hashable {
    public var ruleId: String
    /// Matches findings in this file (exact, or a glob such as `etc/nginx/*`); nil: any file.
    public var path: String?
    /// Matches one finding exactly; nil: every finding of the rule (in `path`).
    public var fingerprint: String?
    public var reason: String
    public var expires: Date?
    /// Where the suppression is written, so an expired one can point at itself.
    public var location: SourceLocation

    public init(ruleId: String, path: String? = nil, fingerprint: String? = nil, reason: String, expires: Date? = nil, location: SourceLocation) {
        self.ruleId = ruleId
        self.path = path
        self.fingerprint = fingerprint
        self.reason = reason
        self.expires = expires
        self.location = location
    }

    public func matches(_ finding: Finding) -> Bool {
        guard finding.ruleId == ruleId else { return false }
        if let fingerprint, fingerprint != finding.fingerprint { return false }
        if let path {
            guard let file = finding.location?.file else { return false }
            if file != path && !SourceTree.fnmatchPath(path, file) { return false }
        }
        return true
    }
}

/// The settings of `.originaudit.yml` (or `--config F`). Every key is optional; command-line
/// options win over the file.
///
/// The file belongs to the scanned tree, so every path in it (`cdnRanges`, `root`, `inputs`,
/// `caFiles`) is kept as written and resolved under the root by `resolvePaths(in:)`: relative to
/// the file's directory, never leaving the root.
public struct ProjectConfig: Sendable {
    public var file: String?
    /// The directory the file is in (host path); relative paths in it start there.
    public var directory: String?
    public var cdn: String?
    public var cdnRangesFile: String?
    public var tlsMode: TLSMode?
    public var hostnames: [String] = []
    /// `publicInterfaces:` — the interfaces the CDN's traffic arrives on (`eth0`, `eth+`).
    public var publicInterfaces: [String] = []
    /// `originAddresses:` — the origin's own addresses the CDN connects to.
    public var originAddresses: [IPAddress] = []
    public var at: String?
    public var expiryWarningDays: Double?
    public var root: String?
    public var failOn: String?
    public var disabled: Set<String> = []
    public var severityOverrides: [String: Severity] = [:]
    public var suppressions: [Suppression] = []
    /// Inputs by format (`iptables`, `ip6tables`, `nft`, `ipset`, `nginx`, `apache`, `cert`) and
    /// plain `paths`.
    public var inputs: [String: [String]] = [:]
    public var defines: [String] = []
    public var caFiles: [String] = []

    public init() {}

    public static let inputKeys = ["paths", "iptables", "ip6tables", "nft", "ipset", "nginx", "apache", "cert"]

    /// Parses the file; problems are findings (input.parse-error with line and column), and what
    /// could be read is kept.
    public static func parse(_ text: String, file: String, directory: String) -> (ProjectConfig, [Finding]) {
        var config = ProjectConfig()
        config.file = file
        config.directory = directory
        var findings: [Finding] = []
        func problem(_ message: String, _ node: Node?) {
            let mark = node?.mark
            findings.append(Finding(ruleId: "input.parse-error", message: "\(file): \(message)",
                                    location: SourceLocation(file: file, line: mark?.line ?? 1, column: mark?.column ?? 1)))
        }
        let root: Node
        if let line = YAMLNesting.firstTooDeep(text) {
            findings.append(Finding(ruleId: "input.parse-error",
                                    message: "\(file) nests deeper than \(YAMLNesting.maxDepth) levels: not read",
                                    location: SourceLocation(file: file, line: line, column: 1)))
            return (config, findings)
        }
        do {
            guard let node = try Yams.compose(yaml: text) else { return (config, []) }
            root = node
        } catch {
            // The library's own description quotes the offending line; only its problem is shown.
            let (line, column, reason) = YAMLNesting.describe(error)
            findings.append(Finding(ruleId: "input.parse-error", message: "\(file) is not valid YAML: \(reason)",
                                    location: SourceLocation(file: file, line: line, column: column)))
            return (config, findings)
        }
        guard let mapping = root.mapping else {
            problem("expected a mapping of settings at the top level", root)
            return (config, findings)
        }
        func strings(_ node: Node) -> [String]? {
            if let scalar = node.scalar { return [scalar.string] }
            guard let sequence = node.sequence else { return nil }
            let values = sequence.compactMap { $0.scalar?.string }
            return values.count == sequence.count ? values : nil
        }
        for (keyNode, value) in mapping {
            let key = keyNode.string ?? ""
            switch key {
            case "cdn": config.cdn = value.string
            case "cdnRanges", "cdn-ranges": config.cdnRangesFile = value.string
            case "tlsMode", "tls-mode":
                guard let text = value.string, let mode = TLSMode(rawValue: text) else {
                    problem("tlsMode must be one of \(TLSMode.allCases.map(\.rawValue).joined(separator: ", "))", value)
                    continue
                }
                config.tlsMode = mode
            case "hostnames", "hostname":
                guard let names = strings(value) else { problem("hostnames must be a list of names", value); continue }
                config.hostnames = names
            case "publicInterfaces", "public-interfaces", "publicInterface", "public-interface":
                guard let names = strings(value), names.allSatisfy(Profile.isInterfacePattern) else {
                    problem("publicInterfaces must be a list of interface names (up to 15 characters; a trailing + or * matches every name it begins)", value)
                    continue
                }
                config.publicInterfaces = names
            case "originAddresses", "origin-addresses", "originAddress", "origin-address":
                let addresses = strings(value)?.map { IPAddress($0) }
                guard let addresses, !addresses.contains(nil) else {
                    problem("originAddresses must be a list of the origin's IPv4 or IPv6 addresses", value)
                    continue
                }
                config.originAddresses = addresses.compactMap { $0 }
            case "at": config.at = value.string
            case "expiryWarningDays": config.expiryWarningDays = value.string.flatMap(Double.init)
            case "root": config.root = value.string
            case "failOn", "fail-on": config.failOn = value.string
            case "define", "defines": config.defines = strings(value) ?? []
            case "caFiles", "ca-file": config.caFiles = strings(value) ?? []
            case "disable", "disabled":
                guard let ids = strings(value) else { problem("disable must be a list of rule ids", value); continue }
                config.disabled.formUnion(ids)
            case "severity":
                guard let entries = value.mapping else { problem("severity must map rule ids to error, warning or info", value); continue }
                for (idNode, levelNode) in entries {
                    guard let id = idNode.string, let level = levelNode.string.flatMap(Severity.init(rawValue:)) else {
                        problem("severity of \(idNode.string ?? "?") must be error, warning or info", levelNode)
                        continue
                    }
                    config.severityOverrides[id] = level
                }
            case "inputs":
                guard let entries = value.mapping else { problem("inputs must map a format to a list of paths", value); continue }
                for (formatNode, pathsNode) in entries {
                    let format = formatNode.string ?? ""
                    guard inputKeys.contains(format) else {
                        problem("unknown input format '\(format)'; known: \(inputKeys.joined(separator: ", "))", formatNode)
                        continue
                    }
                    guard let paths = strings(pathsNode) else { problem("inputs.\(format) must be a list of paths", pathsNode); continue }
                    config.inputs[format, default: []] += paths
                }
            case "suppress", "suppressions":
                guard let list = value.sequence else { problem("suppress must be a list", value); continue }
                for entry in list {
                    guard let fields = entry.mapping else { problem("each suppression must be a mapping", entry); continue }
                    var rule: String?, path: String?, fingerprint: String?, reason: String?, expires: Date?
                    var valid = true
                    for (fieldNode, fieldValue) in fields {
                        switch fieldNode.string ?? "" {
                        case "rule", "ruleId": rule = fieldValue.string
                        case "path", "file": path = fieldValue.string
                        case "fingerprint": fingerprint = fieldValue.string
                        case "reason": reason = fieldValue.string
                        case "expires":
                            guard let text = fieldValue.string, let date = Profile.parseInstant(text, now: Date(timeIntervalSince1970: 0)),
                                  !text.hasPrefix("+"), !text.hasPrefix("-") else {
                                problem("expires must be a date (2027-01-31) or an RFC 3339 time", fieldValue)
                                valid = false
                                continue
                            }
                            expires = date
                        default:
                            problem("unknown suppression field '\(fieldNode.string ?? "")' (rule, path, fingerprint, reason, expires)", fieldNode)
                        }
                    }
                    guard let rule else { problem("a suppression needs `rule`", entry); continue }
                    guard let reason, !reason.isEmpty else { problem("a suppression needs a `reason`", entry); continue }
                    guard valid else { continue }
                    config.suppressions.append(Suppression(
                        ruleId: rule, path: path, fingerprint: fingerprint, reason: reason, expires: expires,
                        location: SourceLocation(file: file, line: entry.mark?.line ?? 0, column: entry.mark?.column ?? 0)))
                }
            default:
                problem("unknown setting '\(key)'", keyNode)
            }
        }
        return (config, findings)
    }

    /// The root the file asks for (`root:`), as a host path: relative to the file's directory,
    /// and inside `outer` (the command line's or CI's root) when there is one.
    public func rootPath(in outer: SourceTree) -> String? {
        root.map { outer.hostPath($0, relativeTo: directory) }
    }

    /// Resolves every path the file names under the tree's root, relative to the file's directory.
    public mutating func resolvePaths(in tree: SourceTree) {
        let directory = directory
        cdnRangesFile = cdnRangesFile.map { tree.hostPath($0, relativeTo: directory) }
        caFiles = caFiles.map { tree.hostPath($0, relativeTo: directory) }
        inputs = inputs.mapValues { $0.map { tree.hostPath($0, relativeTo: directory) } }
    }
}

extension SourceTree {
    /// Matches a whole relative path against a glob, component by component.
    public static func fnmatchPath(_ pattern: String, _ path: String) -> Bool {
        let p = pattern.split(separator: "/", omittingEmptySubsequences: false)
        let n = path.split(separator: "/", omittingEmptySubsequences: false)
        guard p.count == n.count else { return false }
        return zip(p, n).allSatisfy { fnmatch(String($0), String($1)) }
    }
}
