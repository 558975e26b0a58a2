import OriginAuditCore

/// Virtual hosts, listeners, TLS material, real-IP, access rules, limiters, redirects and
/// timeouts: one model from nginx and Apache alike (DESIGN.md §4). Rules read only this.
/// Values are the *effective* ones for each virtual host, after the server's own inheritance
/// (nginx: http → server → location; Apache: server config → VirtualHost → sections); what
/// applies only inside a `location`/`<Location>`/`<Directory>` carries that `scope`.
public struct WebServerModel: Sendable {
    public var servers: [WebServerConfig] {
        didSet { virtualHosts = Self.allHosts(servers) }
    }

    /// Every virtual host of every server: kept, not gathered on each read (rules read it many
    /// times, and gathering copied every host).
    public private(set) var virtualHosts: [VirtualHost]

    public init(servers: [WebServerConfig] = []) {
        self.servers = servers
        virtualHosts = Self.allHosts(servers)
    }

    /// One server's hosts are its array itself (shared, not copied).
    private static func allHosts(_ servers: [WebServerConfig]) -> [VirtualHost] {
        servers.count == 1 ? servers[0].virtualHosts : servers.flatMap(\.virtualHosts)
    }
}

public enum ServerSoftware: String, Sendable, Hashable, Codable {
    case nginx, apache
}

/// One configuration tree: what one `nginx.conf` or `apache2.conf`/`httpd.conf` starts.
public struct WebServerConfig: Sendable {
    public var software: ServerSoftware
    /// The main file, as shown in reports.
    public var mainFile: String
    public var virtualHosts: [VirtualHost]
    /// Every file that took part (main file and includes), as shown in reports.
    public var files: [String]
    /// Modules loaded (Apache `LoadModule` names such as `remoteip_module`; nginx `load_module` paths).
    public var modules: [String]
    /// Server-wide listening sockets (Apache `Listen`); nginx's live on the virtual hosts.
    public var listeners: [Listener]
    /// Limiters that apply to every connection before any virtual host is chosen
    /// (mod_antiloris, mod_qos per-IP connection limits, mod_limitipconn server-wide).
    public var connectionLimiters: [Limiter]
    /// mod_cloudflare and similar CDN modules, where loaded.
    public var cdnModules: [ConfigValue<String>]

    public init(software: ServerSoftware, mainFile: String, virtualHosts: [VirtualHost] = [], files: [String] = [],
                modules: [String] = [], listeners: [Listener] = [], connectionLimiters: [Limiter] = [],
                cdnModules: [ConfigValue<String>] = []) {
        self.software = software
        self.mainFile = mainFile
        self.virtualHosts = virtualHosts
        self.files = files
        self.modules = modules
        self.listeners = listeners
        self.connectionLimiters = connectionLimiters
        self.cdnModules = cdnModules
    }
}

/// A value read from a configuration, with where it was written.
public struct ConfigValue<Value: Sendable & Hashable>: Sendable, Hashable {
    public var value: Value
    public var location: SourceLocation

    public init(_ value: Value, at location: SourceLocation) {
        self.value = value
        self.location = location
    }
}

/// A file path named in a configuration (`ssl_certificate`, `SSLCertificateFile`, an upstream
/// socket). `hostPath` is where it resolves on this machine (under `--root`); nil when the path
/// cannot be known statically (a variable in it), with `unresolvedReason` saying why.
public struct ConfigPath: Sendable, Hashable {
    /// Exactly as written.
    public var raw: String
    public var hostPath: String?
    public var unresolvedReason: String?
    public var location: SourceLocation

    public init(raw: String, hostPath: String?, unresolvedReason: String? = nil, location: SourceLocation) {
        self.raw = raw
        self.hostPath = hostPath
        self.unresolvedReason = unresolvedReason
        self.location = location
    }
}

/// A name a virtual host answers to.
public enum ServerName: Sendable, Hashable, CustomStringConvertible {
    case exact(String)
    /// `*.example.com` (leading) or `www.example.*` (trailing, nginx only); `.example.com` in
    /// nginx is stored as `*.example.com` plus `exact("example.com")`.
    case wildcard(String)
    case regex(String)
    /// nginx's `_` / `""` and Apache's name-less default: matches nothing by name.
    case catchAll

    public var description: String {
        switch self {
        case .exact(let n), .wildcard(let n): n
        case .regex(let r): "~" + r
        case .catchAll: "_"
        }
    }

