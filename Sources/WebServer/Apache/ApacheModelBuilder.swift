import Foundation
import OriginAuditCore

/// Turns httpd's directive tree into the shared model: the main server's settings are merged
/// into every `<VirtualHost>` the way httpd merges server configs (a value set in the vhost
/// wins; `<Directory>`/`<Location>` sections of the main server apply to every vhost).
struct ApacheModelBuilder {
    let reader: ApacheConfigReader
    let tree: SourceTree
    let mainFile: String
    private(set) var notes: [String] = []
    private(set) var findings: [Finding] = []
    private var notedOverrides = false

    init(reader: ApacheConfigReader, mainFile: String) {
        self.reader = reader
        tree = reader.tree
        self.mainFile = mainFile
    }

    /// What one server context (main server or a vhost) writes, before merging.
    struct Settings {
        var serverName: ConfigValue<String>?
        var aliases: [ConfigValue<String>] = []
        var sslEngine: ConfigValue<String>?
        /// mod_md manages certificates here (`MDomain`, `<MDomainSet>`): a TLS host may then name none.
        var managedDomains = false
        var certificates: [ConfigPath] = []
        var keys: [ConfigPath] = []
        var chain: ConfigPath?
        var protocols: ConfigValue<[String]>?
        var ciphers: ConfigValue<String>?
        var verifyClient: ConfigValue<ClientVerification.Mode>?
        var caFile: ConfigPath?
        var remoteIPHeader: ConfigValue<String>?
        var remoteIPProxies: [ConfigValue<String>] = []
        var remoteIPLocation: SourceLocation?
        var accessRules: [AccessRule] = []
        var limiters: [Limiter] = []
        /// mod_alias redirects (a vhost inherits the main server's) and mod_rewrite ones (not
        /// inherited unless `RewriteOptions Inherit`; only active with `RewriteEngine On`).
        var redirects: [Redirect] = []
        var rewriteRedirects: [Redirect] = []
        var rewriteInherits = false
        var timeout: ConfigValue<Double>?
        var proxyTimeout: ConfigValue<Double>?
        var scopedTimeouts: [UpstreamTimeout] = []
        var keepAlive: ConfigValue<Bool>?
        var documentRoot: String?
        /// `Protocols h2 …` and `RemoteIPProxyProtocol On`, which shape the sockets.
        var http2: Bool?
        var proxyProtocol: Bool?
        var upstreams: [UpstreamTarget] = []
        var rewriteEngine = false
        /// mod_access_compat's `Order` per section (scope), "Order deny,allow" by default.
        var orders: [String: String] = [:]
        var pendingConditions: [Redirect.Scheme?] = []
        /// The pending `RewriteCond`s as `CatchAllRedirect` reads them (nil: one it cannot judge).
        var pendingCatchAllConditions: [CatchAllRedirect.Condition?] = []
        /// Redirects that answer every URL path in httpd's URI-translation hook, before
        /// authorization: a mod_alias one (server-level, or path-less in `<Location />`), and
        /// the first server-level `RewriteRule` when it is one.
        var catchAllAlias = false
        var catchAllRewrite: CatchAllRedirect?
        var serverRewriteRules = 0
        /// Server-level `ProxyPass`es (mod_proxy translates ahead of mod_alias).
        var serverProxyPasses = 0
        /// Directives that only mean something server-wide, collected in order.
        var serverWide: [ApacheDirective] = []
    }

    // MARK: - Build

    mutating func build(_ directives: [ApacheDirective]) -> WebServerConfig {
        var config = WebServerConfig(software: .apache, mainFile: mainFile)
        config.files = reader.files
        config.modules = reader.modules.map(\.value)
        for module in reader.modules where module.value == "cloudflare_module" {
            config.cdnModules.append(module)
        }

        var main = Settings()
        var virtualHostSections: [ApacheDirective] = []
        var balancers: [String: [UpstreamTarget.Endpoint]] = [:]
        collectBalancers(directives, into: &balancers)
        for directive in directives {
            if directive.isSection && directive.lowercasedName == "virtualhost" {
                virtualHostSections.append(directive)
            } else if directive.lowercasedName == "listen" {
                guard let listener = listener(directive) else { continue }
                if let earlier = config.listeners.first(where: { $0.address == listener.address && $0.port == listener.port }) {
                    findings.append(Finding(ruleId: "input.parse-error",
                                            message: "Cannot define multiple Listeners on the same IP:port (first at \(earlier.location)): httpd refuses to start",
                                            location: directive.errorLocation, key: "listen \(directive.args.first ?? "")"))
                    continue
                }
                config.listeners.append(listener)
            } else {
                collect(directive, scope: nil, group: nil, condition: nil, balancers: balancers, into: &main)
            }
        }

        let serverWide = main.serverWide
        config.connectionLimiters = connectionLimiters(serverWide)
        let perClient = requestLimiters(serverWide)

        var hosts: [VirtualHost] = []
        let mainRules = ApacheAccessOrder.ordered(main.accessRules)
        var vhostSockets: [Listener] = []
        for section in virtualHostSections {
            var own = Settings()
            for child in section.children ?? [] {
                collect(child, scope: nil, group: nil, condition: nil, balancers: balancers, into: &own)
            }
            let merged = merge(main: main, vhost: own)
            var host = virtualHost(merged, at: section.location,
                                   inheritedRules: mainRules, inheritedLimiters: main.limiters + perClient)
            host.listeners = vhostListeners(section, tls: isTLS(merged), serverListeners: config.listeners).map { listener in
                var copy = listener
                copy.http2 = merged.http2 ?? false
                copy.proxyProtocol = merged.proxyProtocol ?? false
                return copy
            }
            vhostSockets += host.listeners
            if let own = own.serverName ?? main.serverName {
                host.names = [ConfigValue(Self.serverName(own.value), at: own.location)]
            } else {
                host.names = [ConfigValue(.catchAll, at: section.location)]
            }
            host.names += own.aliases.map { ConfigValue(Self.serverName($0.value), at: $0.location) }
            // mod_rewrite translates URLs before mod_alias does.
            var written: [Redirect] = []
            if own.rewriteEngine { written += own.rewriteRedirects }
            if own.rewriteInherits && main.rewriteEngine { written += main.rewriteRedirects }
            written += own.redirects + main.redirects
            host.redirects = redirects(written, listeners: host.listeners)
            // mod_alias's server-level redirects merge into the vhost's; mod_rewrite's only run
            // with the vhost's own engine on (inherited rules come after its own).
            let inheritedRewriteRules = own.rewriteInherits && main.rewriteEngine ? main.serverRewriteRules : 0
            if answersBeforeAccess(alias: own.catchAllAlias || main.catchAllAlias, rewrite: own.rewriteEngine ? own.catchAllRewrite : nil,
                                   rewriteRules: own.rewriteEngine ? own.serverRewriteRules + inheritedRewriteRules : 0,
                                   proxyPasses: own.serverProxyPasses + main.serverProxyPasses, host: host) {
                host.answeredBeforeAccess = [""]
            }
            hosts.append(host)
        }

        // The main server answers on every Listen socket no vhost claims (and everywhere when
        // there are no vhosts): a vhost on one address leaves the port's other addresses to it.
        let unclaimed = config.listeners.filter { listen in
            !vhostSockets.contains { vhost in
                (vhost.port == nil || vhost.port == listen.port)
                    && (vhost.address == .any(nil) || vhost.address == listen.address)
            }
        }
        if virtualHostSections.isEmpty || !unclaimed.isEmpty {
            let at = main.serverName?.location ?? config.listeners.first?.location ?? SourceLocation(file: mainFile)
            var mainOnly = main
            mainOnly.accessRules = []
            var host = virtualHost(mainOnly, at: at, inheritedRules: mainRules,
                                   inheritedLimiters: perClient)
            let tls = isTLS(main)
            host.listeners = (virtualHostSections.isEmpty ? config.listeners : unclaimed).map { listener in
                // `Listen 443` names the protocol; only SSLEngine makes the main server speak TLS.
                var copy = listener
                copy.tls = tls
                copy.http2 = main.http2 ?? false
                copy.proxyProtocol = main.proxyProtocol ?? false
                return copy
            }
            host.names = main.serverName.map { [ConfigValue(Self.serverName($0.value), at: $0.location)] }
                ?? [ConfigValue(.catchAll, at: at)]
            host.names += main.aliases.map { ConfigValue(Self.serverName($0.value), at: $0.location) }
            host.redirects = redirects((main.rewriteEngine ? main.rewriteRedirects : []) + main.redirects,
                                       listeners: host.listeners)
            if answersBeforeAccess(alias: main.catchAllAlias, rewrite: main.rewriteEngine ? main.catchAllRewrite : nil,
                                   rewriteRules: main.rewriteEngine ? main.serverRewriteRules : 0,
                                   proxyPasses: main.serverProxyPasses, host: host) {
                host.answeredBeforeAccess = [""]
            }
            hosts.append(host)
        }

        markDefaultServers(&hosts)
        config.virtualHosts = hosts
        return config
    }

