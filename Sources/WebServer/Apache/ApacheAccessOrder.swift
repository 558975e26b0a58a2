import OriginAuditCore

/// Rewrites Apache's access control into the ordered, first-match-wins form the shared model
/// uses (AccessRule: "rules in one scope are read in order, first match wins"):
/// - `Require` outside a group is an implicit `<RequireAny>`: any grant allows, so the grants
///   come first and a final `deny all` stands for "nothing granted" (left out when a
///   non-address provider such as `valid-user` could still grant);
/// - `<RequireAll>`: every negation denies first, then the intersection of the grants allows;
/// - `<RequireNone>`: its grants deny;
/// - `Order Deny,Allow`: Allow wins over Deny and the default is allow — so allows, denies,
///   `allow all`; `Order Allow,Deny` (and Mutual-failure): denies, allows, `deny all`.
/// Raw rules arrive as collected: `action` from the directive, `group` the enclosing
/// Require* section or "Order …", `unresolved` holding `provider:NAME` for non-address providers.
enum ApacheAccessOrder {
    static let everything = DualStackSet(ipv4: .all(.ipv4), ipv6: .all(.ipv6))

    static func ordered(_ raw: [AccessRule]) -> [AccessRule] {
        var scopes: [String?] = []
        var byScope: [String: [AccessRule]] = [:]
        for rule in raw {
            let key = rule.scope ?? ""
            if byScope[key] == nil { scopes.append(rule.scope) }
            byScope[key, default: []].append(rule)
        }
        var result: [AccessRule] = []
        for scope in scopes {
            let rules = byScope[scope ?? ""] ?? []
            let legacy = rules.filter { $0.group?.hasPrefix("Order ") == true }
            let requires = rules.filter { $0.group?.hasPrefix("Order ") != true }
            result += orderRequires(requires)
            result += orderLegacy(legacy)
        }
        return result
    }

    private static func isProvider(_ rule: AccessRule) -> Bool {
        rule.unresolved.contains { $0.hasPrefix("provider:") }
    }

    private static func orderRequires(_ rules: [AccessRule]) -> [AccessRule] {
        guard let last = rules.last else { return [] }
        var grants: [AccessRule] = [], denials: [AccessRule] = []
        var openEnded = false
        var groups: [String] = []
        var byGroup: [String: [AccessRule]] = [:]
        for rule in rules {
            let group = rule.group ?? ""
            if byGroup[group] == nil { groups.append(group) }
            byGroup[group, default: []].append(rule)
        }
        for group in groups {
            let members = byGroup[group] ?? []
            switch group.lowercased() {
            case "requireall":
                denials += members.filter { $0.action == .deny }
                let positives = members.filter { $0.action == .allow && !isProvider($0) }
                if members.contains(where: isProvider) { openEnded = true }
                if var first = positives.first {
                    for other in positives.dropFirst() {
                        for family in AddressFamily.allCases { first.sources[family].formIntersection(other.sources[family]) }
                        first.unresolved += other.unresolved
                    }
                    grants.append(first)
                }
            case "requirenone":
                for var member in members where !isProvider(member) {
                    member.action = .deny
                    denials.append(member)
                }
            default:
                for member in members {
                    if isProvider(member) { openEnded = true; continue }
                    // In a RequireAny a denial grants nothing; it does not refuse the others.
                    if member.action == .allow { grants.append(member) } else if member.sources == everything {
                        continue
                    } else {
                        denials.append(member)
                    }
                }
            }
        }
        var ordered = denials + grants
        if !openEnded {
            ordered.append(AccessRule(action: .deny, sources: everything, scope: last.scope,
                                      group: "nothing granted (implicit)", location: last.location))
        }
        return ordered.map { rule in
            var copy = rule
            copy.unresolved.removeAll { $0.hasPrefix("provider:") }
            return copy
        }
    }

    private static func orderLegacy(_ rules: [AccessRule]) -> [AccessRule] {
        guard let last = rules.last, let group = last.group else { return [] }
        let allows = rules.filter { $0.action == .allow }, denies = rules.filter { $0.action == .deny }
        if group.lowercased().contains("deny,allow") {
            return allows + denies + [AccessRule(action: .allow, sources: everything, scope: last.scope,
                                                 group: "\(group) default (implicit)", location: last.location)]
        }
        return denies + allows + [AccessRule(action: .deny, sources: everything, scope: last.scope,
                                             group: "\(group) default (implicit)", location: last.location)]
    }

    /// Drops the rules of `<Directory>` sections on the way to the document root that a deeper
    /// section on the same way replaces (httpd merges per-directory authz with AuthMerging Off:
    /// the most specific section that says something wins). `<Directory />` denying everything
    /// then no longer reads as refusing the site's visitors.
    static func prune(_ rules: [AccessRule], documentRoot: String) -> [AccessRule] {
        func directory(_ scope: String?) -> String? {
            guard let scope, scope.hasPrefix("<Directory "), scope.hasSuffix(">"),
                  scope.dropFirst(1).firstIndex(of: "<") == nil else { return nil }
            var path = String(scope.dropFirst("<Directory ".count).dropLast())
            if path.hasPrefix("\"") && path.hasSuffix("\"") && path.count >= 2 { path = String(path.dropFirst().dropLast()) }
            while path.count > 1 && path.hasSuffix("/") { path.removeLast() }
            return path
        }
        let root = documentRoot.count > 1 && documentRoot.hasSuffix("/") ? String(documentRoot.dropLast()) : documentRoot
        func onTheWay(_ path: String) -> Bool { path == "/" || root == path || root.hasPrefix(path + "/") }
        let deepest = rules.compactMap { directory($0.scope) }.filter(onTheWay).max { $0.count < $1.count }
        guard let deepest else { return rules }
        return rules.filter { rule in
            guard let path = directory(rule.scope), onTheWay(path) else { return true }
            return path == deepest
        }
    }
}
