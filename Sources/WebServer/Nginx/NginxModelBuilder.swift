import OriginAuditCore

/// Builds the shared web-server model from an nginx directive tree, inheriting as nginx merges
/// configurations: http → server → location (→ nested location, `if`, `limit_except`). Values set
/// anywhere in a level count for the whole level (nginx merges after reading the block), and a
/// level that sets any element of a list directive (`allow`/`deny`, `set_real_ip_from`,
/// `limit_req`, `limit_conn`, `ssl_certificate`) replaces the inherited list.
struct NginxModelBuilder: Sendable {
    let config: NginxConfigTree
    let sourceTree: SourceTree
    private(set) var findings: [Finding] = []
    private(set) var notes: [String] = []
    private var reported = Set<String>()

    init(config: NginxConfigTree, sourceTree: SourceTree) {
        self.config = config
        self.sourceTree = sourceTree
    }

    /// How deep an include chain is followed. nginx sets no limit of its own (a 10,000-deep chain
    /// passes `nginx -t`), but it keeps every file of the chain open, so under the usual limit of
    /// 1,024 open files it fails near 1,018 levels with "Too many open files". Deeper than this,
    /// whether nginx starts depends on the host's limit: said as unresolved, not as an error.
    static let maxIncludeDepth = 1000
    /// The `*_read_timeout` that bounds a `*_pass` (nil for any other directive).
    static func readTimeoutDirective(of pass: NginxName) -> String? {
        switch pass {
        case .proxyPass: NginxName.proxyReadTimeout.spelling
        case .fastcgiPass: NginxName.fastcgiReadTimeout.spelling
        case .uwsgiPass: NginxName.uwsgiReadTimeout.spelling
        case .grpcPass: NginxName.grpcReadTimeout.spelling
        default: nil
        }
    }
    /// nginx's default for every `*_read_timeout`.
    static let defaultReadTimeout = 60.0

    // MARK: - Walking with includes expanded

    /// A directive reached through a chain of included files (for cycle detection).
    struct Item: Sendable {
        var directive: NginxDirective
        var chain: [Int]
    }

    /// The directives of one level with `include`s replaced by the included files' directives, in
    /// nginx's order. A file that includes itself (directly or not) is reported once and not entered.
    mutating func expand(_ directives: NginxChildren?, chain: [Int]) -> [Item] {
        guard let directives else { return [] }
        var items: [Item] = []
        items.reserveCapacity(directives.count)
        for directive in directives {
            guard directive.kind == .include, let included = directive.includes else {
                items.append(Item(directive: directive, chain: chain))
                continue
            }
            for file in included {
                if chain.contains(file) {
                    report(Finding(ruleId: "input.parse-error",
                                   message: "nginx: include \"\(directive.values.first ?? "")\" includes \(config.files[file].display) again from inside itself: nginx recurses until it crashes and does not start",
                                   location: config.location(of: directive), key: "include cycle \(config.files[file].path)"))
                    continue
                }
                if chain.count >= NginxModelBuilder.maxIncludeDepth {
                    report(Finding(ruleId: "input.unresolved",
                                   message: "nginx: includes are nested more than \(NginxModelBuilder.maxIncludeDepth) deep; nginx has no limit of its own but keeps each file of the chain open, so whether it starts depends on its open-file limit (under the common 1,024 it fails with \"Too many open files\"); \(config.files[file].display) and what it includes were not audited",
                                   location: config.location(of: directive), key: "include depth \(config.files[file].path)"))
                    continue
                }
                items += expand(config.files[file].topLevel, chain: chain + [file])
            }
        }
        return items
    }

    private mutating func report(_ finding: Finding) {
        let identity = "\(finding.ruleId)|\(finding.location?.description ?? "")|\(finding.message)"
        if reported.insert(identity).inserted { findings.append(finding) }
    }

    private mutating func note(_ text: String) {
        if !notes.contains(text) { notes.append(text) }
    }

    // MARK: - Settings of one level

    /// What one level (http, server, location, …) sets itself; nil where it sets nothing.
    struct Settings: Sendable {
        var access: [AccessRule]?
        var limitReq: [Limiter]?
        var limitConn: [Limiter]?
        /// At most one per `*_read_timeout` directive: a list of up to four, searched by name
        /// (a dictionary per level cost more to make and merge than the search saves).
        var readTimeouts: [UpstreamTimeout] = []
        /// What the model takes from http's and servers' levels only (real IP, keep-alive, TLS),
        /// out of line and nil where the level sets none of it: a location's Settings is then a
        /// few words to make, merge and drop, not every field of a server's.
        var server: ServerLevel? {
            get { box?.value }
            set { box = newValue.map(Box.init) }
        }
        private var box: Box?
        /// Nothing set at this level: inheriting is the parent's settings as they are.
        var isEmpty = true

        private final class Box: Sendable {
            let value: ServerLevel
            init(_ value: ServerLevel) { self.value = value }
        }

