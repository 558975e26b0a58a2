import Foundation

/// Reads the address lists CDNs publish, so that a user can refresh a snapshot without waiting for
/// a release: Cloudflare's `ips-v4`/`ips-v6` text or its API JSON, Fastly's `public-ip-list`
/// JSON, AWS's `ip-ranges.json` (CloudFront origin-facing entries), or any list of CIDRs.
public enum PublishedRanges {
    public struct Unreadable: Error, CustomStringConvertible, Sendable {
        public var description: String
    }

    /// The CIDRs in a published document. `cdn` picks which entries of a multi-service document
    /// count (for AWS: CLOUDFRONT_ORIGIN_FACING when present, else CLOUDFRONT).
    public static func parse(_ text: String, cdn: String) throws -> [CIDR] {
        let trimmed = text.drop { $0 == " " || $0 == "\n" || $0 == "\r" || $0 == "\t" }
        if trimmed.hasPrefix("{") {
            guard let object = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] else {
                throw Unreadable(description: "not valid JSON")
            }
            var texts: [String] = []
            if let result = object["result"] as? [String: Any] {
                // Cloudflare's API: {"result": {"ipv4_cidrs": [...], "ipv6_cidrs": [...]}}
                texts = (result["ipv4_cidrs"] as? [String] ?? []) + (result["ipv6_cidrs"] as? [String] ?? [])
            } else if object["addresses"] != nil || object["ipv6_addresses"] != nil {
                texts = (object["addresses"] as? [String] ?? []) + (object["ipv6_addresses"] as? [String] ?? [])
            } else if let prefixes = object["prefixes"] as? [[String: Any]] {
                let v6 = object["ipv6_prefixes"] as? [[String: Any]] ?? []
                func service(_ entries: [[String: Any]], _ name: String, _ key: String) -> [String] {
                    entries.filter { $0["service"] as? String == name }.compactMap { $0[key] as? String }
                }
                var v4List = service(prefixes, "CLOUDFRONT_ORIGIN_FACING", "ip_prefix")
                if v4List.isEmpty { v4List = service(prefixes, "CLOUDFRONT", "ip_prefix") }
                var v6List = service(v6, "CLOUDFRONT_ORIGIN_FACING", "ipv6_prefix")
                if v6List.isEmpty { v6List = service(v6, "CLOUDFRONT", "ipv6_prefix") }
                texts = v4List + v6List
            } else {
                throw Unreadable(description: "a JSON document, but not one of the known published formats (Cloudflare API, Fastly public-ip-list, AWS ip-ranges.json)")
            }
            return try texts.map {
                guard let cidr = CIDR($0) else { throw Unreadable(description: "'\($0)' is not a CIDR") }
                return cidr
            }
        }
        var cidrs: [CIDR] = []
        for (number, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.prefix { $0 != "#" }.trimmingCharacters(in: .whitespacesAndNewlines)
            if line.isEmpty { continue }
            guard let cidr = CIDR(line) else { throw Unreadable(description: "line \(number + 1): '\(line)' is not a CIDR") }
            cidrs.append(cidr)
        }
        return cidrs
    }
}