    /// Whether a concrete hostname is served by this name (case-insensitive; wildcards cover
    /// any number of labels in nginx, as nginx matches them).
    public func matches(_ hostname: String) -> Bool {
        let host = hostname.lowercased()
        switch self {
        case .exact(let name): return name.lowercased() == host
        case .wildcard(let pattern):
            let p = pattern.lowercased()
            if p.hasPrefix("*.") { return host.hasSuffix(String(p.dropFirst(1))) }
            if p.hasSuffix(".*") { return host.hasPrefix(String(p.dropLast(1))) }
            return false
        case .regex(let pattern):
            guard let regex = try? Regex(pattern).ignoresCase() else { return false }
            return (try? regex.firstMatch(in: host)) != nil
        case .catchAll: return false
        }
    }
}

/// A socket a virtual host is served on.
public struct Listener: Sendable, Hashable {
    public enum Address: Sendable, Hashable {
        /// Every address (`listen 80`, `*:80`, `[::]:80` with ipv6only=off counts as `.any(.ipv6)`).
        case any(AddressFamily?)
        case ip(IPAddress)
        /// A hostname, resolved by the server at start-up; not resolvable statically.
        case hostname(String)
        case unix(String)
    }

    public var address: Address
    public var port: UInt16?
    public var tls: Bool
    public var http2: Bool
    public var quic: Bool
    public var defaultServer: Bool
    public var proxyProtocol: Bool
    public var location: SourceLocation

    public init(address: Address, port: UInt16?, tls: Bool = false, http2: Bool = false, quic: Bool = false,
                defaultServer: Bool = false, proxyProtocol: Bool = false, location: SourceLocation) {
        self.address = address
        self.port = port
        self.tls = tls
        self.http2 = http2
        self.quic = quic
        self.defaultServer = defaultServer
        self.proxyProtocol = proxyProtocol
        self.location = location
    }
}

/// TLS served by a virtual host.
public struct TLSSettings: Sendable, Hashable {
    public var certificateFiles: [ConfigPath]
    public var keyFiles: [ConfigPath]
    /// Apache's SSLCertificateChainFile; nginx serves the chain from the certificate file.
    public var chainFile: ConfigPath?
    /// Protocol names as the server spells them (`TLSv1.2`, `-TLSv1`, `all`), in order.
    public var protocols: ConfigValue<[String]>?
    /// The OpenSSL cipher string.
    public var ciphers: ConfigValue<String>?
    public var clientVerification: ClientVerification?
    /// Where the host turns TLS on in a way that makes the server demand a certificate when it
    /// starts: nginx's own `listen … ssl` or `ssl on` (not a socket shared with another server's
    /// `ssl`, nor with `ssl_reject_handshake on`); Apache's `SSLEngine on|optional`.
    public var certificateRequiredAt: SourceLocation?

    public init(certificateFiles: [ConfigPath] = [], keyFiles: [ConfigPath] = [], chainFile: ConfigPath? = nil,
                protocols: ConfigValue<[String]>? = nil, ciphers: ConfigValue<String>? = nil,
                clientVerification: ClientVerification? = nil, certificateRequiredAt: SourceLocation? = nil) {
        self.certificateFiles = certificateFiles
        self.keyFiles = keyFiles
        self.chainFile = chainFile
        self.protocols = protocols
        self.ciphers = ciphers
        self.clientVerification = clientVerification
        self.certificateRequiredAt = certificateRequiredAt
    }
}

/// Client-certificate verification (what Authenticated Origin Pulls needs).
public struct ClientVerification: Sendable, Hashable {
    public enum Mode: String, Sendable, Hashable { case off, optional, require, optionalNoCA = "optional_no_ca" }
    public var mode: ConfigValue<Mode>
    public var caFile: ConfigPath?

    public init(mode: ConfigValue<Mode>, caFile: ConfigPath? = nil) {
        self.mode = mode
        self.caFile = caFile
    }
}

/// Restoring the visitor's address from a header set by trusted proxies
/// (nginx realip, Apache mod_remoteip).
public struct RealIPSettings: Sendable, Hashable {
    /// Sources whose header is believed, by family; `unresolved` keeps entries that are not
    /// addresses (hostnames, `unix:`, a `*List` file that was not read).
    public var trusted: DualStackSet
    public var trustedEntries: [ConfigValue<String>]
    public var unresolved: [ConfigValue<String>]
    public var header: ConfigValue<String>?
    /// nginx `real_ip_recursive on`; Apache's mod_remoteip always walks the list.
    public var recursive: Bool
    public var location: SourceLocation