        /// This level's values, the parent's where this level sets none.
        func inheriting(from parent: Settings) -> Settings {
            if isEmpty { return parent }
            var merged = self
            merged.access = access ?? parent.access
            merged.limitReq = limitReq ?? parent.limitReq
            merged.limitConn = limitConn ?? parent.limitConn
            merged.readTimeouts = NginxModelBuilder.merged(parent.readTimeouts, readTimeouts)
            switch (box, parent.box) {
            case (nil, let inherited): merged.box = inherited
            case (let own?, let inherited?): merged.box = Box(own.value.inheriting(from: inherited.value))
            case (_?, nil): break
            }
            return merged
        }
    }

    /// The settings of `Settings.server`.
    struct ServerLevel: Sendable {
        var realIPFrom: [ConfigValue<String>]?
        var realIPHeader: ConfigValue<String>?
        var realIPRecursive: ConfigValue<Bool>?
        var keepAlive: ConfigValue<Bool>?
        var certificates: [ConfigPath]?
        var keys: [ConfigPath]?
        var protocols: ConfigValue<[String]>?
        var ciphers: ConfigValue<String>?
        var verifyClient: ConfigValue<ClientVerification.Mode>?
        var clientCertificate: ConfigPath?
        var sslOn: Bool?
        var rejectHandshake: Bool?
        var http2On: Bool?

        /// This level's values, the parent's where this level sets none.
        func inheriting(from parent: ServerLevel) -> ServerLevel {
            var merged = self
            merged.realIPFrom = realIPFrom ?? parent.realIPFrom
            merged.realIPHeader = realIPHeader ?? parent.realIPHeader
            merged.realIPRecursive = realIPRecursive ?? parent.realIPRecursive
            merged.keepAlive = keepAlive ?? parent.keepAlive
            merged.certificates = certificates ?? parent.certificates
            merged.keys = keys ?? parent.keys
            merged.protocols = protocols ?? parent.protocols
            merged.ciphers = ciphers ?? parent.ciphers
            merged.verifyClient = verifyClient ?? parent.verifyClient
            merged.clientCertificate = clientCertificate ?? parent.clientCertificate
            merged.sslOn = sslOn ?? parent.sslOn
            merged.rejectHandshake = rejectHandshake ?? parent.rejectHandshake
            merged.http2On = http2On ?? parent.http2On
            return merged
        }
    }

    /// A level's read timeouts over its parent's: the level's own where it sets the directive.
    static func merged(_ parent: [UpstreamTimeout], _ own: [UpstreamTimeout]) -> [UpstreamTimeout] {
        if own.isEmpty { return parent }
        var merged = parent
        for timeout in own { set(timeout, in: &merged) }
        return merged
    }

    /// Sets a timeout in a level's list, replacing one of the same directive.
    static func set(_ timeout: UpstreamTimeout, in list: inout [UpstreamTimeout]) {
        if let index = list.firstIndex(where: { $0.directive == timeout.directive }) { list[index] = timeout } else { list.append(timeout) }
    }

    /// The directives `settings(of:)` reads; others are skipped before any work.
    static let settingDirectives: Set<String> = [
        "allow", "deny", "set_real_ip_from", "real_ip_header", "real_ip_recursive", "limit_req", "limit_conn",
        "proxy_read_timeout", "fastcgi_read_timeout", "uwsgi_read_timeout", "grpc_read_timeout", "keepalive_timeout",
        "ssl_certificate", "ssl_certificate_key", "ssl_protocols", "ssl_ciphers", "ssl_verify_client",
        "ssl_client_certificate", "ssl", "ssl_reject_handshake", "http2",
    ]
    /// The directives `walk` acts on.
    static let walkedDirectives: Set<String> = [
        "return", "rewrite", "proxy_pass", "fastcgi_pass", "uwsgi_pass", "grpc_pass", "location", "if", "limit_except",
    ]
    /// Address lists repeat across servers (`allow 10.0.0.0/8` everywhere): parse each text once.
    private var addressCache: [String: DualStackSet?] = [:]

    private mutating func addresses(_ text: String) -> DualStackSet? {
        if let cached = addressCache[text] { return cached }
        let parsed = NginxValues.addresses(text)
        addressCache[text] = parsed
        return parsed
    }

    /// `*_pass` targets repeat across servers (`proxy_pass http://app_backend` in every one): each read once.
    /// Keyed by everything `passEndpoint` is given besides the groups (known before any server is built).
    private struct PassTarget: Hashable { let directive: String; let target: String }
    private var endpointCache: [PassTarget: UpstreamTarget.Endpoint] = [:]

    private mutating func endpoint(_ directive: String, _ target: String) -> UpstreamTarget.Endpoint {
        let key = PassTarget(directive: directive, target: target)
        if let cached = endpointCache[key] { return cached }
        let endpoint = NginxValues.passEndpoint(directive, target, groups: groups)
        endpointCache[key] = endpoint
        return endpoint
    }

