import Foundation
import Yams

/// What one CDN does when it talks to an origin: its addresses, the ports it proxies, its
/// timeouts and its TLS offer. Loaded from `Rules/cdn/<name>.yml` or a `--cdn-ranges` file.
public struct CDNProfile: Sendable, Hashable {
    /// A TLS protocol version, ordered.
    public enum TLSVersion: String, Sendable, Hashable, Codable, CaseIterable, Comparable {
        case tls1_0 = "TLSv1", tls1_1 = "TLSv1.1", tls1_2 = "TLSv1.2", tls1_3 = "TLSv1.3"
        public static func < (a: TLSVersion, b: TLSVersion) -> Bool {
            allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)!
        }
    }

    public var name: String
    public var displayName: String
    /// Where the ranges were published, and on which date this snapshot was taken.
    public var source: String
    public var asOf: String
    public var ranges: DualStackSet
    /// Ranges once published by this CDN but no longer its own: allow-listing them opens the origin
    /// to whoever holds them now.
    public var staleRanges: DualStackSet
    public var httpPorts: PortSet
    public var httpsPorts: PortSet
    /// Seconds the CDN waits for a TCP connection (→522), for response headers (→524), for a write.
    public var connectTimeout: Double?
    public var readTimeout: Double?
    public var writeTimeout: Double?
    /// Header the CDN puts the visitor's address in (`CF-Connecting-IP`).
    public var clientIPHeader: String?
    /// TLS versions the CDN offers to origins and its TLS 1.2-and-lower cipher suites (OpenSSL names).
    public var tlsVersions: [TLSVersion]
    public var tlsCiphers: [String]
    /// TLS 1.3 suites (OpenSSL names); TLS 1.3 negotiation does not use the cipher string.
    public var tls13Suites: [String]

    public init(name: String, displayName: String, source: String, asOf: String, ranges: DualStackSet,
                staleRanges: DualStackSet = DualStackSet(), httpPorts: PortSet, httpsPorts: PortSet,
                connectTimeout: Double? = nil, readTimeout: Double? = nil, writeTimeout: Double? = nil,
                clientIPHeader: String? = nil, tlsVersions: [TLSVersion] = [], tlsCiphers: [String] = [],
                tls13Suites: [String] = []) {
        self.name = name
        self.displayName = displayName
        self.source = source
        self.asOf = asOf
        self.ranges = ranges
        self.staleRanges = staleRanges
        self.httpPorts = httpPorts
        self.httpsPorts = httpsPorts
        self.connectTimeout = connectTimeout
        self.readTimeout = readTimeout
        self.writeTimeout = writeTimeout
        self.clientIPHeader = clientIPHeader
        self.tlsVersions = tlsVersions
        self.tlsCiphers = tlsCiphers
        self.tls13Suites = tls13Suites
    }

    /// The names of the embedded CDNs (`cloudflare`, `fastly`, `cloudfront`).
    public static var embeddedNames: [String] {
        EmbeddedRules.cdnDocuments.map { String($0.path.dropFirst(4).dropLast(4)) }.sorted()
    }

    /// The embedded profile of a CDN by name, from its YAML as the build loaded it (the same
    /// checks as `decode(yaml:file:)`, without decoding YAML at run time).
    public static func embedded(_ name: String) throws -> CDNProfile {
        guard let entry = EmbeddedRules.cdnDocuments.first(where: { $0.path == "cdn/\(name).yml" }) else {
            throw CatalogError(file: "--cdn", message: "unknown CDN '\(name)'; known: \(embeddedNames.joined(separator: ", ")), none")
        }
        return try decode(loaded: entry.document.loaded, file: "Rules/" + entry.path)
    }

    /// The "no CDN" profile: nothing must reach the origin through a CDN.
    public static let none = CDNProfile(
        name: "none", displayName: "no CDN", source: "", asOf: "", ranges: DualStackSet(),
        httpPorts: PortSet(80...80), httpsPorts: PortSet(443...443))

    /// A custom CDN from a file of CIDRs, one per line, `#` comments; ports and timeouts are
    /// Cloudflare's unless `base` says otherwise.
    public static func custom(rangesFile text: String, file: String, base: CDNProfile) throws -> CDNProfile {
        var cidrs: [CIDR] = []
        for (number, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = rawLine.prefix { $0 != "#" }.trimmingCharacters(in: .whitespacesAndNewlines)
            if line.isEmpty { continue }
            guard let cidr = CIDR(line) else {
                // Quoted only when it looks like an attempt at an address: the file may be anything.
                let quotable = line.count <= 49 && line.allSatisfy { $0.isHexDigit || ".:/".contains($0) }
                throw CatalogError(file: "\(file):\(number + 1)", message: quotable ? "'\(line)' is not an address or CIDR"
                                   : "this line is not an address or CIDR (its text is not shown: the file does not look like a list of ranges)")
            }
            cidrs.append(cidr)
        }
        guard !cidrs.isEmpty else { throw CatalogError(file: file, message: "no address ranges in the file") }
        var profile = base
        profile.name = "custom"
        profile.displayName = "custom CDN (\(file))"
        profile.source = file
        profile.asOf = ""
        profile.ranges = DualStackSet(cidrs: cidrs)
        profile.staleRanges = DualStackSet()
        return profile
    }

    /// Every proxied port, HTTP and HTTPS.
    public var allPorts: PortSet { httpPorts.union(httpsPorts) }

    static func decode(yaml: String, file: String) throws -> CDNProfile {
        try decode(loaded: try Yams.load(yaml: yaml), file: file)
    }

    /// A profile from its YAML as `Yams.load` gives it.
    static func decode(loaded: Any?, file: String) throws -> CDNProfile {
        guard let root = loaded as? [String: Any] else {
            throw CatalogError(file: file, message: "expected a mapping")
        }
        func string(_ key: String) -> String? { root[key].map { "\($0)" } }
        func cidrList(_ value: Any?) throws -> [CIDR] {
            guard let value else { return [] }
            guard let list = value as? [Any] else { throw CatalogError(file: file, message: "expected a list of CIDRs") }
            return try list.map {
                guard let cidr = CIDR("\($0)") else { throw CatalogError(file: file, message: "'\($0)' is not a CIDR") }
                return cidr
            }
        }
        func ports(_ value: Any?) throws -> PortSet {
            let list = value as? [Any] ?? []
            return PortSet(ranges: try list.map {
                guard let port = UInt16("\($0)") else { throw CatalogError(file: file, message: "'\($0)' is not a port") }
                return port...port
            })
        }
        let ranges = root["ranges"] as? [String: Any] ?? [:]
        let portMap = root["ports"] as? [String: Any] ?? [:]
        let timeouts = root["timeouts"] as? [String: Any] ?? [:]
        let tls = root["tls"] as? [String: Any] ?? [:]
        func seconds(_ key: String) -> Double? { timeouts[key].flatMap { Double("\($0)") } }
        let versions = try (tls["versions"] as? [Any] ?? []).map {
            guard let v = TLSVersion(rawValue: "\($0)") else { throw CatalogError(file: file, message: "unknown TLS version '\($0)'") }
            return v
        }
        guard let name = string("name") else { throw CatalogError(file: file, message: "missing `name`") }
        return CDNProfile(
            name: name,
            displayName: string("displayName") ?? name,
            source: string("source") ?? "",
            asOf: string("asOf") ?? "",
            ranges: DualStackSet(cidrs: try cidrList(ranges["ipv4"]) + cidrList(ranges["ipv6"])),
            staleRanges: DualStackSet(cidrs: try cidrList(ranges["stale"])),
            httpPorts: try ports(portMap["http"]),
            httpsPorts: try ports(portMap["https"]),
            connectTimeout: seconds("connect"),
            readTimeout: seconds("read"),
            writeTimeout: seconds("write"),
            clientIPHeader: string("clientIPHeader"),
            tlsVersions: versions,
            tlsCiphers: (tls["ciphers"] as? [Any] ?? []).map { "\($0)" },
            tls13Suites: (tls["tls13Suites"] as? [Any] ?? []).map { "\($0)" }
        )
    }
}

/// Trust anchors the CDN accepts besides public CAs (the Cloudflare Origin CA roots), as PEM.
public enum EmbeddedTrust {
    public static var pemFiles: [(name: String, pem: String)] {
        EmbeddedRules.files.filter { $0.path.hasPrefix("trust/") }.map { (String($0.path.dropFirst(6)), $0.contents) }
    }
}
