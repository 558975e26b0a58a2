import Foundation
import OriginAuditCore
import Firewall
import WebServer
import Certificates

/// Everything the inputs say about one origin, normalised: the only thing rules look at.
public struct OriginModel: Sendable {
    // Changing any part starts a fresh cache of derived results.
    public var firewall: FirewallModel { didSet { derived = DerivedResults() } }
    public var webServer: WebServerModel { didSet { derived = DerivedResults() } }
    public var certificates: CertificateInventory { didSet { derived = DerivedResults() } }
    /// Every file that was read, as shown in reports (relative to the scanned root).
    public var files: [String]
    /// What listens on this machine (live mode only; nil when auditing files).
    public var sockets: HostSockets? { didSet { derived = DerivedResults() } }
    /// What several rules derive from the same model (the served certificates, firewall
    /// verdicts), computed once per run.
    var derived = DerivedResults()

    public init(firewall: FirewallModel = FirewallModel(), webServer: WebServerModel = WebServerModel(),
                certificates: CertificateInventory = CertificateInventory(), files: [String] = [], sockets: HostSockets? = nil) {
        self.firewall = firewall
        self.webServer = webServer
        self.certificates = certificates
        self.files = files
        self.sockets = sockets
    }
}

extension OriginModel {
    /// The ports the CDN will open connections to under the profile's mode, plus the other
    /// proxied ports the web servers listen on (what the firewall rules check).
    public func cdnPorts(_ profile: Profile) -> (http: PortSet, https: PortSet) {
        OriginContext.cdnPorts(self, profile)
    }

    /// The hostnames the audit reasons about: `--hostname`, or every exact name configured.
    public func proxiedHostnames(_ profile: Profile) -> [String] {
        OriginContext.hostnames(self, profile)
    }
}

/// Results derived from a model that several rules need, computed once (rules run
/// concurrently: the first to ask computes, the others wait for its result).
final class DerivedResults: Sendable {
    private let results = ComputeOnce<String, Any>()

    func value<T>(_ key: String, _ compute: () -> T) -> T {
        if let value = results.value(key, { compute() }) as? T { return value }
        // A key asked for with two types (never in the rules as written): computed again.
        return compute()
    }
}