    /// Rate-limit zones declared at http level: name → key.
    private var zones: [String: String] = [:]
    /// Each zone's key with what `zoneKey` says of it: one look-up per limiter.
    private var zoneKeys: [String: (key: String, keysOnClient: Bool, exempt: DualStackSet)] = [:]
    private var groups: [String: [UpstreamTarget.Endpoint]] = [:]

    /// Reads the settings one level sets with its own (non-block) directives.
    mutating func settings(of items: [Item], scope: String?) -> Settings {
        var settings = Settings()
        var server = ServerLevel(), setsServer = false
        let traits = NginxNameTable.shared.traits
        for item in items where !item.directive.node.hasBlock && traits[Int(item.directive.nameNumber)].contains(.setting) {
            settings.isEmpty = false
            let directive = item.directive
            let first = directive.value(0)
            let location = config.location(of: directive)
            switch directive.kind {
            case .allow, .deny:
                guard let source = first else { continue }
                let action: AccessRule.Action = directive.kind == .allow ? .allow : .deny
                let set = addresses(source)
                append(to: &settings.access, AccessRule(
                    action: action, sources: set ?? DualStackSet(), unresolved: set == nil ? [source] : [],
                    scope: scope, location: location))
            case .setRealIPFrom:
                guard let source = first else { continue }
                setsServer = true
                append(to: &server.realIPFrom, ConfigValue(source, at: location))
            case .realIPHeader:
                setsServer = true
                if let header = first { server.realIPHeader = ConfigValue(header, at: location) }
            case .realIPRecursive:
                setsServer = true
                server.realIPRecursive = ConfigValue(first?.lowercased() == "on", at: location)
            case .limitReq:
                let zone = directive.argument(after: "zone=").map(String.init) ?? ""
                append(to: &settings.limitReq, limiter(.nginxLimitReq, zone: zone, directive: directive, scope: scope, at: location))
            case .limitConn:
                guard let zone = first else { continue }
                append(to: &settings.limitConn, limiter(.nginxLimitConn, zone: zone, directive: directive, scope: scope, at: location))
            case .proxyReadTimeout, .fastcgiReadTimeout, .uwsgiReadTimeout, .grpcReadTimeout:
                guard let text = first, let seconds = NginxValues.seconds(text) else { continue }
                NginxModelBuilder.set(UpstreamTimeout(directive: directive.name, seconds: seconds, scope: scope, location: location),
                                      in: &settings.readTimeouts)
            case .keepaliveTimeout:
                setsServer = true
                guard let text = first, let seconds = NginxValues.seconds(text) else { continue }
                server.keepAlive = ConfigValue(seconds > 0, at: location)
            case .sslCertificate:
                setsServer = true
                guard let raw = first else { continue }
                append(to: &server.certificates, path(raw, at: location, what: "certificate"))
            case .sslCertificateKey:
                setsServer = true
                guard let raw = first else { continue }
                append(to: &server.keys, path(raw, at: location, what: "key"))
            case .sslProtocols:
                setsServer = true
                server.protocols = ConfigValue(directive.values, at: location)
            case .sslCiphers:
                setsServer = true
                if let ciphers = first { server.ciphers = ConfigValue(ciphers, at: location) }
            case .sslVerifyClient:
                setsServer = true
                let word = first?.lowercased()
                if let mode = word == "on" ? .require : word.flatMap({ ClientVerification.Mode(rawValue: $0) }) {
                    server.verifyClient = ConfigValue(mode, at: location)
                }
            case .sslClientCertificate:
                setsServer = true
                if let raw = first { server.clientCertificate = path(raw, at: location, what: "client CA") }
            case .ssl:
                setsServer = true
                server.sslOn = first?.lowercased() == "on"
            case .sslRejectHandshake:
                setsServer = true
                server.rejectHandshake = first?.lowercased() == "on"
            case .http2:
                setsServer = true
                server.http2On = first?.lowercased() == "on"
            default:
                break
            }
        }
        if setsServer { settings.server = server }
        return settings
    }

    /// Adds one element to a level's list, which the level then sets.
    private func append<Element>(to list: inout [Element]?, _ element: Element) {
        if list == nil { list = [element] } else { list!.append(element) }
    }

    private func limiter(_ kind: Limiter.Kind, zone: String, directive: NginxDirective, scope: String?, at location: SourceLocation) -> Limiter {
        let (key, keysOnClient, exempt) = zoneKeys[zone] ?? ("", false, DualStackSet())
        let limit = directive.joinedWords(from: kind == .nginxLimitConn ? 1 : 0)
        return Limiter(kind: kind, key: key, keysOnClientAddress: keysOnClient, exempt: exempt, limit: limit, scope: scope, location: location)
    }

    /// A `map` block: source variable, entries, default value.
    struct MapBlock: Sendable {
        var source: String
        var entries: [String: String]
        var defaultValue: String
    }

    /// A `geo` block: the value for every address, longest prefix first (nginx's lookup).
    struct GeoBlock: Sendable {
        var defaultValue: String
        var entries: [(cidr: CIDR, value: String)]
    }

