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
public struct ProjectConfig: Sendable {
    public var file: String?
    public var cdn: String?
    /// Resolved against the config file's directory.
    public var cdnRangesFile: String?
    public var tlsMode: TLSMode?
    public var hostnames: [String] = []
    /// `publicInterfaces:` — the interfaces the CDN's traffic arrives on (`eth0`, `eth+`).
    public var publicInterfaces: [String] = []
    public var at: String?
    public var expiryWarningDays: Double?
    public var root: String?
    public var failOn: String?
    public var disabled: Set<String> = []
    public var severityOverrides: [String: Severity] = [:]
    public var suppressions: [Suppression] = []
    /// Inputs by format (`iptables`, `ip6tables`, `nft`, `ipset`, `nginx`, `apache`, `cert`) and
    /// plain `paths`, resolved against the config file's directory.
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
        var findings: [Finding] = []
        func problem(_ message: String, _ node: Node?) {
            let mark = node?.mark
            findings.append(Finding(ruleId: "input.parse-error", message: "\(file): \(message)",
                                    location: SourceLocation(file: file, line: mark?.line ?? 1, column: mark?.column ?? 1)))
        }
        let root: Node
        do {
            guard let node = try Yams.compose(yaml: text) else { return (config, []) }
            root = node
        } catch let error as YamlError {
            var line = 1, column = 1
            if case .scanner(_, _, let mark, _) = error { line = mark.line; column = mark.column }
            if case .parser(_, _, let mark, _) = error { line = mark.line; column = mark.column }
            findings.append(Finding(ruleId: "input.parse-error", message: "\(file) is not valid YAML: \(error)",
                                    location: SourceLocation(file: file, line: line, column: column)))
            return (config, findings)
        } catch {
            problem("is not valid YAML: \(error)", nil)
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
        func resolve(_ path: String) -> String {
            path.hasPrefix("/") ? path : (directory as NSString).appendingPathComponent(path)
        }
        for (keyNode, value) in mapping {
            let key = keyNode.string ?? ""
            switch key {
            case "cdn": config.cdn = value.string
            case "cdnRanges", "cdn-ranges": config.cdnRangesFile = value.string.map(resolve)
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
            case "at": config.at = value.string
            case "expiryWarningDays": config.expiryWarningDays = value.string.flatMap(Double.init)
            case "root": config.root = value.string.map(resolve)
            case "failOn", "fail-on": config.failOn = value.string
            case "define", "defines": config.defines = strings(value) ?? []
            case "caFiles", "ca-file": config.caFiles = (strings(value) ?? []).map(resolve)
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
                    config.inputs[format, default: []] += paths.map(resolve)
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
