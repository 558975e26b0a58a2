import OriginAuditCore
import COpenSSL
import CShim

/// Every certificate and key file the inputs name or contain, loaded once. Filled in by the
/// certificates issue.
public struct CertificateInventory: Sendable {
    public init() {}
}
