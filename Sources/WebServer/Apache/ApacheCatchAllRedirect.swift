/// A server-level httpd redirect that answers every URL path in the URI-translation hook
/// (mod_alias's and mod_rewrite's translate_name), which runs before authorization: the host's
/// `Require` and `Allow`/`Deny` rules then decide nothing. A real Apache shows it
/// (Tests/CLITests/RealApacheTests.swift): `<Location /> Require ip <CDN>` after mod_remoteip
/// answers 403, and 301 once the vhost also says `Redirect permanent / https://…`.
/// Per-directory redirects (in `<Location>`, `<Directory>`, `<If>`) are not taken: mod_rewrite
/// runs those in the fixup hook, after authorization.
struct CatchAllRedirect {
    /// A `RewriteCond` the audit can judge for every request of a host.
    enum Condition {
        /// The connection's scheme (`%{HTTPS} off`, `%{SERVER_PORT} 443`…).
        case scheme(Redirect.Scheme)
        /// The request's host name is exactly this (certbot's `%{SERVER_NAME} =name`), `[OR]`
        /// with the next condition when `or`.
        case name(String, or: Bool)

        /// nil for a condition the audit cannot judge (a header, a file test, a scheme test
        /// joined with `[OR]`).
        init?(_ args: [String]) {
            guard args.count >= 2 else { return nil }
            let or = args.count >= 3 && CatchAllRedirect.flags(args[2]).contains { $0 == "or" || $0 == "ornext" }
            if let name = ApacheModelBuilder.exactName(test: args[0], pattern: args[1]) {
                self = .name(name, or: or)
                return
            }
            guard !or, let scheme = ApacheModelBuilder.schemeCondition(test: args[0], pattern: args[1]), scheme != .any else { return nil }
            self = .scheme(scheme)
        }
    }

    /// The connection scheme the conditions require, nil when they test none.
    var scheme: Redirect.Scheme?
    /// The host names the request's must be one of, nil when they test none.
    var names: Set<String>?

    /// A server-level `RewriteRule` with an explicit `[R]` flag whose pattern matches every URL
    /// path, under conditions the audit can judge; nil for any other rule.
    init?(rule args: [String], conditions: [Condition?]) {
        guard args.count >= 3, args[1] != "-", Self.matchesEveryPath(args[0]) else { return nil }
        let flags = Self.flags(args[2])
        // Without [R], a substitution naming this server is rewritten in place, not redirected;
        // [P] proxies (and the proxied request is authorized).
        guard flags.contains(where: { $0 == "r" || $0.hasPrefix("r=") || $0 == "redirect" || $0.hasPrefix("redirect=") }),
              !flags.contains(where: { $0 == "p" || $0 == "proxy" }) else { return nil }
        // Conditions are ANDed, except runs joined by [OR], which may only test names here.
        var group: Set<String> = []
        func close() {
            guard !group.isEmpty else { return }
            names = names.map { $0.intersection(group) } ?? group
            group = []
        }
        for condition in conditions {
            switch condition {
            case nil:
                return nil
            case .scheme(let selected):
                guard group.isEmpty, scheme == nil || scheme == selected else { return nil }
                scheme = selected
            case .name(let name, let or):
                group.insert(name)
                if !or { close() }
            }
        }
        close()
    }

    /// Whether the conditions hold for every request `host` serves: the scheme is the one of
    /// every socket it listens on, and every name it is reached by (ServerName, ServerAlias) is
    /// one the conditions accept.
    func holds(for host: VirtualHost) -> Bool {
        if let scheme {
            guard !host.listeners.isEmpty, host.listeners.allSatisfy({ ($0.tls ? Redirect.Scheme.https : .http) == scheme }) else { return false }
        }
        if let names {
            return host.names.allSatisfy { name in
                if case .exact(let exact) = name.value { names.contains(exact.lowercased()) } else { false }
            }
        }
        return true
    }

    /// Whether a mod_alias redirect answers every URL path in URI translation: at server level
    /// `Redirect [status] / URL` (a prefix match on whole segments) or
    /// `RedirectMatch [status] <catch-all regex> URL`; in `<Location />` the path-less
    /// `Redirect [status] URL`, which mod_alias also tries in URI translation (with the
    /// per-directory config of the location walk, which precedes it). A `Redirect` with a path
    /// in a section is per-directory: mod_alias runs it in the fixup hook, after authorization.
    static func alias(_ lowercasedName: String, _ args: [String], scope: String?) -> Bool {
        var rest = args
        if lowercasedName == "redirect" || lowercasedName == "redirectmatch", let first = rest.first,
           ["permanent", "temp", "seeother", "gone"].contains(first.lowercased()) || Int(first) != nil {
            rest.removeFirst()
        }
        switch scope?.lowercased() {
        case nil:
            guard rest.count >= 2 else { return false }
            return lowercasedName == "redirectmatch" ? matchesEveryPath(rest[0]) : rest[0] == "/"
        case "<location />":
            return lowercasedName != "redirectmatch" && rest.count == 1
        default:
            return false
        }
    }

    /// Regular expressions that match every URL path (which starts with "/" at server level).
    static func matchesEveryPath(_ pattern: String) -> Bool {
        let body = pattern.hasPrefix("^") ? String(pattern.dropFirst()) : pattern
        return ["", "/", "/?", ".*", ".*$", "(.*)", "(.*)$", "/.*", "/.*$", "/(.*)", "/(.*)$", "/?.*", "/?.*$",
                "/?(.*)", "/?(.*)$", "(/.*)", "(/.*)$"].contains(body)
    }

    /// A rule's or condition's `[flag,flag]`, lowercased.
    static func flags(_ text: String) -> [String] {
        text.lowercased().trimmingCharacters(in: ["[", "]"]).split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
    }
}
