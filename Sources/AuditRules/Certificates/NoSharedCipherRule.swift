import Foundation
import OriginAuditCore
import Certificates
import WebServer

/// tls.no-shared-cipher: no protocol and cipher suite that the CDN offers is accepted by the
/// origin, so the handshake fails (525). The origin's cipher string is expanded by libssl's own
/// parser; suites are matched by name, protocol range, and the key type of the served certificate.
struct NoSharedCipherRule: AuditRule {
    let id = "tls.no-shared-cipher"

    static let order = ["SSLv3", "TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"]

    func check(_ model: OriginModel, profile: Profile) -> [Finding] {
        guard profile.tlsMode != .off, profile.tlsMode != .flexible, !profile.cdn.tlsVersions.isEmpty else { return [] }
        let cdnVersions = Set(profile.cdn.tlsVersions.map(\.rawValue))
        let cdnCiphers = Set(profile.cdn.tlsCiphers)
        var findings: [Finding] = []
        /// A host's cipher and protocol settings, judged once per place they are written.
        struct Setting: Hashable { let location: SourceLocation; let ciphers: String; let protocols: [String] }
        var seen = Set<Setting>(minimumCapacity: model.webServer.virtualHosts.count)
        var keyTypesByHost: [SourceLocation: Set<String>] = [:]
        for served in ServedCertificate.all(model, profile) {
            if let host = served.host { keyTypesByHost[host.location, default: []].insert(served.leaf.keyType) }
        }
        // Hosts share cipher strings: libssl expands each distinct one once.
        var expansions: [String: [CipherSuite]?] = [:]
        /// What decides whether a host shares a protocol and suite with the CDN: judged once
        /// per distinct combination (10,000 hosts of an estate have a handful).
        struct Judged: Hashable { let protocols: [String]; let software: ServerSoftware; let ciphers: String; let keyTypes: Set<String> }
        var shares: [Judged: Bool] = [:]
        // The last combination found to share one: hosts mostly repeat it, and comparing it
        // is cheaper than hashing its cipher string again.
        var lastSharing: Judged?
        // Hosts mostly write the same protocols: their expansion is reused while they do.
        var lastVersions: (words: [String], software: ServerSoftware, enabled: Set<String>)?
        for host in model.webServer.virtualHosts {
            guard let tls = host.tls, host.listeners.contains(where: \.tls) else { continue }
            let protocolWords = tls.protocols?.value ?? (host.software == .nginx ? ["TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"] : ["all", "-SSLv3"])
            let originVersions: Set<String>
            if let last = lastVersions, last.software == host.software, last.words == protocolWords {
                originVersions = last.enabled
            } else {
                originVersions = LegacyProtocolsRule.enabled(protocolWords, software: host.software)
                lastVersions = (protocolWords, host.software, originVersions)
            }
            let cipherString = tls.ciphers?.value ?? (host.software == .nginx ? "HIGH:!aNULL:!MD5" : "DEFAULT")
            let location = tls.ciphers?.location ?? tls.protocols?.location ?? host.location
            guard seen.insert(Setting(location: location, ciphers: cipherString, protocols: protocolWords)).inserted else { continue }
            if expansions[cipherString] == nil { expansions[cipherString] = .some(CipherSuites.expand(cipherString)) }
            guard let suites = expansions[cipherString] ?? nil else {
                findings.append(Finding(
                    ruleId: id,
                    message: "libssl accepts no cipher from \"\(cipherString)\": the server refuses to start or offers nothing, so every handshake fails",
                    location: location, key: "\(location.file) \(cipherString) invalid"))
                continue
            }
            // The key types the host serves decide which authentication the suite may use.
            let keyTypes = keyTypesByHost[host.location] ?? []
            let judged = Judged(protocols: protocolWords, software: host.software, ciphers: cipherString, keyTypes: keyTypes)
            if judged == lastSharing { continue }
            if shares[judged] == true { lastSharing = judged; continue }
            func authenticates(_ suite: CipherSuite) -> Bool {
                if suite.authentication == "any" || keyTypes.isEmpty { return true }
                return (suite.authentication == "RSA" && keyTypes.contains("RSA")) || (suite.authentication == "ECDSA" && keyTypes.contains("EC"))
            }
            let common = originVersions.intersection(cdnVersions)
            let shared13 = common.contains("TLSv1.3") && !profile.cdn.tls13Suites.isEmpty
            let legacy = common.subtracting(["TLSv1.3"])
            let highest = legacy.compactMap { Self.order.firstIndex(of: $0) }.max()
            let shared12 = suites.filter { suite in
                guard suite.introducedIn != "TLSv1.3", cdnCiphers.contains(suite.name), authenticates(suite),
                      let highest, let introduced = Self.order.firstIndex(of: suite.introducedIn) else { return false }
                return introduced <= highest
            }
            shares[judged] = shared13 || !shared12.isEmpty
            if shared13 || !shared12.isEmpty { lastSharing = judged }
            guard !shared13 && shared12.isEmpty else { continue }
            let originList = suites.filter { $0.introducedIn != "TLSv1.3" }.prefix(6).map(\.name).joined(separator: ", ")
            findings.append(Finding(
                ruleId: id,
                message: "\(OriginContext.describe(host)) accepts \(originVersions.sorted().joined(separator: " ")) with \"\(cipherString)\" (\(originList.isEmpty ? "no TLS 1.2 suite" : originList)\(keyTypes.isEmpty ? "" : ", \(keyTypes.sorted().joined(separator: "/")) certificate")); \(profile.cdn.displayName) offers \(profile.cdn.tlsVersions.map(\.rawValue).joined(separator: " ")) with \(profile.cdn.tlsCiphers.prefix(4).joined(separator: ", "))…: no combination is shared, so every handshake fails",
                location: location,
                remediation: host.software == .nginx
                    ? "ssl_protocols TLSv1.2 TLSv1.3;\nssl_ciphers ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384;"
                    : "SSLProtocol -all +TLSv1.2 +TLSv1.3\nSSLCipherSuite ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384",
                key: "\(location.file) \(cipherString) \(protocolWords.joined(separator: " "))"))
        }
        return findings
    }
}