    /// Whether a zone key counts per client address, and which addresses get an empty key (nginx
    /// does not count an empty key): the documented allow-list pattern
    /// `geo $limited { default 1; 173.245.48.0/20 0; }` + `map $limited $key { 0 ""; 1 $binary_remote_addr; }`.
    static func zoneKey(_ key: String, maps: [String: MapBlock], geos: [String: GeoBlock]) -> (keysOnClient: Bool, exempt: DualStackSet) {
        func onClient(_ text: String) -> Bool { text.contains("$binary_remote_addr") || text.contains("$remote_addr") }
        if onClient(key) { return (true, DualStackSet()) }
        guard key.hasPrefix("$"), let map = maps[String(key.dropFirst())] else { return (false, DualStackSet()) }
        let keysOnClient = onClient(map.defaultValue) || map.entries.values.contains(where: onClient)
        guard map.source.hasPrefix("$"), let geo = geos[String(map.source.dropFirst())] else { return (keysOnClient, DualStackSet()) }
        func mapped(_ value: String) -> String { map.entries[value] ?? map.defaultValue }
        var exempt = DualStackSet()
        if mapped(geo.defaultValue).isEmpty { exempt = DualStackSet(ipv4: .all(.ipv4), ipv6: .all(.ipv6)) }
        // Wider prefixes first, so narrower ones override them as the longest match does.
        for entry in geo.entries.sorted(by: { $0.cidr.prefixLength < $1.cidr.prefixLength }) {
            let set = DualStackSet(cidrs: [entry.cidr])
            if mapped(entry.value).isEmpty {
                exempt.ipv4.formUnion(set.ipv4); exempt.ipv6.formUnion(set.ipv6)
            } else {
                exempt.ipv4.subtract(set.ipv4); exempt.ipv6.subtract(set.ipv6)
            }
        }
        return (keysOnClient, exempt)
    }

    /// A file path as nginx resolves it (relative to the conf prefix); variables and inline
    /// `data:` cannot be known statically.
    private mutating func path(_ raw: String, at location: SourceLocation, what: String) -> ConfigPath {
        var reason: String?
        if NginxValues.hasVariable(raw) {
            reason = "the \(what) path contains a variable: nginx chooses the file per connection"
        } else if raw.hasPrefix("data:") {
            reason = "the \(what) is given inline (data:), not as a file"
        } else if raw.hasPrefix("engine:") {
            reason = "the \(what) comes from an OpenSSL engine"
        }
        if let reason {
            report(Finding(ruleId: "input.unresolved", message: "\(raw): \(reason)", location: location, key: raw))
            return ConfigPath(raw: raw, hostPath: nil, unresolvedReason: reason, location: location)
        }
        let host = raw.hasPrefix("/") ? sourceTree.hostPath(raw) : sourceTree.hostPath(raw, relativeTo: config.prefix)
        return ConfigPath(raw: raw, hostPath: host, location: location)
    }

    // MARK: - The configuration

    /// What the servers are built from once the http level is read: its settings, the zones and
    /// upstream groups (in the builder), and the `server {}` items in order.
    struct ServerPlan: Sendable {
        var model: WebServerConfig
        var servers: [Item] = []
        var http = Settings()
        var httpRealIP: RealIPSettings?
    }

    /// Some servers, built on one copy of the builder, with what building them reported and what
    /// their listeners say of each socket. Their listeners are settled and TLS read by `settle`,
    /// once every server's sockets are known.
    struct BuiltServers: Sendable {
        var hosts: [(host: VirtualHost, settings: Settings)]
        var findings: [Finding]
        var notes: [String]
        var sockets: [Socket: SocketUse]
    }

    /// A listening socket: nginx configures it once for all servers on it.
    struct Socket: Hashable, Sendable {
        var address: Listener.Address
        var port: UInt16?
        var quic: Bool

        init(_ listener: Listener) {
            address = listener.address
            port = listener.port
            quic = listener.quic
        }
    }

    /// What the listeners of every server on one socket say.
    struct SocketUse: Sendable {
        var tls = false, http2 = false, proxyProtocol = false, hasDefault = false
        /// The first chunk of servers with a listener on the socket: its first such listener is
        /// the default server where no listener says `default_server`.
        var firstChunk = Int.max

        mutating func add(_ listener: Listener) {
            tls = tls || listener.tls
            http2 = http2 || listener.http2
            proxyProtocol = proxyProtocol || listener.proxyProtocol
            hasDefault = hasDefault || listener.defaultServer
        }

        mutating func merge(_ other: SocketUse, chunk: Int) {
            tls = tls || other.tls
            http2 = http2 || other.http2
            proxyProtocol = proxyProtocol || other.proxyProtocol
            hasDefault = hasDefault || other.hasDefault
            firstChunk = min(firstChunk, chunk)
        }
    }

    /// Servers with their listeners settled and TLS read, and what building them reported.
    struct SettledServers: Sendable {
        var hosts: [VirtualHost]
        var findings: [Finding]
        var notes: [String]
    }