    /// What mod_remoteip says when it reads a proxy it cannot parse (its `proxies_set`): a value
    /// with a `:`, or only digits and dots, is an address for APR's `apr_ipsubnet_create` (a
    /// partial IPv4 network such as `10.1` only without a mask; a mask of 1 to 32/128 bits or,
    /// for IPv4, a dotted netmask); anything else is a host name, which httpd resolves at start
    /// (not judged here), and which may not carry a mask.
    static func remoteIPProxyProblem(_ arg: String, directive: String) -> String? {
        let parts = arg.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        let ip = String(parts[0])
        let mask = parts.count > 1 ? String(parts[1]) : nil
        let badIP = "RemoteIP: Error parsing IP \(arg) (The specified IP address is invalid. error) for \(directive)"
        let badMask = "RemoteIP: Error parsing IP \(arg) (The specified network mask is invalid. error) for \(directive)"
        let looksLikeIP = ip.contains(":") || ip.allSatisfy { $0 == "." || ("0"..."9").contains($0) }
        guard looksLikeIP else {
            return mask.map { "RemoteIP: Error parsing IP \(arg) the subnet /\($0) is invalid for \(directive)" }
        }
        let isV6 = ip.contains(":")
        if isV6 {
            guard presentation(ip, family: AF_INET6) else { return badIP }
        } else if mask == nil {
            // A network written by its leading octets: 1 to 4 of them, each 0-255.
            let octets = ip.split(separator: ".", omittingEmptySubsequences: false)
            guard (1...4).contains(octets.count), octets.allSatisfy({ Int($0).map { $0 <= 255 } == true }) else {
                return badIP
            }
        } else {
            guard presentation(ip, family: AF_INET) else { return badIP }
        }
        guard let mask else { return nil }
        if !mask.isEmpty, mask.allSatisfy({ ("0"..."9").contains($0) }) {
            guard let bits = Int(mask.prefix(4)), bits >= 1, bits <= (isV6 ? 128 : 32) else { return badMask }
            return nil
        }
        return !isV6 && presentation(mask, family: AF_INET) ? nil : badMask
    }

    /// Whether `inet_pton` reads `text` as an address of `family`, as APR does.
    private static func presentation(_ text: String, family: Int32) -> Bool {
        var buffer = [UInt8](repeating: 0, count: 16)
        return text.withCString { inet_pton(family, $0, &buffer) } == 1
    }

    private func isTLS(_ settings: Settings) -> Bool {
        guard let engine = settings.sslEngine?.value.lowercased() else { return false }
        return engine == "on" || engine == "optional"
    }

    static func serverName(_ text: String) -> ServerName {
        // ServerName may carry a scheme and port: `https://www.example.com:443`.
        var name = Substring(text)
        if let colon = name.firstIndex(of: ":"), name[colon...].hasPrefix("://") { name = name[name.index(colon, offsetBy: 3)...] }
        if name.hasPrefix("["), let close = name.firstIndex(of: "]") {
            name = name[name.index(after: name.startIndex)..<close]
        } else if let colon = name.lastIndex(of: ":"), name[name.index(after: colon)...].allSatisfy(\.isNumber) {
            name = name[..<colon]
        }
        if name.contains("*") || name.contains("?") { return .wildcard(String(name)) }
        return .exact(String(name))
    }

    /// The first vhost for each address:port is httpd's default for it.
    private func markDefaultServers(_ hosts: inout [VirtualHost]) {
        struct Socket: Hashable { var address: Listener.Address; var port: UInt16? }
        var seen: Set<Socket> = []
        for h in hosts.indices {
            for l in hosts[h].listeners.indices {
                let listener = hosts[h].listeners[l]
                if seen.insert(Socket(address: listener.address, port: listener.port)).inserted {
                    hosts[h].listeners[l].defaultServer = true
                }
            }
        }
    }

