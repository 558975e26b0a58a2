import OriginAuditCore
import Firewall
import WebServer
import Certificates

/// Everything the inputs say about one origin, normalised: the only thing rules look at.
public struct OriginModel: Sendable {
    public var firewall: FirewallModel
    public var webServer: WebServerModel
    public var certificates: CertificateInventory
    /// Every file that was read, as shown in reports (relative to the scanned root).
    public var files: [String]
    /// What listens on this machine (live mode only; nil when auditing files).
    public var sockets: HostSockets?

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
}
