import Foundation

/// The CDN's encryption mode towards the origin (Cloudflare's vocabulary, DESIGN.md §2).
public enum TLSMode: String, Sendable, Codable, CaseIterable {
    case off, flexible, full, strict
    case originPull = "origin-pull"

    /// Whether the CDN validates the origin's certificate.
    public var validatesCertificate: Bool { self == .strict || self == .originPull }
}

/// Everything a rule may know besides the model: whose edge must reach the origin, how it
/// speaks to it, and at which instant certificates are judged. Rules read no clock and no
/// environment; they read this.
public struct Profile: Sendable {
    public var cdn: CDNProfile
    public var tlsMode: TLSMode
    /// The proxied hostnames; empty means every name the web-server configuration serves.
    public var hostnames: [String]
    public var at: Date
    /// Certificates expiring within this many seconds of `at` are reported as expiring.
    public var expiryWindow: TimeInterval
    /// The interfaces the CDN's traffic arrives on (`eth0`, `eth+`, `wan*`): given, or in live mode
    /// those of the default routes. Empty: not known (the firewall is judged per interface class).
    public var publicInterfaces: [String] = []
    /// The origin's own addresses the CDN connects to: given, or in live mode the host's. Empty:
    /// not known (the firewall's `-d` rules are judged per class of addresses they tell apart).
    public var originAddresses: [IPAddress] = []

    public init(cdn: CDNProfile, tlsMode: TLSMode = .full, hostnames: [String] = [], at: Date, expiryWindow: TimeInterval = 30 * 86_400) {
        self.cdn = cdn
        self.tlsMode = tlsMode
        self.hostnames = hostnames
        self.at = at
        self.expiryWindow = expiryWindow
    }

    /// The ports the CDN will open connections to under the mode, before looking at listeners:
    /// flexible sends HTTP to 80, full/strict use the visitor's scheme, origin-pull only HTTPS.
    public var defaultPorts: (http: PortSet, https: PortSet) {
        switch tlsMode {
        case .off, .flexible: (PortSet(80...80), PortSet())
        case .full, .strict: (PortSet(80...80), PortSet(443...443))
        case .originPull: (PortSet(), PortSet(443...443))
        }
    }

    /// Parses `--at`: RFC 3339 (`2026-11-23T00:00:00Z`), a date (`2026-11-23`), or an offset
    /// from `now` (`+30d`, `-12h`, `+90m`).
    public static func parseInstant(_ text: String, now: Date) -> Date? {
        if let first = text.first, first == "+" || first == "-", let unit = text.last, let amount = Double(text.dropFirst().dropLast()) {
            let scale: Double
            switch unit {
            case "d": scale = 86_400
            case "h": scale = 3_600
            case "m": scale = 60
            case "s": scale = 1
            default: return nil
            }
            return now.addingTimeInterval((first == "-" ? -1 : 1) * amount * scale)
        }
        let full = ISO8601DateFormatter()
        full.formatOptions = [.withInternetDateTime]
        if let date = full.date(from: text) { return date }
        full.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if let date = full.date(from: text) { return date }
        let day = ISO8601DateFormatter()
        day.formatOptions = [.withFullDate]
        return day.date(from: text)
    }

    /// Whether `text` is an interface name as Linux allows it (1–15 bytes, no `/`, `:` or white
    /// space), optionally ending in the wildcard `+` (iptables) or `*` (nftables).
    public static func isInterfacePattern(_ text: String) -> Bool {
        let stem = text.hasSuffix("+") || text.hasSuffix("*") ? String(text.dropLast()) : text
        guard stem.utf8.count <= 15, !(stem.isEmpty && stem.count == text.count) else { return false }
        return stem.unicodeScalars.allSatisfy { $0.value > 32 && $0.value < 127 && $0 != "/" && $0 != ":" && $0 != "*" && $0 != "+" }
    }

    /// RFC 3339 text of an instant in UTC, as the reports print it.
    public static func format(_ date: Date) -> String { UTCText.instant(date) }
}

/// Dates as reports print them, in UTC, without a formatter object (reports print thousands).
public enum UTCText {
    /// `2026-11-23T00:00:00Z`.
    public static func instant(_ date: Date) -> String {
        let (day, time) = parts(date)
        return day + "T" + time + "Z"
    }

    /// `2026-11-23`.
    public static func day(_ date: Date) -> String { parts(date).day }

    private static func parts(_ date: Date) -> (day: String, time: String) {
        var seconds = time_t(date.timeIntervalSince1970.rounded(.down))
        var fields = tm()
        gmtime_r(&seconds, &fields)
        func pad(_ value: Int32, _ width: Int) -> String {
            let text = String(abs(value))
            return (value < 0 ? "-" : "") + String(repeating: "0", count: max(0, width - text.count)) + text
        }
        return (pad(fields.tm_year + 1900, 4) + "-" + pad(fields.tm_mon + 1, 2) + "-" + pad(fields.tm_mday, 2),
                pad(fields.tm_hour, 2) + ":" + pad(fields.tm_min, 2) + ":" + pad(fields.tm_sec, 2))
    }
}
