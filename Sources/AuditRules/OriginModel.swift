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

    public init(firewall: FirewallModel = FirewallModel(), webServer: WebServerModel = WebServerModel(),
                certificates: CertificateInventory = CertificateInventory(), files: [String] = []) {
        self.firewall = firewall
        self.webServer = webServer
        self.certificates = certificates
        self.files = files
    }
}