    // MARK: - Merge and assemble

    private func merge(main: Settings, vhost: Settings) -> Settings {
        var merged = vhost
        merged.sslEngine = vhost.sslEngine ?? main.sslEngine
        merged.managedDomains = vhost.managedDomains || main.managedDomains
        if merged.certificates.isEmpty { merged.certificates = main.certificates }
        if merged.keys.isEmpty { merged.keys = main.keys }
        merged.chain = vhost.chain ?? main.chain
        merged.protocols = vhost.protocols ?? main.protocols
        merged.ciphers = vhost.ciphers ?? main.ciphers
        merged.verifyClient = vhost.verifyClient ?? main.verifyClient
        merged.caFile = vhost.caFile ?? main.caFile
        merged.remoteIPHeader = vhost.remoteIPHeader ?? main.remoteIPHeader
        if vhost.remoteIPProxies.isEmpty { merged.remoteIPProxies = main.remoteIPProxies }
        merged.remoteIPLocation = vhost.remoteIPLocation ?? main.remoteIPLocation
        merged.timeout = vhost.timeout ?? main.timeout
        merged.proxyTimeout = vhost.proxyTimeout ?? main.proxyTimeout
        merged.keepAlive = vhost.keepAlive ?? main.keepAlive
        merged.documentRoot = vhost.documentRoot ?? main.documentRoot
        merged.http2 = vhost.http2 ?? main.http2
        merged.proxyProtocol = vhost.proxyProtocol ?? main.proxyProtocol
        return merged
    }

    private func virtualHost(_ s: Settings, at location: SourceLocation,
                             inheritedRules: [AccessRule], inheritedLimiters: [Limiter]) -> VirtualHost {
        var host = VirtualHost(software: .apache, location: location)
        if isTLS(s) || !s.certificates.isEmpty {
            var verification: ClientVerification?
            if let mode = s.verifyClient { verification = ClientVerification(mode: mode, caFile: s.caFile) }
            host.tls = TLSSettings(certificateFiles: s.certificates, keyFiles: s.keys, chainFile: s.chain,
                                   protocols: s.protocols, ciphers: s.ciphers, clientVerification: verification,
                                   certificateRequiredAt: isTLS(s) && !s.managedDomains ? s.sslEngine?.location : nil)
        }
        if let header = s.remoteIPHeader {
            host.realIP = realIP(header: header, proxies: s.remoteIPProxies, at: s.remoteIPLocation ?? header.location)
        }
        // Debian's build defaults DocumentRoot to /var/www/html.
        // A section the vhost writes for the same path replaces the main server's (httpd merges
        // per-directory authz with AuthMerging Off: the later section's rules win).
        let own = ApacheAccessOrder.ordered(s.accessRules)
        let ownScopes = Set(own.map { $0.scope ?? "" })
        let inherited = inheritedRules.filter { !ownScopes.contains($0.scope ?? "") }
        host.accessRules = ApacheAccessOrder.prune(inherited + own,
                                                   documentRoot: s.documentRoot ?? "/var/www/html")
        host.limiters = inheritedLimiters + s.limiters
        // The upstream read timeout is ProxyTimeout, which defaults to Timeout (60 s in httpd).
        // Without an upstream, Timeout only bounds client I/O: it says nothing about how long a
        // response may take, so it is not reported as an upstream timeout.
        if !s.upstreams.isEmpty {
            if let proxy = s.proxyTimeout {
                host.timeouts = [UpstreamTimeout(directive: "ProxyTimeout", seconds: proxy.value, location: proxy.location)]
            } else if let timeout = s.timeout {
                host.timeouts = [UpstreamTimeout(directive: "Timeout", seconds: timeout.value, location: timeout.location)]
            } else {
                host.timeouts = [UpstreamTimeout(directive: "Timeout", seconds: 60, isDefault: true, location: location)]
            }
            host.timeouts += s.scopedTimeouts
        }
        host.keepAlive = s.keepAlive
        host.upstreams = s.upstreams
        return host
    }

    /// A redirect's `from` is its condition when it has one, else the scheme of the sockets the
    /// host is served on.
    private func redirects(_ written: [Redirect], listeners: [Listener]) -> [Redirect] {
        let served: Redirect.Scheme
        if !listeners.isEmpty && listeners.allSatisfy(\.tls) {
            served = .https
        } else if !listeners.isEmpty && listeners.allSatisfy({ !$0.tls }) {
            served = .http
        } else {
            served = .any
        }
        return written.map { redirect in
            var copy = redirect
            if copy.from == .any { copy.from = served }
            return copy
        }
    }

    // MARK: - Collect

    private func collectBalancers(_ directives: [ApacheDirective], into balancers: inout [String: [UpstreamTarget.Endpoint]]) {
        for directive in directives {
            guard let children = directive.children else { continue }
            if directive.lowercasedName == "proxy", let url = directive.args.first, url.lowercased().hasPrefix("balancer://") {
                let name = Self.balancerName(url)
                for child in children where child.lowercasedName == "balancermember" {
                    if let member = child.args.first { balancers[name, default: []].append(endpoint(member, balancers: [:])) }
                }
            }
            collectBalancers(children, into: &balancers)
        }
        // BalancerMember may also name its balancer outside <Proxy>.
        for directive in directives where directive.lowercasedName == "balancermember" && directive.args.count >= 2 {
            if directive.args[0].lowercased().hasPrefix("balancer://") {
                balancers[Self.balancerName(directive.args[0]), default: []].append(endpoint(directive.args[1], balancers: [:]))
            }
        }
    }

    static func balancerName(_ url: String) -> String {
        let rest = url.dropFirst("balancer://".count)
        return String(rest.prefix { $0 != "/" }).lowercased()
    }

    private static func sectionScope(_ directive: ApacheDirective) -> String {
        "<\(directive.name)\(directive.args.isEmpty ? "" : " " + directive.args.joined(separator: " "))>"
    }

