import Foundation
import OriginAuditCore

/// Profile settings from the command line; each one, when given, wins over `.originaudit.yml`.
public struct ProfileOptions: Sendable {
    public var cdn: String?
    public var cdnRangesFile: String?
    public var tlsMode: TLSMode?
    public var hostnames: [String] = []
    public var at: String?
    public var expiryWarningDays: Double?
    /// `--public-interface` (repeatable).
    public var publicInterfaces: [String] = []
    /// `--origin-address` (repeatable).
    public var originAddresses: [String] = []

    public init(cdn: String? = nil, cdnRangesFile: String? = nil, tlsMode: TLSMode? = nil, hostnames: [String] = [],
                at: String? = nil, expiryWarningDays: Double? = nil) {
        self.cdn = cdn
        self.cdnRangesFile = cdnRangesFile
        self.tlsMode = tlsMode
        self.hostnames = hostnames
        self.at = at
        self.expiryWarningDays = expiryWarningDays
    }
}

/// A problem with the options themselves: exit code 2.
public struct UsageError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }
}

public enum ProfileBuilder {
    /// Builds the profile from the command line, then the project file, then the defaults
    /// (Cloudflare, full, every served name, now).
    /// `tree`: where the project file's `cdnRanges` is read (under the root, like every path the
    /// scanned tree names); `--cdn-ranges` is the user's own and read as given.
    public static func build(_ options: ProfileOptions, config: ProjectConfig, now: Date,
                             tree: SourceTree = SourceTree(root: nil)) throws -> Profile {
        let cdnName = options.cdn ?? config.cdn ?? "cloudflare"
        var cdn: CDNProfile
        do {
            cdn = cdnName == "none" ? .none : try CDNProfile.embedded(cdnName)
        } catch {
            throw UsageError("\(error)")
        }
        let ranges: (path: String, tree: SourceTree, name: String)? = options.cdnRangesFile.map { ($0, SourceTree(root: nil), "--cdn-ranges") }
            ?? config.cdnRangesFile.map { ($0, tree, "cdnRanges (\(config.file ?? ".originaudit.yml"))") }
        if let ranges {
            let text: String
            switch ranges.tree.read(ranges.path) {
            case .success(let bytes):
                guard let decoded = String(validating: bytes, as: UTF8.self) else {
                    throw UsageError("\(ranges.name) \(ranges.path): not UTF-8 text")
                }
                text = decoded
            case .failure(let failure):
                throw UsageError("\(ranges.name) \(ranges.path) \(failure)")
            }
            do {
                // Named as findings name files: the project file's path shows relative to the
                // root, so messages (and fingerprints) do not depend on where the tree is.
                let shown = ranges.tree.root == nil ? ranges.path : ranges.tree.displayPath(ranges.path)
                cdn = try CDNProfile.custom(rangesFile: text, file: shown, base: cdnName == "none" ? try CDNProfile.embedded("cloudflare") : cdn)
            } catch {
                throw UsageError("\(ranges.name): \(error)")
            }
        }
        let atText = options.at ?? config.at
        var at = now
        if let atText {
            guard let parsed = Profile.parseInstant(atText, now: now) else {
                throw UsageError("--at '\(atText)' is not an RFC 3339 time (2026-11-23T00:00:00Z), a date, or an offset such as +30d")
            }
            at = parsed
        }
        let days = options.expiryWarningDays ?? config.expiryWarningDays ?? 30
        var profile = Profile(
            cdn: cdn,
            tlsMode: options.tlsMode ?? config.tlsMode ?? .full,
            hostnames: options.hostnames.isEmpty ? config.hostnames : options.hostnames,
            at: at,
            expiryWindow: days * 86_400)
        for name in options.publicInterfaces where !Profile.isInterfacePattern(name) {
            throw UsageError("--public-interface '\(name)' is not an interface name (up to 15 characters, no '/' or spaces; a trailing + or * matches every name it begins)")
        }
        profile.publicInterfaces = options.publicInterfaces.isEmpty ? config.publicInterfaces : options.publicInterfaces
        var addresses: [IPAddress] = []
        for text in options.originAddresses {
            guard let address = IPAddress(text) else { throw UsageError("--origin-address '\(text)' is not an IPv4 or IPv6 address") }
            addresses.append(address)
        }
        profile.originAddresses = addresses.isEmpty ? config.originAddresses : addresses
        return profile
    }
}