    public init(trusted: DualStackSet = DualStackSet(), trustedEntries: [ConfigValue<String>] = [],
                unresolved: [ConfigValue<String>] = [], header: ConfigValue<String>? = nil,
                recursive: Bool = false, location: SourceLocation) {
        self.trusted = trusted
        self.trustedEntries = trustedEntries
        self.unresolved = unresolved
        self.header = header
        self.recursive = recursive
        self.location = location
    }
}

/// One allow/deny decision (`allow`, `deny`, `Require ip`, `Require not ip`, `Allow from`, `Deny from`).
public struct AccessRule: Sendable, Hashable {
    public enum Action: String, Sendable, Hashable { case allow, deny }
    public var action: Action
    /// The addresses matched; `all` is both families' full space.
    public var sources: DualStackSet
    /// Entries that are not addresses (`Require host`, `unix:`), kept as written.
    public var unresolved: [String]
    /// `location /admin`, `<Directory /var/www>`; nil for the whole virtual host.
    public var scope: String?
    /// Apache `Order` semantics or `RequireAll/RequireAny` grouping, as written, when relevant.
    public var group: String?
    public var location: SourceLocation

    public init(action: Action, sources: DualStackSet, unresolved: [String] = [], scope: String? = nil,
                group: String? = nil, location: SourceLocation) {
        self.action = action
        self.sources = sources
        self.unresolved = unresolved
        self.scope = scope
        self.group = group
        self.location = location
    }
}

/// A per-client limiter: it counts something per client address, and so counts per CDN edge
/// address when the address is not restored.
public struct Limiter: Sendable, Hashable {
    public enum Kind: String, Sendable, Hashable {
        case nginxLimitReq = "limit_req", nginxLimitConn = "limit_conn"
        case modEvasive = "mod_evasive", modQos = "mod_qos", modLimitIPConn = "mod_limitipconn"
        case modAntiloris = "mod_antiloris", modSecurityDoS = "ModSecurity DoS"
    }
    public var kind: Kind
    /// The key as written (`$binary_remote_addr`, `$http_cf_connecting_ip`).
    public var key: String
    /// Whether the key is the client address as the server sees it after real-IP restoration
    /// (`$binary_remote_addr`, `$remote_addr`, mod_evasive's `useragent_ip`).
    public var keysOnClientAddress: Bool
    /// Whether it counts TCP peers before any request is read, so real-IP cannot help it
    /// (mod_antiloris, mod_qos connection limits).
    public var countsConnectionPeer: Bool
    /// Addresses exempted (`ExemptIPs`, `DOSWhitelist`, `geo` maps to an empty key).
    public var exempt: DualStackSet
    public var limit: String?
    public var scope: String?
    public var location: SourceLocation

    public init(kind: Kind, key: String, keysOnClientAddress: Bool, countsConnectionPeer: Bool = false,
                exempt: DualStackSet = DualStackSet(), limit: String? = nil, scope: String? = nil, location: SourceLocation) {
        self.kind = kind
        self.key = key
        self.keysOnClientAddress = keysOnClientAddress
        self.countsConnectionPeer = countsConnectionPeer
        self.exempt = exempt
        self.limit = limit
        self.scope = scope
        self.location = location
    }
}

/// A redirect the server answers with.
public struct Redirect: Sendable, Hashable {
    public enum Scheme: String, Sendable, Hashable { case http, https, any }
    /// Which requests it applies to: only ones that arrived over this scheme (`if ($scheme = http)`,
    /// `RewriteCond %{HTTPS} off`, a port-80-only server block), or any.
    public var from: Scheme
    /// The scheme of the target; `.any` when the target is relative or uses `$scheme`.
    public var to: Scheme
    public var status: Int?
    public var target: String
    public var scope: String?
    public var location: SourceLocation
    /// A guard other than the arrival scheme, as written (`if ($http_x_forwarded_proto != "https")`,
    /// `RewriteCond %{HTTP:X-Forwarded-Proto} !https`): the redirect happens only when it holds, so
    /// a rule cannot assume it fires on every request of `from`. nil: unconditional.
    public var condition: String?
    /// Which request paths it answers, when that is known and narrower than every path.
    public var appliesTo: PathMatch?