    /// Reads everything servers depend on: the main file's top level, http's own level, zones,
    /// maps, geos and upstream groups. `fragment` is true for a fragment read as if inside `http {}`.
    /// The servers are then independent: `servers(_:of:)` builds any range of them, on any thread.
    mutating func plan(mainFile: String, fragment: Bool) -> ServerPlan {
        var model = WebServerConfig(software: .nginx, mainFile: mainFile)
        guard let main = config.files.first, main.isRead else { return ServerPlan(model: model) }
        let top = expand(main.topLevel, chain: [0])
        var httpItems: [Item] = []
        var maps: [String: MapBlock] = [:], geos: [String: GeoBlock] = [:]
        // A "fragment" that has its own http {} is a whole configuration after all.
        if fragment && !top.contains(where: { $0.directive.kind == .http }) {
            httpItems = top
        } else {
            for item in top {
                switch item.directive.kind {
                case .http: httpItems += expand(item.directive.children, chain: item.chain)
                case .loadModule: model.modules += item.directive.values
                case .stream, .mail:
                    let servers = expand(item.directive.children, chain: item.chain).filter { $0.directive.kind == .server }.count
                    note("nginx \(item.directive.name) {} (\(servers) server block\(servers == 1 ? "" : "s")) is not modelled: only http {} virtual hosts are analysed")
                default: break
                }
            }
        }
        // Zones and upstream groups first: servers anywhere in http may name them.
        for item in httpItems {
            let directive = item.directive
            switch directive.kind {
            case .limitReqZone, .limitConnZone:
                let values = directive.values
                guard let zone = values.first(where: { $0.hasPrefix("zone=") }) else { continue }
                let name = String(zone.dropFirst(5).prefix { $0 != ":" })
                zones[name] = values.first { !$0.hasPrefix("zone=") && !$0.hasPrefix("rate=") && $0 != "sync" } ?? ""
            case .map:
                let values = directive.values
                guard values.count == 2 else { continue }
                var block = MapBlock(source: values[0], entries: [:], defaultValue: "")
                for entry in expand(directive.children, chain: item.chain) {
                    guard let value = entry.directive.value(0) else { continue }
                    if entry.directive.kind == .default { block.defaultValue = value } else { block.entries[entry.directive.name] = value }
                }
                maps[String(values[1].dropFirst())] = block
            case .geo:
                let values = directive.values
                guard let variable = values.last, values.count <= 2 else { continue }
                var block = GeoBlock(defaultValue: "", entries: [])
                for entry in expand(directive.children, chain: item.chain) {
                    guard let value = entry.directive.value(0) else { continue }
                    if entry.directive.kind == .default {
                        block.defaultValue = value
                    } else if let cidr = CIDR(entry.directive.name) {
                        block.entries.append((cidr, value))
                    }
                }
                geos[String(variable.dropFirst())] = block
            case .upstream:
                guard let name = directive.values.first else { continue }
                let members = expand(directive.children, chain: item.chain).filter { $0.directive.kind == .server }
                groups[name] = members.compactMap { $0.directive.values.first.map(NginxValues.upstreamMember) }
            default: break
            }
        }
        for (zone, key) in zones {
            let (keysOnClient, exempt) = NginxModelBuilder.zoneKey(key, maps: maps, geos: geos)
            zoneKeys[zone] = (key, keysOnClient, exempt)
        }
        let http = settings(of: httpItems, scope: nil)
        let httpRealIP = realIP(http.server)
        let servers = httpItems.filter { $0.directive.kind == .server && $0.directive.node.hasBlock }
        return ServerPlan(model: model, servers: servers, http: http, httpRealIP: httpRealIP)
    }

    /// Builds `plan.servers[range]` on a copy of this (planned) builder.
    func servers(_ range: Range<Int>, of plan: ServerPlan) -> BuiltServers {
        var local = self
        local.findings = []
        local.notes = []
        let hosts = plan.servers[range].map { local.virtualHost($0, http: plan.http, httpRealIP: plan.httpRealIP) }
        var sockets: [Socket: SocketUse] = [:]
        for (host, _) in hosts {
            for listener in host.listeners { sockets[Socket(listener), default: SocketUse()].add(listener) }
        }
        return BuiltServers(hosts: hosts, findings: local.findings, notes: local.notes, sockets: sockets)
    }

    /// What every server's listeners say of each socket, from the chunks' own (given in server order).
    static func sockets(_ chunks: [[Socket: SocketUse]]) -> [Socket: SocketUse] {
        var all: [Socket: SocketUse] = [:]
        for (chunk, sockets) in chunks.enumerated() {
            for (socket, use) in sockets {
                all[socket, default: SocketUse()].merge(use, chunk: chunk)
            }
        }
        return all
    }