    /// Reads one directive (recursing into sections) into `settings`.
    /// `condition` is the connection scheme an enclosing `<If>` selects; `guardText`, an
    /// enclosing `<If>`/`<ElseIf>`/`<Else>` whose expression the audit cannot evaluate (a redirect
    /// under it may not fire on every request, so rules must not assume it does).
    private mutating func collect(_ directive: ApacheDirective, scope: String?, group: String?,
                                  condition: Redirect.Scheme?, guardText: String? = nil, balancers: [String: [UpstreamTarget.Endpoint]],
                                  into s: inout Settings) {
        let args = directive.args
        let at = directive.location
        if let children = directive.children {
            let lower = directive.lowercasedName
            if lower == "virtualhost" { return }
            if lower == "mdomainset" { s.managedDomains = true }
            let inner = scope.map { $0 + " " + Self.sectionScope(directive) } ?? Self.sectionScope(directive)
            var innerGroup = group
            var innerCondition = condition
            var innerGuard = guardText
            switch lower {
            case "requireall", "requireany", "requirenone": innerGroup = directive.name
            case "if":
                if let scheme = Self.schemeCondition(ofExpression: args.joined(separator: " ")) {
                    innerCondition = scheme
                } else {
                    innerGuard = Self.sectionScope(directive)
                }
            // What an <Else> or <ElseIf> selects depends on the <If> before it: not evaluated.
            case "elseif", "else": innerGuard = Self.sectionScope(directive)
            default: break
            }
            for child in children {
                collect(child, scope: inner, group: innerGroup, condition: innerCondition, guardText: innerGuard, balancers: balancers, into: &s)
            }
            return
        }
        let value = args.first ?? ""
        switch directive.lowercasedName {
        case "servername" where scope == nil:
            s.serverName = ConfigValue(value, at: at)
        case "serveralias" where scope == nil:
            s.aliases += args.map { ConfigValue($0, at: at) }
        case "sslengine":
            s.sslEngine = ConfigValue(value, at: at)
        case "mdomain":
            s.managedDomains = true
        case "sslcertificatefile":
            s.certificates.append(path(value, at: at))
        case "sslcertificatekeyfile":
            s.keys.append(path(value, at: at))
        case "sslcertificatechainfile":
            s.chain = path(value, at: at)
        case "sslprotocol":
            s.protocols = ConfigValue(args, at: at)
        case "sslciphersuite":
            // `SSLCipherSuite TLSv1.3 …` sets the TLS 1.3 suites; one argument (or `SSL …`) is the classic list.
            if args.count >= 2 && args[0].uppercased() != "SSL" { break }
            s.ciphers = ConfigValue(args.last ?? "", at: at)
        case "sslverifyclient":
            let mode: ClientVerification.Mode? = switch value.lowercased() {
            case "none": .off
            case "optional": .optional
            case "require": .require
            case "optional_no_ca": .optionalNoCA
            default: nil
            }
            if let mode, s.verifyClient == nil || scope == nil { s.verifyClient = ConfigValue(mode, at: at) }
        case "sslcacertificatefile":
            s.caFile = path(value, at: at)
        case "remoteipheader":
            s.remoteIPHeader = ConfigValue(value, at: at)
            if s.remoteIPLocation == nil { s.remoteIPLocation = at }
        case "remoteiptrustedproxy", "remoteipinternalproxy":
            for arg in args {
                let name = directive.lowercasedName == "remoteiptrustedproxy" ? "RemoteIPTrustedProxy" : "RemoteIPInternalProxy"
                guard let problem = Self.remoteIPProxyProblem(arg, directive: name) else { continue }
                findings.append(Finding(ruleId: "input.parse-error", message: "\(problem): httpd refuses to start",
                                        location: directive.errorLocation, key: "\(directive.lowercasedName) \(arg)"))
            }
            s.remoteIPProxies += args.map { ConfigValue($0, at: at) }
            if s.remoteIPLocation == nil { s.remoteIPLocation = at }
        case "remoteiptrustedproxylist", "remoteipinternalproxylist":
            s.remoteIPProxies += proxyList(value, at: at)
            if s.remoteIPLocation == nil { s.remoteIPLocation = at }
        case "require":
            if let rule = requireRule(args, scope: scope, group: group, at: at) { s.accessRules.append(rule) }
        case "allow", "deny":
            if let rule = legacyRule(directive.lowercasedName == "allow" ? .allow : .deny, args,
                                     scope: scope, order: s.orders[scope ?? ""] ?? "Order deny,allow", at: at) {
                s.accessRules.append(rule)
            }
        case "order":
            // Order applies to the whole section wherever it is written in it.
            let order = "Order " + args.joined(separator: " ").lowercased()
            s.orders[scope ?? ""] = order
            for index in s.accessRules.indices where s.accessRules[index].scope == scope
                && s.accessRules[index].group?.hasPrefix("Order ") == true {
                s.accessRules[index].group = order
            }
        case "maxconnperip":
            s.limiters.append(Limiter(kind: .modLimitIPConn, key: "useragent_ip", keysOnClientAddress: true,
                                      limit: "MaxConnPerIP \(value)", scope: scope, location: at))
        case "redirect", "redirectpermanent", "redirecttemp", "redirectmatch":
            if var redirect = redirect(directive, scope: scope, condition: condition) {
                redirect.condition = guardText
                s.redirects.append(redirect)
                if CatchAllRedirect.alias(directive.lowercasedName, args, scope: scope) { s.catchAllAlias = true }
            }
        case "rewriteengine":
            if value.lowercased() == "on" { s.rewriteEngine = true }
        case "rewriteoptions":
            if args.contains(where: { $0.lowercased().hasPrefix("inherit") }) { s.rewriteInherits = true }
        case "rewritecond":
            s.pendingConditions.append(args.count >= 2 ? Self.schemeCondition(test: args[0], pattern: args[1]) : nil)
            s.pendingCatchAllConditions.append(CatchAllRedirect.Condition(args))
        case "rewriterule":
            let conditions = s.pendingConditions
            s.pendingConditions = []
            if scope == nil {
                s.serverRewriteRules += 1
                if s.serverRewriteRules == 1 { s.catchAllRewrite = CatchAllRedirect(rule: args, conditions: s.pendingCatchAllConditions) }
            }
            s.pendingCatchAllConditions = []
            if var redirect = rewriteRedirect(args, conditions: conditions, scope: scope, condition: condition, at: at) {
                redirect.condition = redirect.condition ?? guardText
                s.rewriteRedirects.append(redirect)
            }
        case "timeout" where scope == nil:
            if let seconds = Double(value) { s.timeout = ConfigValue(seconds, at: at) }
        case "proxytimeout" where scope == nil:
            if let seconds = Double(value) { s.proxyTimeout = ConfigValue(seconds, at: at) }
        case "protocols" where scope == nil:
            s.http2 = args.contains { $0.lowercased() == "h2" || $0.lowercased() == "h2c" }
        case "remoteipproxyprotocol" where scope == nil:
            s.proxyProtocol = value.lowercased() == "on"
        case "allowoverride", "allowoverridelist":
            if value.lowercased() != "none", !notedOverrides {
                notedOverrides = true
                notes.append("\(at): AllowOverride \(args.joined(separator: " ")) lets .htaccess files add redirects and access rules; .htaccess files are not read")
            }
        case "documentroot" where scope == nil:
            s.documentRoot = reader.serverRootRelative(value)
        case "keepalive" where scope == nil:
            s.keepAlive = ConfigValue(value.lowercased() == "on", at: at)
        case "proxypass", "proxypassmatch":
            if scope == nil { s.serverProxyPasses += 1 }
            proxyPass(directive, scope: scope, balancers: balancers, into: &s)
        case "sethandler":
            if value.lowercased().hasPrefix("proxy:") {
                s.upstreams.append(UpstreamTarget(directive: directive.name,
                                                  endpoint: endpoint(String(value.dropFirst(6)), balancers: balancers),
                                                  scope: scope, location: at))
            }
        default:
            s.serverWide.append(directive)
        }
    }