    /// A set of request paths.
    public enum PathMatch: Sendable, Hashable {
        /// Apache `Redirect /old`: `/old` and everything under `/old/` (whole segments).
        case segmentPrefix(String)
        /// nginx `location /old`: every path whose text starts with `/old`.
        case prefix(String)
        /// nginx `location = /old`.
        case exact(String)

        public func matches(_ path: String) -> Bool {
            switch self {
            case .segmentPrefix(let prefix):
                let base = prefix.hasSuffix("/") ? String(prefix.dropLast()) : prefix
                return base.isEmpty || path == base || path.hasPrefix(base + "/")
            case .prefix(let prefix): return path.hasPrefix(prefix)
            case .exact(let exact): return path == exact
            }
        }
    }

    public init(from: Scheme, to: Scheme, status: Int?, target: String, scope: String? = nil, location: SourceLocation,
                condition: String? = nil, appliesTo: PathMatch? = nil) {
        self.from = from
        self.to = to
        self.status = status
        self.target = target
        self.scope = scope
        self.location = location
        self.condition = condition
        self.appliesTo = appliesTo
    }
}

/// An upstream read timeout (`proxy_read_timeout`, `fastcgi_read_timeout`, `ProxyTimeout`, `Timeout`).
public struct UpstreamTimeout: Sendable, Hashable {
    public var directive: String
    public var seconds: Double
    public var scope: String?
    /// Whether it was written, or is the server's default (then `location` is the vhost's).
    public var isDefault: Bool
    public var location: SourceLocation

    public init(directive: String, seconds: Double, scope: String? = nil, isDefault: Bool = false, location: SourceLocation) {
        self.directive = directive
        self.seconds = seconds
        self.scope = scope
        self.isDefault = isDefault
        self.location = location
    }
}

/// Where a request is passed on to (`proxy_pass`, `fastcgi_pass`, `ProxyPass`, `SetHandler proxy:`).
public struct UpstreamTarget: Sendable, Hashable {
    public enum Endpoint: Sendable, Hashable {
        case tcp(host: String, port: UInt16)
        case unix(String)
        /// A named group (`upstream NAME`, `balancer://NAME`) with its members.
        case group(String, members: [Endpoint])
        /// A variable or otherwise not knowable statically.
        case unresolved(String)
    }
    public var directive: String
    public var endpoint: Endpoint
    public var scope: String?
    public var location: SourceLocation

    public init(directive: String, endpoint: Endpoint, scope: String? = nil, location: SourceLocation) {
        self.directive = directive
        self.endpoint = endpoint
        self.scope = scope
        self.location = location
    }
}

/// A virtual host: nginx `server {}` or Apache `<VirtualHost>` (or the main server).
/// Its values live in one shared box, copied only when a copy is changed: the rules pass hosts
/// around by value (selections, filters, loops over 10,000 hosts), and copying a host field by
/// field retained every one of its arrays.
public struct VirtualHost: Sendable {
    /// The values; never changed while shared (`mutable()` copies first).
    private final class Storage: @unchecked Sendable {
        var software: ServerSoftware
        var location: SourceLocation
        var names: [ConfigValue<ServerName>]
        var listeners: [Listener]
        var tls: TLSSettings?
        var realIP: RealIPSettings?
        var accessRules: [AccessRule]
        var limiters: [Limiter]
        var redirects: [Redirect]
        var timeouts: [UpstreamTimeout]
        var keepAlive: ConfigValue<Bool>?
        var upstreams: [UpstreamTarget]
        var answeredBeforeAccess: Set<String>

        init(software: ServerSoftware, location: SourceLocation, names: [ConfigValue<ServerName>], listeners: [Listener],
             tls: TLSSettings?, realIP: RealIPSettings?, accessRules: [AccessRule], limiters: [Limiter], redirects: [Redirect],
             timeouts: [UpstreamTimeout], keepAlive: ConfigValue<Bool>?, upstreams: [UpstreamTarget], answeredBeforeAccess: Set<String>) {
            self.software = software
            self.location = location
            self.names = names
            self.listeners = listeners
            self.tls = tls
            self.realIP = realIP
            self.accessRules = accessRules
            self.limiters = limiters
            self.redirects = redirects
            self.timeouts = timeouts
            self.keepAlive = keepAlive
            self.upstreams = upstreams
            self.answeredBeforeAccess = answeredBeforeAccess
        }