    /// nginx configures a listening socket once for all servers on it: `ssl`, `http2` and
    /// `proxy_protocol` on one server's `listen` apply to every server on that address:port, and
    /// the first server listed is the default where none says `default_server`. Then each
    /// server's TLS, which exists where its (settled) listeners speak TLS. `chunk` is the
    /// position of `built` among the chunks `sockets` was made from.
    /// `built` is changed in place (its hosts are its own: not copied to be changed).
    func settle(_ built: inout BuiltServers, chunk: Int, sockets: [Socket: SocketUse]) -> SettledServers {
        var seen = Set<Socket>()
        var hosts: [VirtualHost] = []
        hosts.reserveCapacity(built.hosts.count)
        for index in built.hosts.indices {
            let demand = built.hosts[index].host.listeners.first { $0.tls && !$0.quic }?.location
            NginxModelBuilder.settle(&built.hosts[index].host.listeners, chunk: chunk, sockets: sockets, seen: &seen)
            built.hosts[index].host.tls = tls(for: built.hosts[index].host, built.hosts[index].settings, certificateDemand: demand)
            hosts.append(built.hosts[index].host)
        }
        return SettledServers(hosts: hosts, findings: built.findings, notes: built.notes)
    }

    private static func settle(_ listeners: inout [Listener], chunk: Int, sockets: [Socket: SocketUse], seen: inout Set<Socket>) {
        for index in listeners.indices {
            let socket = Socket(listeners[index])
            guard let use = sockets[socket] else { continue }
            listeners[index].tls = listeners[index].tls || use.tls
            listeners[index].http2 = listeners[index].http2 || use.http2
            listeners[index].proxyProtocol = listeners[index].proxyProtocol || use.proxyProtocol
            if !use.hasDefault && use.firstChunk == chunk && seen.insert(socket).inserted { listeners[index].defaultServer = true }
        }
    }

    /// The model from every server settled, given in server order: findings and notes merged in that order.
    mutating func finish(_ plan: ServerPlan, settled: [SettledServers]) -> WebServerConfig {
        var model = plan.model
        model.virtualHosts.reserveCapacity(plan.servers.count)
        for part in settled {
            model.virtualHosts += part.hosts
            part.findings.forEach { report($0) }
            part.notes.forEach { note($0) }
        }
        return model
    }

    /// One `server {}`: its names and listeners, what it inherits, and everything its locations do.
    private mutating func virtualHost(_ item: Item, http: Settings, httpRealIP: RealIPSettings?) -> (host: VirtualHost, settings: Settings) {
        let server = item.directive
        let items = expand(server.children, chain: item.chain)
        let own = settings(of: items, scope: nil)
        let effective = own.inheriting(from: http)
        let location = config.location(of: server)
        var host = VirtualHost(software: .nginx, location: location)

        for item in items where item.directive.kind == .serverName || item.directive.kind == .listen {
            let directive = item.directive
            let at = config.location(of: directive)
            switch directive.kind {
            case .serverName:
                for word in directive.values {
                    if word == "$hostname" {
                        note("server_name $hostname names the machine's own hostname, which is not known statically")
                        continue
                    }
                    host.names += NginxValues.serverNames(word).map { ConfigValue($0, at: at) }
                }
            case .listen:
                if let listener = listener(directive, at: at) { host.listeners.append(listener) }
            default: break
            }
        }
        if host.listeners.isEmpty {
            // nginx listens on *:80 when a server has no listen (*:8000 when not started as root).
            host.listeners = [Listener(address: .any(.ipv4), port: 80, location: location)]
        }
        if effective.server?.sslOn == true { for i in host.listeners.indices where host.listeners[i].port != nil { host.listeners[i].tls = true } }
        if effective.server?.http2On == true { for i in host.listeners.indices { host.listeners[i].http2 = true } }

        let ownRealIP = own.server.map { $0.realIPFrom != nil || $0.realIPHeader != nil || $0.realIPRecursive != nil } ?? false
        host.realIP = ownRealIP ? realIP(effective.server) : httpRealIP
        host.keepAlive = effective.server?.keepAlive
        // http's and the server's own levels are read with no scope: their rules and limiters have none.
        host.accessRules = effective.access ?? []
        host.limiters = (effective.limitReq ?? []) + (effective.limitConn ?? [])

        let arrival = NginxModelBuilder.arrivalScheme(host.listeners)
        walk(items, scope: nil, readTimeouts: effective.readTimeouts, arrival: arrival, condition: nil, host: &host)
        host.answeredBeforeAccess = NginxModelBuilder.answeredBeforeAccess(items)
        return (host, effective)
    }

    /// How a `location` (or `limit_except`) block is named in scopes: `location = /old`.
    static func scopeLabel(_ directive: NginxDirective) -> String {
        directive.joinedWords(from: 0, withName: true)
    }

