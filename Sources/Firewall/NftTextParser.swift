import OriginAuditCore

/// Parses `nft list ruleset` text.
enum NftTextParser {
    static func parse(_ bytes: [UInt8], file: String) -> (model: FirewallModel, findings: [Finding]) {
        (FirewallModel(files: [file]), [])
    }
}
