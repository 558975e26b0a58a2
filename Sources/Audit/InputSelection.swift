import Foundation
import OriginAuditCore

/// The inputs a user named: plain paths to walk and files per format (`--iptables F` or the
/// project file's `inputs:`), before they are read.
public struct InputSelection: Sendable {
    public var paths: [String] = []
    public var iptables: [String] = []
    public var ip6tables: [String] = []
    public var ipset: [String] = []
    public var nft: [String] = []
    public var nginx: [String] = []
    public var apache: [String] = []
    public var certs: [String] = []

    public init() {}

    /// Whether nothing at all was named.
    public var isEmpty: Bool {
        [paths, iptables, ip6tables, ipset, nft, nginx, apache, certs].allSatisfy(\.isEmpty)
    }

    /// Adds the project file's `inputs:` to what the command line named.
    public mutating func add(_ config: ProjectConfig) {
        paths += config.inputs["paths"] ?? []
        iptables += config.inputs["iptables"] ?? []
        ip6tables += config.inputs["ip6tables"] ?? []
        ipset += config.inputs["ipset"] ?? []
        nft += config.inputs["nft"] ?? []
        nginx += config.inputs["nginx"] ?? []
        apache += config.inputs["apache"] ?? []
        certs += config.inputs["cert"] ?? []
    }

    /// Builds the scan request: per-format files keep their named format (nft and nginx files are
    /// told apart by their first bytes: JSON or text, main file or `nginx -T` output); with
    /// nothing named at all, the current directory is walked.
    public func request(tree: SourceTree, defines: [String] = [], caFiles: [String] = []) -> ScanRequest {
        var explicit: [(kind: InputKind, path: String, familyHint: AddressFamily?)] = []
        explicit += iptables.map { (.iptablesSave, $0, .ipv4) }
        explicit += ip6tables.map { (.iptablesSave, $0, .ipv6) }
        explicit += ipset.map { (.ipset, $0, nil) }
        explicit += certs.map { (.certificate, $0, nil) }
        for file in nft {
            let isJSON = head(tree.hostPath(file), tree: tree).drop { " \n\t\r".contains($0) }.hasPrefix("{")
            explicit.append((isJSON ? .nftJSON : .nftText, file, nil))
        }
        for file in nginx {
            let isDump = head(tree.hostPath(file), tree: tree).hasPrefix("# configuration file ")
            explicit.append((isDump ? .nginxDump : .nginxMain, file, nil))
        }
        explicit += apache.map { (.apacheMain, $0, nil) }
        let walk = paths.isEmpty && explicit.isEmpty ? ["."] : paths
        return ScanRequest(paths: walk, explicit: explicit, tree: tree, defines: defines, caFiles: caFiles)
    }

    private func head(_ hostPath: String, tree: SourceTree) -> String {
        guard case .success(let bytes) = tree.head(hostPath, count: 4096) else { return "" }
        return String(decoding: bytes, as: UTF8.self)
    }
}