    // MARK: - Paths

    private func path(_ raw: String, at location: SourceLocation) -> ConfigPath {
        if raw.contains("${") {
            return ConfigPath(raw: raw, hostPath: nil, unresolvedReason: "contains an undefined ${VARIABLE}", location: location)
        }
        return ConfigPath(raw: raw, hostPath: reader.hostPath(reader.serverRootRelative(raw)), location: location)
    }

    private mutating func proxyList(_ raw: String, at location: SourceLocation) -> [ConfigValue<String>] {
        let file = path(raw, at: location)
        guard let host = file.hostPath, case .success(let bytes) = tree.read(host) else {
            notes.append("\(location): the proxy list \(raw) could not be read; its addresses are unknown")
            return [ConfigValue("list:" + raw, at: location)]
        }
        var entries: [ConfigValue<String>] = []
        let display = tree.displayPath(host)
        for (number, line) in String(decoding: bytes, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let content = line.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
            for word in content.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" }) {
                entries.append(ConfigValue(String(word), at: SourceLocation(file: display, line: number + 1)))
            }
        }
        return entries
    }

    // MARK: - Listeners

    /// `Listen [address:]port [protocol]`.
    private func listener(_ directive: ApacheDirective) -> Listener? {
        guard let text = directive.args.first else { return nil }
        guard let (address, port) = Self.addressAndPort(text, defaultPort: nil), let port else { return nil }
        let proto = directive.args.count > 1 ? directive.args[1].lowercased() : (port == 443 ? "https" : "http")
        return Listener(address: address, port: port, tls: proto == "https", location: directive.location)
    }

    /// Splits `addr:port`, `[v6]:port`, `port`, `*:port`, `_default_`. A nil port is "any".
    static func addressAndPort(_ text: String, defaultPort: UInt16?) -> (Listener.Address, UInt16?)? {
        var host = text
        var portText: String?
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { return nil }
            host = String(text[text.index(after: text.startIndex)..<close])
            let rest = text[text.index(after: close)...]
            if rest.hasPrefix(":") { portText = String(rest.dropFirst()) }
        } else if text.allSatisfy(\.isNumber) {
            host = "*"
            portText = text
        } else if let colon = text.lastIndex(of: ":"), text.firstIndex(of: ":") == colon {
            host = String(text[..<colon])
            portText = String(text[text.index(after: colon)...])
        }
        var port = defaultPort
        if let portText {
            if portText == "*" { port = nil } else if let number = UInt16(portText) { port = number } else { return nil }
        }
        let address: Listener.Address
        switch host {
        case "*", "_default_": address = .any(nil)
        case "0.0.0.0": address = .any(.ipv4)
        case "::": address = .any(.ipv6)
        default:
            if let ip = IPAddress(host) { address = .ip(ip) } else { address = .hostname(host) }
        }
        return (address, port)
    }

    /// A vhost's addresses; a port-less or `*` port matches every Listen port.
    private mutating func vhostListeners(_ section: ApacheDirective, tls: Bool, serverListeners: [Listener]) -> [Listener] {
        var result: [Listener] = []
        let listenPorts = Array(Set(serverListeners.compactMap(\.port))).sorted()
        for text in section.args {
            guard let (address, port) = Self.addressAndPort(text, defaultPort: nil) else {
                findings.append(Finding(ruleId: "input.parse-error", message: "cannot read the VirtualHost address \(text)",
                                        location: section.location))
                continue
            }
            if let port {
                if !serverListeners.isEmpty && !listenPorts.contains(port) {
                    notes.append("<VirtualHost \(text)> at \(section.location): no Listen on port \(port); it receives no traffic")
                }
                result.append(Listener(address: address, port: port, tls: tls, location: section.location))
            } else if listenPorts.isEmpty {
                result.append(Listener(address: address, port: nil, tls: tls, location: section.location))
            } else {
                for listenPort in listenPorts {
                    result.append(Listener(address: address, port: listenPort, tls: tls, location: section.location))
                }
            }
        }
        return result
    }

    // MARK: - Real IP

    private func realIP(header: ConfigValue<String>, proxies: [ConfigValue<String>], at location: SourceLocation) -> RealIPSettings {
        var settings = RealIPSettings(header: header, recursive: true, location: location)
        if proxies.isEmpty {
            // mod_remoteip believes the header from every peer when no proxy is listed.
            settings.trusted = DualStackSet(ipv4: .all(.ipv4), ipv6: .all(.ipv6))
            return settings
        }
        var cidrs: [CIDR] = []
        for entry in proxies {
            if let cidr = Self.subnet(entry.value) {
                cidrs.append(cidr)
                settings.trustedEntries.append(entry)
            } else {
                settings.unresolved.append(entry)
            }
        }
        settings.trusted = DualStackSet(cidrs: cidrs)
        return settings
    }

    /// `apr_ipsubnet_create`: `a.b.c.d`, `a.b.c.d/len`, `a.b.c.d/mask`, IPv6 with `/len`, and
    /// partial IPv4 such as `10.1` (= 10.1.0.0/16).
    static func subnet(_ text: String) -> CIDR? {
        if let cidr = CIDR(text) { return cidr }
        var partial = Substring(text)
        if partial.hasSuffix(".") { partial = partial.dropLast() }
        let octets = partial.split(separator: ".", omittingEmptySubsequences: false)
        guard (1...3).contains(octets.count), octets.allSatisfy({ Int($0).map { (0...255).contains($0) } ?? false }) else { return nil }
        let padded = (octets.map(String.init) + Array(repeating: "0", count: 4 - octets.count)).joined(separator: ".")
        guard let address = IPAddress(padded) else { return nil }
        return CIDR(address: address, prefixLength: octets.count * 8)
    }

    // MARK: - Access control

    private func requireRule(_ args: [String], scope: String?, group: String?, at: SourceLocation) -> AccessRule? {
        var words = args
        var action = AccessRule.Action.allow
        if words.first?.lowercased() == "not" {
            action = .deny
            words.removeFirst()
        }
        guard let provider = words.first?.lowercased() else { return nil }
        let entries = Array(words.dropFirst())
        switch provider {
        case "all":
            let granted = entries.first?.lowercased() == "granted"
            let everything = DualStackSet(ipv4: .all(.ipv4), ipv6: .all(.ipv6))
            return AccessRule(action: granted == (action == .allow) ? .allow : .deny, sources: everything,
                              scope: scope, group: group, location: at)
        case "ip":
            var cidrs: [CIDR] = [], unresolved: [String] = []
            for entry in entries {
                if let cidr = Self.subnet(entry) { cidrs.append(cidr) } else { unresolved.append(entry) }
            }
            return AccessRule(action: action, sources: DualStackSet(cidrs: cidrs), unresolved: unresolved,
                              scope: scope, group: group, location: at)
        case "local":
            let local = [CIDR("127.0.0.0/8"), CIDR("::1/128")].compactMap { $0 }
            return AccessRule(action: action, sources: DualStackSet(cidrs: local), scope: scope, group: group, location: at)
        case "host", "forward-dns":
            return AccessRule(action: action, sources: DualStackSet(), unresolved: entries.map { "\(provider) \($0)" },
                              scope: scope, group: group, location: at)
        default:
            // valid-user, env, expr, method…: grants that do not depend on the address.
            return AccessRule(action: action, sources: DualStackSet(), unresolved: ["provider:\(provider)"],
                              scope: scope, group: group, location: at)
        }
    }

    private func legacyRule(_ action: AccessRule.Action, _ args: [String], scope: String?, order: String, at: SourceLocation) -> AccessRule? {
        guard args.first?.lowercased() == "from" else { return nil }
        var cidrs: [CIDR] = [], unresolved: [String] = []
        for entry in args.dropFirst() {
            if entry.lowercased() == "all" {
                cidrs += [CIDR("0.0.0.0/0"), CIDR("::/0")].compactMap { $0 }
            } else if let cidr = Self.subnet(entry) {
                cidrs.append(cidr)
            } else {
                unresolved.append(entry)
            }
        }
        return AccessRule(action: action, sources: DualStackSet(cidrs: cidrs), unresolved: unresolved,
                          scope: scope, group: order, location: at)
    }

    // MARK: - Limiters

    private func directives(_ list: [ApacheDirective], named name: String) -> [ApacheDirective] {
        list.filter { $0.lowercasedName == name }
    }

    private func lastValue(_ list: [ApacheDirective], _ name: String) -> ApacheDirective? {
        list.last { $0.lowercasedName == name }
    }

    /// Limiters that count TCP peers before any request is read.
    private func connectionLimiters(_ serverWide: [ApacheDirective]) -> [Limiter] {
        var result: [Limiter] = []
        let loaded = Set(reader.modules.map(\.value))
        if let module = reader.modules.first(where: { $0.value == "antiloris_module" }) {
            var exempt: [CIDR] = []
            for name in ["exemptips", "whitelistips", "localips"] {
                for d in directives(serverWide, named: name) {
                    exempt += d.args.flatMap { $0.split(separator: ",") }.compactMap { Self.subnet(String($0)) }
                }
            }
            var limits: [String] = []
            for name in ["IPReadLimit", "IPWriteLimit", "IPOtherLimit", "IPTotalLimit"] {
                if let d = lastValue(serverWide, name.lowercased()) { limits.append("\(name) \(d.args.first ?? "")") }
            }
            if limits.isEmpty { limits = ["IPReadLimit 10 (default)"] }
            let at = lastValue(serverWide, "ipreadlimit")?.location ?? module.location
            result.append(Limiter(kind: .modAntiloris, key: "connection peer", keysOnClientAddress: false,
                                  countsConnectionPeer: true, exempt: DualStackSet(cidrs: exempt),
                                  limit: limits.joined(separator: ", "), location: at))
        }
        if loaded.contains("qos_module") {
            let exempt = directives(serverWide, named: "qs_srvmaxconnexcludeip").flatMap(\.args).compactMap { Self.subnet($0) }
            for d in directives(serverWide, named: "qs_srvmaxconnperip") {
                result.append(Limiter(kind: .modQos, key: "connection peer", keysOnClientAddress: false,
                                      countsConnectionPeer: true, exempt: DualStackSet(cidrs: exempt),
                                      limit: "QS_SrvMaxConnPerIP \(d.args.joined(separator: " "))", location: d.location))
            }
        }
        return result
    }

    /// Limiters keyed on the (possibly restored) client address of each request.
    private func requestLimiters(_ serverWide: [ApacheDirective]) -> [Limiter] {
        var result: [Limiter] = []
        if let module = reader.modules.first(where: { $0.value == "evasive20_module" || $0.value == "evasive_module" }) {
            let enabled = lastValue(serverWide, "dosenabled")?.args.first?.lowercased()
            if enabled != "false" && enabled != "off" {
                func setting(_ name: String, _ fallback: String) -> String {
                    lastValue(serverWide, name.lowercased())?.args.first ?? fallback
                }
                let limit = "DOSPageCount \(setting("DOSPageCount", "2"))/\(setting("DOSPageInterval", "1"))s, "
                    + "DOSSiteCount \(setting("DOSSiteCount", "50"))/\(setting("DOSSiteInterval", "1"))s, "
                    + "DOSBlockingPeriod \(setting("DOSBlockingPeriod", "10"))s"
                let exempt = directives(serverWide, named: "doswhitelist").flatMap(\.args).compactMap(Self.wildcardSubnet)
                let at = lastValue(serverWide, "dospagecount")?.location ?? lastValue(serverWide, "dossitecount")?.location ?? module.location
                result.append(Limiter(kind: .modEvasive, key: "useragent_ip", keysOnClientAddress: true,
                                      exempt: DualStackSet(cidrs: exempt), limit: limit, location: at))
            }
        }
        if reader.modules.contains(where: { $0.value == "qos_module" }) {
            // QS_ClientIpFromHeader makes the client events count the header's address instead.
            let header = lastValue(serverWide, "qs_clientipfromheader")?.args.first
            for name in ["qs_clienteventblockcount", "qs_clienteventlimitcount", "qs_clienteventpersecLimit".lowercased()] {
                for d in directives(serverWide, named: name) {
                    result.append(Limiter(kind: .modQos, key: header.map { "header \($0)" } ?? "client address",
                                          keysOnClientAddress: header == nil,
                                          limit: "\(d.name) \(d.args.joined(separator: " "))", location: d.location))
                }
            }
        }
        if reader.modules.contains(where: { $0.value == "security2_module" }) {
            let engine = lastValue(serverWide, "secruleengine")?.args.first?.lowercased()
            for d in serverWide where ["secaction", "secrule"].contains(d.lowercasedName) {
                guard let actions = d.args.last, actions.contains("tx.dos_counter_threshold=") else { continue }
                if engine != "on" {
                    continue
                }
                result.append(Limiter(kind: .modSecurityDoS, key: "ip.REMOTE_ADDR", keysOnClientAddress: true,
                                      limit: Self.setvar(actions, "tx.dos_counter_threshold").map { "dos_counter_threshold \($0)" },
                                      location: d.location))
            }
        }
        return result
    }

    static func setvar(_ actions: String, _ name: String) -> String? {
        guard let range = actions.range(of: name + "=") else { return nil }
        return String(actions[range.upperBound...].prefix { $0.isNumber })
    }

    /// mod_evasive's whitelist: `10.*.*.*`, `192.168.0.*` (wildcards only in trailing octets).
    static func wildcardSubnet(_ text: String) -> CIDR? {
        let octets = text.split(separator: ".", omittingEmptySubsequences: false)
        guard octets.count == 4 else { return nil }
        let fixed = octets.prefix { $0 != "*" }
        guard octets.dropFirst(fixed.count).allSatisfy({ $0 == "*" }) else { return nil }
        let padded = (fixed.map(String.init) + Array(repeating: "0", count: 4 - fixed.count)).joined(separator: ".")
        guard let address = IPAddress(padded) else { return nil }
        return CIDR(address: address, prefixLength: fixed.count * 8)
    }

    // MARK: - Redirects

    /// Whether every request the host serves is answered in httpd's URI-translation hook, before
    /// authorization (so its `Require`/`Allow` rules decide nothing): mod_rewrite translates
    /// first, so its first server-level rule must be a catch-all redirect that holds for the
    /// host, or, with no server-level rules, a mod_alias catch-all does it; a server-level
    /// `ProxyPass` (which translates ahead of mod_alias) keeps the access rules counted.
    private func answersBeforeAccess(alias: Bool, rewrite: CatchAllRedirect?, rewriteRules: Int, proxyPasses: Int,
                                     host: VirtualHost) -> Bool {
        if let rewrite, rewrite.holds(for: host) { return true }
        return alias && rewriteRules == 0 && proxyPasses == 0
    }

    private func redirect(_ directive: ApacheDirective, scope: String?, condition: Redirect.Scheme?) -> Redirect? {
        var args = directive.args
        var status: Int?
        switch directive.lowercasedName {
        case "redirectpermanent": status = 301
        case "redirecttemp": status = 302
        default:
            if let first = args.first {
                switch first.lowercased() {
                case "permanent": status = 301; args.removeFirst()
                case "temp": status = 302; args.removeFirst()
                case "seeother": status = 303; args.removeFirst()
                case "gone": return nil
                default:
                    if let code = Int(first) { status = code; args.removeFirst() } else { status = 302 }
                }
            }
        }
        guard args.count >= 1 else { return nil }
        // Inside <Location>, `Redirect [status] URL` has no path argument.
        let target = args.count >= 2 ? args[1] : args[0]
        // `Redirect /old URL` answers /old and what lies under it (RedirectMatch: a regex, not modelled).
        let path = args.count >= 2 && directive.lowercasedName != "redirectmatch" && scope == nil ? args[0] : nil
        return Redirect(from: condition ?? .any, to: Self.targetScheme(target), status: status, target: target,
                        scope: scope, location: directive.location, appliesTo: path.map { .segmentPrefix($0) })
    }

    private func rewriteRedirect(_ args: [String], conditions: [Redirect.Scheme?], scope: String?,
                                 condition: Redirect.Scheme?, at: SourceLocation) -> Redirect? {
        guard args.count >= 2 else { return nil }
        let substitution = args[1]
        let flags = args.count >= 3 ? args[2].lowercased().trimmingCharacters(in: ["[", "]"]).split(separator: ",").map(String.init) : []
        let redirectFlag = flags.first { $0 == "r" || $0.hasPrefix("r=") || $0 == "redirect" || $0.hasPrefix("redirect=") }
        let lower = substitution.lowercased()
        let absolute = lower.hasPrefix("http://") || lower.hasPrefix("https://") || lower.hasPrefix("%{request_scheme}://")
        guard absolute || redirectFlag != nil else { return nil }
        var status = 302
        if let flag = redirectFlag, let eq = flag.firstIndex(of: "=") {
            let code = flag[flag.index(after: eq)...]
            status = Int(code) ?? (code == "permanent" ? 301 : 302)
        }
        // `.any` is a condition that holds for every request the vhost serves under that name
        // (certbot's `RewriteCond %{SERVER_NAME} =www.example.com [OR]`): it guards nothing.
        let guards = conditions.filter { $0 != .any }
        // A condition on the visitor's own scheme (X-Forwarded-Proto) is not the connection's.
        if guards.contains(where: { $0 == nil }) && !guards.isEmpty {
            if guards.allSatisfy({ $0 == nil }) { return nil }
        }
        let from = guards.compactMap { $0 }.first ?? condition ?? .any
        return Redirect(from: from, to: Self.targetScheme(substitution), status: status, target: substitution,
                        scope: scope, location: at)
    }

    static func targetScheme(_ target: String) -> Redirect.Scheme {
        let lower = target.lowercased()
        if lower.hasPrefix("https://") { return .https }
        if lower.hasPrefix("http://") { return .http }
        return .any
    }

    /// The scheme a `RewriteCond` selects: `.http`/`.https` for the connection's scheme, `.any` for
    /// a test that the request's own host name is one exact name (it holds for every request of
    /// the vhost under that name), nil for anything else (a guard the audit cannot evaluate).
    static func schemeCondition(test: String, pattern: String) -> Redirect.Scheme? {
        let variable = test.lowercased()
        var p = pattern.lowercased()
        var negated = false
        if p.hasPrefix("!") { negated = true; p.removeFirst() }
        if variable == "%{server_name}" || variable == "%{http_host}" {
            return exactName(test: test, pattern: pattern) == nil ? nil : .any
        }
        if p.hasPrefix("=") { p.removeFirst() }
        p = p.trimmingCharacters(in: ["^", "$"])
        var selects: Redirect.Scheme?
        switch variable {
        case "%{https}":
            if p == "on" { selects = .https } else if p == "off" { selects = .http }
        case "%{server_port}":
            if p == "443" { selects = .https } else if p == "80" { selects = .http }
        case "%{request_scheme}":
            if p == "https" { selects = .https } else if p == "http" { selects = .http }
        default:
            return nil
        }
        guard let scheme = selects else { return nil }
        return negated ? (scheme == .https ? .http : .https) : scheme
    }

    /// The one host name a `RewriteCond` on `%{SERVER_NAME}` or `%{HTTP_HOST}` requires
    /// (`=www.example.com`, `^www\.example\.com$`), lowercased; nil for any other test.
    static func exactName(test: String, pattern: String) -> String? {
        let variable = test.lowercased()
        let p = pattern.lowercased()
        guard variable == "%{server_name}" || variable == "%{http_host}", !p.hasPrefix("!") else { return nil }
        let literal = p.hasPrefix("=") ? String(p.dropFirst())
            : p.hasPrefix("^") && p.hasSuffix("$") ? String(p.dropFirst().dropLast()).replacingOccurrences(of: "\\.", with: ".") : nil
        guard let literal, !literal.isEmpty, literal.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "." || $0 == "-" }) else { return nil }
        return literal
    }

    /// The connection scheme an `<If>` expression selects; nil when it tests something else.
    static func schemeCondition(ofExpression expression: String) -> Redirect.Scheme? {
        let e = expression.lowercased().replacingOccurrences(of: " ", with: "").replacingOccurrences(of: "\"", with: "'")
        if e.contains("%{https}!='on'") || e.contains("%{https}=='off'")
            || e.contains("%{request_scheme}=='http'") || e.contains("%{server_port}=='80'") || e.contains("!-n%{https}") {
            return .http
        }
        if e.contains("%{https}=='on'") || e.contains("%{request_scheme}=='https'") || e.contains("%{server_port}=='443'") {
            return .https
        }
        return nil
    }

    // MARK: - Upstreams

    private func proxyPass(_ directive: ApacheDirective, scope: String?, balancers: [String: [UpstreamTarget.Endpoint]],
                           into s: inout Settings) {
        let args = directive.args
        // In <Location>, ProxyPass omits the path: `ProxyPass URL [key=value]`.
        let urlIndex = (scope != nil && args.count >= 1 && (args.count == 1 || args[1].contains("="))) ? 0 : 1
        guard args.count > urlIndex else { return }
        let url = args[urlIndex]
        if url == "!" { return }
        s.upstreams.append(UpstreamTarget(directive: directive.name, endpoint: endpoint(url, balancers: balancers),
                                          scope: scope ?? args.first, location: directive.location))
        for parameter in args.dropFirst(urlIndex + 1) where parameter.lowercased().hasPrefix("timeout=") {
            if let seconds = Double(parameter.dropFirst(8)) {
                s.scopedTimeouts.append(UpstreamTimeout(directive: "ProxyPass timeout", seconds: seconds,
                                                        scope: scope ?? args.first, location: directive.location))
            }
        }
    }

    /// `http://host:port/…`, `unix:/path|fcgi://…`, `balancer://name/…`, `fcgi://host:port/`.
    func endpoint(_ url: String, balancers: [String: [UpstreamTarget.Endpoint]]) -> UpstreamTarget.Endpoint {
        if url.contains("${") || url.contains("$") && !url.contains("://") { return .unresolved(url) }
        let lower = url.lowercased()
        if lower.hasPrefix("unix:") {
            let socket = url.dropFirst(5).prefix { $0 != "|" }
            return .unix(String(socket))
        }
        if lower.hasPrefix("balancer://") {
            let name = Self.balancerName(url)
            return .group(name, members: balancers[name] ?? [])
        }
        guard let schemeEnd = url.range(of: "://") else { return .unresolved(url) }
        let scheme = lower[..<schemeEnd.lowerBound]
        let defaultPort: UInt16 = switch scheme {
        case "https", "wss", "h2": 443
        case "fcgi": 8000
        case "ajp": 8009
        case "scgi": 4000
        case "uwsgi": 3031
        default: 80
        }
        let authority = url[schemeEnd.upperBound...].prefix { $0 != "/" && $0 != "?" }
        var host = String(authority)
        var port = defaultPort
        if host.hasPrefix("["), let close = host.firstIndex(of: "]") {
            let rest = host[host.index(after: close)...]
            if rest.hasPrefix(":"), let p = UInt16(rest.dropFirst()) { port = p }
            host = String(host[host.index(after: host.startIndex)..<close])
        } else if let colon = host.lastIndex(of: ":") {
            guard let p = UInt16(host[host.index(after: colon)...]) else { return .unresolved(url) }
            port = p
            host = String(host[..<colon])
        }
        if host.isEmpty { return .unresolved(url) }
        return .tcp(host: host, port: port)
    }
}