        func copy() -> Storage {
            Storage(software: software, location: location, names: names, listeners: listeners, tls: tls, realIP: realIP,
                    accessRules: accessRules, limiters: limiters, redirects: redirects, timeouts: timeouts, keepAlive: keepAlive,
                    upstreams: upstreams, answeredBeforeAccess: answeredBeforeAccess)
        }
    }

    private var storage: Storage

    /// The box, made this value's own before a change.
    private mutating func mutable() -> Storage {
        if !isKnownUniquelyReferenced(&storage) { storage = storage.copy() }
        return storage
    }

    public var software: ServerSoftware {
        _read { yield storage.software }
        set { mutable().software = newValue }
        _modify { let box = mutable(); yield &box.software }
    }
    /// Where the block starts.
    public var location: SourceLocation {
        _read { yield storage.location }
        set { mutable().location = newValue }
        _modify { let box = mutable(); yield &box.location }
    }
    public var names: [ConfigValue<ServerName>] {
        _read { yield storage.names }
        set { mutable().names = newValue }
        _modify { let box = mutable(); yield &box.names }
    }
    public var listeners: [Listener] {
        _read { yield storage.listeners }
        set { mutable().listeners = newValue }
        _modify { let box = mutable(); yield &box.listeners }
    }
    public var tls: TLSSettings? {
        _read { yield storage.tls }
        set { mutable().tls = newValue }
        _modify { let box = mutable(); yield &box.tls }
    }
    public var realIP: RealIPSettings? {
        _read { yield storage.realIP }
        set { mutable().realIP = newValue }
        _modify { let box = mutable(); yield &box.realIP }
    }
    public var accessRules: [AccessRule] {
        _read { yield storage.accessRules }
        set { mutable().accessRules = newValue }
        _modify { let box = mutable(); yield &box.accessRules }
    }
    public var limiters: [Limiter] {
        _read { yield storage.limiters }
        set { mutable().limiters = newValue }
        _modify { let box = mutable(); yield &box.limiters }
    }
    public var redirects: [Redirect] {
        _read { yield storage.redirects }
        set { mutable().redirects = newValue }
        _modify { let box = mutable(); yield &box.redirects }
    }
    public var timeouts: [UpstreamTimeout] {
        _read { yield storage.timeouts }
        set { mutable().timeouts = newValue }
        _modify { let box = mutable(); yield &box.timeouts }
    }
    /// nil: the server default (on); a value: as written (`keepalive_timeout 0` → false).
    public var keepAlive: ConfigValue<Bool>? {
        _read { yield storage.keepAlive }
        set { mutable().keepAlive = newValue }
        _modify { let box = mutable(); yield &box.keepAlive }
    }
    public var upstreams: [UpstreamTarget] {
        _read { yield storage.upstreams }
        set { mutable().upstreams = newValue }
        _modify { let box = mutable(); yield &box.upstreams }
    }
    /// Scopes whose every request is answered before access checks run (nginx `return` works in
    /// the rewrite phase, ahead of allow/deny; httpd's server-level `Redirect`/`RewriteRule [R]`
    /// in URI translation, ahead of authorization): "" for the whole host, else a scope label as
    /// in `AccessRule.scope` (`location /`). Access rules of such a scope never decide anything.
    public var answeredBeforeAccess: Set<String> {
        _read { yield storage.answeredBeforeAccess }
        set { mutable().answeredBeforeAccess = newValue }
        _modify { let box = mutable(); yield &box.answeredBeforeAccess }
    }

    public init(software: ServerSoftware, location: SourceLocation, names: [ConfigValue<ServerName>] = [],
                listeners: [Listener] = [], tls: TLSSettings? = nil, realIP: RealIPSettings? = nil,
                accessRules: [AccessRule] = [], limiters: [Limiter] = [], redirects: [Redirect] = [],
                timeouts: [UpstreamTimeout] = [], keepAlive: ConfigValue<Bool>? = nil, upstreams: [UpstreamTarget] = []) {
        storage = Storage(software: software, location: location, names: names, listeners: listeners, tls: tls, realIP: realIP,
                          accessRules: accessRules, limiters: limiters, redirects: redirects, timeouts: timeouts,
                          keepAlive: keepAlive, upstreams: upstreams, answeredBeforeAccess: [])
    }

    /// Whether the host serves `hostname` by one of its names.
    public func serves(_ hostname: String) -> Bool { names.contains { $0.value.matches(hostname) } }
}