    /// The paths a location scope answers, for a plain prefix (`location /old`, `^~ /old`) or
    /// exact (`= /old`) location not nested in another block; nil for anything else (regex
    /// locations, `if`, nested scopes) and for the server itself.
    static func pathMatch(ofScope scope: String?) -> Redirect.PathMatch? {
        // Scopes start with the block's name: only a location's can name paths (checked on the
        // bytes before the words are split).
        guard let scope, scope.utf8.starts(with: "location".utf8), !(scope.asciiContains(" > ") ?? scope.contains(" > ")) else { return nil }
        let words = scope.split(separator: " ").map(String.init)
        guard words.first == "location" else { return nil }
        switch words.count {
        case 2 where words[1].hasPrefix("/"): return .prefix(words[1])
        case 3 where words[1] == "^~" && words[2].hasPrefix("/"): return .prefix(words[2])
        case 3 where words[1] == "=" && words[2].hasPrefix("/"): return .exact(words[2])
        default: return nil
        }
    }

    /// Where `return` answers every request before allow/deny are consulted: a `return` directly
    /// in the server answers everything; one directly in a location (without nested locations,
    /// whose requests it would not answer) answers that location; and when every location does
    /// so and one of them is `location /`, no request reaches the server's own access rules.
    /// (A location's own includes are not opened here: a `return` only they hold is missed,
    /// which keeps the access rules counted — never the other way round.)
    static func answeredBeforeAccess(_ items: [Item]) -> Set<String> {
        func returns(_ items: [Item]) -> Bool { items.contains { $0.directive.kind == .return } }
        if returns(items) { return [""] }
        var answered = Set<String>()
        var locations = 0
        var catchAll = false
        for item in items where item.directive.kind == .location {
            locations += 1
            guard let children = item.directive.children, children.contains(where: { $0.kind == .return }), !children.contains(where: { $0.kind == .location }) else { continue }
            answered.insert(scopeLabel(item.directive))
            if item.directive.argumentCount == 1 && item.directive.value(0) == "/" { catchAll = true }
        }
        if catchAll && answered.count == locations { answered.insert("") }
        return answered
    }

    /// What a level's own directives do (redirects, upstreams) and what its nested blocks add.
    /// Of the inherited settings only the read timeouts matter below a server (a `*_pass` takes
    /// its level's): they alone are handed down, not a merged copy of every setting per level.
    private mutating func walk(_ items: [Item], scope: String?, readTimeouts: [UpstreamTimeout], arrival: Redirect.Scheme,
                               condition: String?, host: inout VirtualHost) {
        let traits = NginxNameTable.shared.traits
        for item in items where traits[Int(item.directive.nameNumber)].contains(.walked) {
            let directive = item.directive
            let count = directive.argumentCount
            switch directive.kind {
            case .return:
                let at = config.location(of: directive)
                var status: Int?, target: String?
                if count >= 2, let code = Int(directive.value(0)!) {
                    if [301, 302, 303, 307, 308].contains(code) { status = code; target = directive.value(1) }
                } else if count == 1, let only = directive.value(0), NginxValues.isAbsoluteRedirect(only) {
                    status = 302
                    target = only
                }
                if let target {
                    host.redirects.append(Redirect(from: arrival, to: NginxValues.targetScheme(target), status: status,
                                                   target: target, scope: scope, location: at, condition: condition,
                                                   appliesTo: NginxModelBuilder.pathMatch(ofScope: scope)))
                }
            case .rewrite:
                guard count >= 2 else { continue }
                let replacement = directive.value(1)!
                let flag = directive.value(2)
                guard NginxValues.isAbsoluteRedirect(replacement) || flag == "redirect" || flag == "permanent" else { continue }
                let at = config.location(of: directive)
                host.redirects.append(Redirect(from: arrival, to: NginxValues.targetScheme(replacement),
                                               status: flag == "permanent" ? 301 : 302, target: replacement,
                                               scope: scope, location: at, condition: condition))
            case .proxyPass, .fastcgiPass, .uwsgiPass, .grpcPass:
                guard let target = directive.value(0) else { continue }
                host.upstreams.append(UpstreamTarget(directive: directive.name,
                                                     endpoint: endpoint(directive.name, target),
                                                     scope: scope, location: config.location(of: directive)))
                let timeoutName = NginxModelBuilder.readTimeoutDirective(of: directive.kind)!
                var timeout = readTimeouts.first { $0.directive == timeoutName }
                    ?? UpstreamTimeout(directive: timeoutName, seconds: NginxModelBuilder.defaultReadTimeout, isDefault: true, location: host.location)
                timeout.scope = scope
                if !host.timeouts.contains(timeout) { host.timeouts.append(timeout) }
            case .location, .if, .limitExcept:
                guard let children = directive.children else { continue }
                let words = directive.kind == .if ? NginxValues.ifWords(directive.values) : []
                let label = directive.kind == .if
                    ? "if (\(words.joined(separator: " ")))" : NginxModelBuilder.scopeLabel(directive)
                let childScope = scope.map { "\($0) > \(label)" } ?? label
                let childItems = expand(children, chain: item.chain)
                let own = settings(of: childItems, scope: childScope)
                if let level = own.server, level.realIPFrom != nil || level.realIPHeader != nil || level.keepAlive != nil || level.certificates != nil {
                    note("real-IP, keep-alive or certificate settings inside location/if blocks are not in the model, which holds each server's own")
                }
                if let rules = own.access { host.accessRules += rules }
                if let limiters = own.limitReq { host.limiters += limiters }
                if let limiters = own.limitConn { host.limiters += limiters }
                var childArrival = arrival, childCondition = condition
                if directive.kind == .if {
                    if let scheme = NginxValues.schemeCondition(ifWords: words) {
                        childArrival = scheme
                    } else {
                        childCondition = label
                    }
                }
                walk(childItems, scope: childScope, readTimeouts: NginxModelBuilder.merged(readTimeouts, own.readTimeouts), arrival: childArrival,
                     condition: childCondition, host: &host)
            default:
                break
            }
        }
    }

    /// `listen` addresses repeat across servers (`listen 443 ssl`, `[::]:443`): each read once.
    private struct ListenSpec: Hashable { let spec: String; let ipv6only: Bool }
    private var listenCache: [ListenSpec: (address: Listener.Address, port: UInt16?)?] = [:]

    private mutating func listenAddress(_ spec: String, ipv6only: Bool) -> (address: Listener.Address, port: UInt16?)? {
        let key = ListenSpec(spec: spec, ipv6only: ipv6only)
        if let cached = listenCache[key] { return cached }
        let parsed = NginxValues.listenAddress(spec, ipv6only: ipv6only)
        listenCache[key] = parsed
        return parsed
    }

    private mutating func listener(_ directive: NginxDirective, at location: SourceLocation) -> Listener? {
        guard let spec = directive.value(0) else { return nil }
        var tls = false, http2 = false, quic = false, defaultServer = false, proxyProtocol = false, ipv6only = true
        // nginx compares listen parameters case-sensitively.
        for position in 1..<max(1, directive.argumentCount) {
            switch directive.value(position)! {
            case "ssl": tls = true
            case "http2": http2 = true
            case "quic": quic = true
            case "default_server", "default": defaultServer = true
            case "proxy_protocol": proxyProtocol = true
            case "ipv6only=off": ipv6only = false
            default: break
            }
        }
        guard let (address, port) = listenAddress(spec, ipv6only: ipv6only) else { return nil }
        return Listener(address: address, port: port, tls: tls, http2: http2, quic: quic, defaultServer: defaultServer,
                        proxyProtocol: proxyProtocol, location: location)
    }

    /// Over which scheme requests reach a server with these listeners.
    static func arrivalScheme(_ listeners: [Listener]) -> Redirect.Scheme {
        // Over the TCP (not QUIC) listeners, counted in one pass without copying them.
        var tcp = false, plain = false, tls = false
        for listener in listeners where !listener.quic {
            tcp = true
            if listener.tls { tls = true } else { plain = true }
        }
        if tcp && !tls { return .http }
        if tcp && !plain { return .https }
        return .any
    }

    private func realIP(_ settings: ServerLevel?) -> RealIPSettings? {
        guard let settings, settings.realIPFrom != nil || settings.realIPHeader != nil || settings.realIPRecursive != nil else { return nil }
        var real = RealIPSettings(location: settings.realIPFrom?.first?.location ?? settings.realIPHeader?.location
                                  ?? settings.realIPRecursive!.location)
        for entry in settings.realIPFrom ?? [] {
            if let set = NginxValues.addresses(entry.value) {
                real.trusted.ipv4.formUnion(set.ipv4)
                real.trusted.ipv6.formUnion(set.ipv6)
                real.trustedEntries.append(entry)
            } else {
                real.unresolved.append(entry)
            }
        }
        // nginx reads X-Real-IP when real_ip_header is not set: the effective header, where the list is.
        real.header = settings.realIPHeader ?? settings.realIPFrom?.first.map { ConfigValue("X-Real-IP", at: $0.location) }
        real.recursive = settings.realIPRecursive?.value ?? false
        return real
    }

    /// `certificateDemand`: the server's own `listen … ssl` (or `ssl on`), before `settle` spreads
    /// `ssl` over the socket: nginx refuses to start without a certificate then, and only then
    /// (ngx_http_ssl_merge_srv_conf checks the servers whose own listen says ssl).
    private func tls(for host: VirtualHost, _ settings: Settings, certificateDemand: SourceLocation?) -> TLSSettings? {
        guard host.listeners.contains(where: { $0.tls || $0.quic }) else { return nil }
        let settings = settings.server ?? ServerLevel()
        var verification: ClientVerification?
        if let mode = settings.verifyClient {
            verification = ClientVerification(mode: mode, caFile: settings.clientCertificate)
        }
        return TLSSettings(certificateFiles: settings.certificates ?? [], keyFiles: settings.keys ?? [],
                           protocols: settings.protocols, ciphers: settings.ciphers, clientVerification: verification,
                           certificateRequiredAt: settings.rejectHandshake == true ? nil : certificateDemand)
    }
}
