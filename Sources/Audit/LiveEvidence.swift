import Certificates
import Foundation
#if canImport(Glibc)
import Glibc
#endif
import OriginAuditCore

/// `scan --live --save DIR`: what live mode collected, kept as a directory that audits the same
/// way later (`originaudit scan DIR`). The files the audit read on the host (Apache's
/// configuration, certificates, every directory it listed) are laid out under their absolute
/// paths, private keys replaced by stand-ins (`KeyStandIn`); what is not a file on the host —
/// the firewall dumps, `nginx -T`, the listening sockets, httpd's compiled-in modules, the
/// default routes, what could not be collected — is kept in `.originaudit-live/`, described by
/// its `manifest.json`. A `.originaudit.yml` makes DIR its own root and keeps the profile.
///
/// Scanning a directory that holds `.originaudit-live/manifest.json` replays the collection: the
/// manifest's inputs are read (not every file in the directory) with the same names live mode
/// showed, so the findings are the live scan's.
public enum LiveEvidence {
    public static let folder = ".originaudit-live"
    public static let manifestName = "manifest.json"
    static let format = "originaudit-live-evidence"

    /// The manifest: what was collected, when, where, by which version, and how to read it back.
    struct Manifest: Codable {
        struct Input: Codable {
            var kind: String
            /// A dump kept in `.originaudit-live/` (a plain file name).
            var file: String?
            /// A file on the host (absolute), laid out under DIR.
            var path: String?
            var family: AddressFamily?
        }
        struct CollectionFinding: Codable {
            var ruleId: String
            var message: String
            var file: String?
            var line: Int?
            var column: Int?
            var key: String?
        }
        struct Listener: Codable {
            var family: AddressFamily
            var address: String?
            var port: UInt16
        }
        struct Sockets: Codable {
            var tcp: [Listener]
            var unix: [String]
        }
        struct VirtualHost: Codable {
            var port: UInt16
            var name: String
        }
        struct SavedFile: Codable {
            var path: String
            /// `copied`, `key stand-in`, `withheld` (not a certificate and not safe to copy),
            /// `directory`, `present` (only its existence was checked: an empty file stands for it).
            var saved: String
        }
        var format = LiveEvidence.format
        var formatVersion = 1
        var tool: [String: String]
        var host: String
        var collectedAt: String
        var inputs: [Input]
        var findings: [CollectionFinding]
        var notes: [String]
        var sockets: Sockets?
        var apacheStaticModules: [String]?
        var apacheVirtualHosts: [VirtualHost]?
        var defaultRouteInterfaces: [String]
        /// Absent from collections saved before it was kept.
        var hostAddresses: [String]?
        var files: [SavedFile]
    }

    public struct SaveError: Error, CustomStringConvertible {
        public var description: String
    }

    /// Opens DIR for saving before anything is collected: it must be new or an empty directory
    /// (never a link); nothing in it is ever overwritten.
    public static func open(_ path: String) throws -> EvidenceWriter { try EvidenceWriter(path) }

    /// Writes the collection. `liveDirectory`: where live mode put its dumps; `log`: what the
    /// audit read; `certificateFiles`: the host paths the certificate loader read (saved with
    /// their text between PEM blocks blanked, and withheld when not a certificate).
    public static func save(_ collected: LiveCollector.Collected, liveDirectory: URL, log: ReadLog,
                            certificateFiles: Set<String>, settings: ProjectConfig, into writer: EvidenceWriter) throws -> [String] {
        var notes: [String] = []
        var inputs: [Manifest.Input] = []
        for entry in collected.explicit {
            if entry.path.hasPrefix(liveDirectory.path + "/") {
                let name = (entry.path as NSString).lastPathComponent
                guard let bytes = FileManager.default.contents(atPath: entry.path) else {
                    throw SaveError(description: "cannot read back \(name) from \(liveDirectory.path)")
                }
                try writer.write([folder, name], Array(bytes))
                inputs.append(.init(kind: entry.kind.rawValue, file: name, family: entry.familyHint))
            } else {
                inputs.append(.init(kind: entry.kind.rawValue, path: entry.path, family: entry.familyHint))
            }
        }
        var files: [Manifest.SavedFile] = []
        for (path, use) in log.entries {
            if path.hasPrefix(liveDirectory.path + "/") || path == liveDirectory.path { continue }
            let components = path.split(separator: "/").map(String.init)
            if components.isEmpty { continue }  // `/` itself: DIR stands for it
            guard path.hasPrefix("/"), components.first != folder, path != "/.originaudit.yml" else {
                notes.append("save: \(path) was not saved (its place in DIR is reserved)")
                continue
            }
            switch use {
            case .directory:
                try writer.makeDirectory(components)
                files.append(.init(path: path, saved: "directory"))
            case .present:
                try writer.write(components, [])
                files.append(.init(path: path, saved: "present"))
            case .read:
                guard case .success(let bytes) = SourceTree(root: nil).read(path) else {
                    notes.append("save: \(path) could not be read again and was not saved")
                    continue
                }
                // The file as the server opens it: links followed, as the audit's reading followed them.
                var info = stat()
                let known = stat(path, &info) == 0
                let origin = KeyStandIn.Origin(path: path, mode: known ? UInt16(truncatingIfNeeded: info.st_mode & 0o7777) : nil,
                                               owner: known ? info.st_uid : nil, group: known ? info.st_gid : nil)
                let saved = KeyStandIn.sanitised(bytes, origin: origin, isCertificateFile: certificateFiles.contains(path))
                try writer.write(components, saved)
                let kind = saved == bytes ? "copied" : PEMBlock.scan(saved).contains { $0.label == KeyStandIn.label }
                    ? (PEMBlock.scan(bytes).isEmpty ? "withheld" : "key stand-in") : "copied (text around PEM blocks left out)"
                files.append(.init(path: path, saved: kind))
            }
        }
        var settings = settings
        // The files the profile names (--cdn-ranges, --ca-file) are kept inside DIR too: the
        // ranges at their absolute path, so that the CDN is named as the live scan named it.
        if let ranges = settings.cdnRangesFile {
            guard case .success(let bytes) = SourceTree(root: nil).read(ranges) else { throw SaveError(description: "cannot read \(ranges)") }
            let absolute = SourceTree.normalise(ranges.hasPrefix("/") ? ranges : FileManager.default.currentDirectoryPath + "/" + ranges)
            let components = absolute.split(separator: "/").map(String.init)
            if !files.contains(where: { $0.path == absolute }), components.first != folder {
                try writer.write(components, bytes)
                files.append(.init(path: absolute, saved: "copied"))
                settings.cdnRangesFile = absolute
            } else {
                try writer.write([folder, "cdn-ranges.txt"], bytes)
                settings.cdnRangesFile = "\(folder)/cdn-ranges.txt"
            }
        }
        settings.caFiles = try settings.caFiles.enumerated().map { index, file in
            guard case .success(let bytes) = SourceTree(root: nil).read(file) else { throw SaveError(description: "cannot read \(file)") }
            let name = "ca-file-\(index + 1).pem"
            try writer.write([folder, name], KeyStandIn.sanitised(bytes, origin: .init(path: file, mode: nil, owner: nil, group: nil), isCertificateFile: true))
            return "\(folder)/\(name)"
        }
        let host = ProcessInfo.processInfo.hostName
        let now = Profile.format(Date())
        let manifest = Manifest(
            tool: ["name": ToolInfo.name, "version": ToolInfo.version], host: host, collectedAt: now, inputs: inputs,
            findings: collected.findings.map {
                .init(ruleId: $0.ruleId, message: $0.message, file: $0.location?.file, line: $0.location?.line,
                      column: $0.location?.column, key: $0.key)
            },
            notes: collected.notes,
            sockets: collected.sockets.map { sockets in
                .init(tcp: sockets.tcp.map { .init(family: $0.family, address: $0.address?.description, port: $0.port) },
                      unix: sockets.unixPaths.sorted())
            },
            apacheStaticModules: collected.apacheStaticModules,
            apacheVirtualHosts: collected.apacheVirtualHosts?.map { .init(port: $0.port, name: $0.name) },
            defaultRouteInterfaces: collected.defaultRouteInterfaces, hostAddresses: collected.hostAddresses.map(\.description), files: files)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        try writer.write([folder, manifestName], Array(try encoder.encode(manifest)) + [0x0A])
        try writer.write([".originaudit.yml"], Array(projectFile(settings, host: host, at: now).utf8))
        return notes
    }

    /// The saved `.originaudit.yml`: DIR is its own root, and the profile the live scan used
    /// (`settings`: the project file's keys with the command line's values merged in; its paths,
    /// inputs, suppressions, `at` and `failOn` are not written).
    static func projectFile(_ settings: ProjectConfig, host: String, at: String) -> String {
        func quoted(_ text: String) -> String {
            let data = (try? JSONEncoder().encode(text)) ?? Data("\"\"".utf8)
            return String(decoding: data, as: UTF8.self)
        }
        func list(_ items: [String]) -> String { "[" + items.map(quoted).joined(separator: ", ") + "]" }
        var lines = [
            "# Written by originaudit scan --live --save (\(ToolInfo.version)) on \(quoted(host)) at \(at).",
            "# The configuration here names paths on that host; they resolve under this directory.",
            "root: .",
        ]
        if let cdn = settings.cdn { lines.append("cdn: \(quoted(cdn))") }
        if let ranges = settings.cdnRangesFile { lines.append("cdnRanges: \(quoted(ranges))") }
        if let mode = settings.tlsMode { lines.append("tlsMode: \(mode.rawValue)") }
        if !settings.hostnames.isEmpty { lines.append("hostnames: \(list(settings.hostnames))") }
        if !settings.publicInterfaces.isEmpty { lines.append("publicInterfaces: \(list(settings.publicInterfaces))") }
        if !settings.originAddresses.isEmpty { lines.append("originAddresses: \(list(settings.originAddresses.map(\.description)))") }
        if let days = settings.expiryWarningDays { lines.append("expiryWarningDays: \(days)") }
        if !settings.defines.isEmpty { lines.append("defines: \(list(settings.defines))") }
        if !settings.caFiles.isEmpty { lines.append("caFiles: \(list(settings.caFiles))") }
        if !settings.disabled.isEmpty { lines.append("disable: \(list(settings.disabled.sorted()))") }
        if !settings.severityOverrides.isEmpty {
            lines.append("severity:")
            for (id, level) in settings.severityOverrides.sorted(by: { $0.key < $1.key }) { lines.append("  \(quoted(id)): \(level.rawValue)") }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// The saved collection in a directory the user scans, if it holds one.
    public static func manifestPath(in directory: String) -> String? {
        let path = (directory as NSString).appendingPathComponent("\(folder)/\(manifestName)")
        var info = stat()
        return lstat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFREG ? path : nil
    }

    /// Reads a saved collection back as live mode would have handed it over: dumps by their
    /// `live:` names, host files under the tree's root. Problems are usage errors (thrown).
    public static func load(_ directory: String, tree: inout SourceTree) throws -> (collected: LiveCollector.Collected, summary: String) {
        guard let path = manifestPath(in: directory), case .success(let bytes) = SourceTree(root: nil).read(path) else {
            throw SaveError(description: "\(directory): no readable \(folder)/\(manifestName)")
        }
        let manifest: Manifest
        do { manifest = try JSONDecoder().decode(Manifest.self, from: Data(bytes)) } catch {
            throw SaveError(description: "\(path) is not a manifest this version reads: \(error)")
        }
        guard manifest.format == format, manifest.formatVersion == 1 else {
            throw SaveError(description: "\(path): format \(manifest.format) version \(manifest.formatVersion) is not one this version reads")
        }
        var collected = LiveCollector.Collected()
        for input in manifest.inputs {
            guard let kind = InputKind(rawValue: input.kind), kind != .unknown else {
                throw SaveError(description: "\(path): unknown input kind \(input.kind)")
            }
            if let file = input.file {
                guard !file.contains("/"), file != ".", file != "..", !file.isEmpty else { throw SaveError(description: "\(path): bad file name \(file)") }
                let hostPath = SourceTree.normalise(directory + "/\(folder)/" + file)
                tree.aliases[hostPath] = "live: " + file
                collected.explicit.append((kind, hostPath, input.family))
            } else if let hostFile = input.path, hostFile.hasPrefix("/") {
                collected.explicit.append((kind, tree.hostPath(hostFile), input.family))
            } else {
                throw SaveError(description: "\(path): an input with neither file nor absolute path")
            }
        }
        collected.findings = manifest.findings.map { saved in
            Finding(ruleId: saved.ruleId, message: saved.message,
                    location: saved.file.map { SourceLocation(file: $0, line: saved.line ?? 0, column: saved.column ?? 0) }, key: saved.key)
        }
        collected.notes = manifest.notes
        if let sockets = manifest.sockets {
            var parsed = HostSockets(unixPaths: Set(sockets.unix))
            for listener in sockets.tcp {
                var address: IPAddress?
                if let text = listener.address {
                    guard let value = IPAddress(text), value.family == listener.family else {
                        throw SaveError(description: "\(path): bad listening address \(text)")
                    }
                    address = value
                }
                parsed.tcp.append(.init(family: listener.family, address: address, port: listener.port))
            }
            collected.sockets = parsed
        }
        collected.apacheStaticModules = manifest.apacheStaticModules
        collected.apacheVirtualHosts = manifest.apacheVirtualHosts?.map { ($0.port, $0.name) }
        collected.defaultRouteInterfaces = manifest.defaultRouteInterfaces
        collected.hostAddresses = (manifest.hostAddresses ?? []).compactMap { IPAddress($0) }
        let summary = "saved live collection: \(directory) holds what scan --live saw on \(manifest.host) at \(manifest.collectedAt) (\(manifest.tool["name"] ?? "?") \(manifest.tool["version"] ?? "?")); its manifest's inputs are read, not every file in it"
        return (collected, summary)
    }
}

/// Writes below one directory opened once, never following a symbolic link on the way and never
/// replacing anything: directories are made 0700 and files 0600, each created new.
public final class EvidenceWriter {
    private let descriptor: Int32
    public let path: String

    init(_ path: String) throws {
        self.path = path
        var info = stat()
        if lstat(path, &info) == 0 {
            guard (info.st_mode & S_IFMT) == S_IFDIR else {
                throw LiveEvidence.SaveError(description: "--save \(path): exists and is not a directory (a link is not followed); give a new or empty directory")
            }
            let entries = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? ["?"]
            guard entries.isEmpty else {
                throw LiveEvidence.SaveError(description: "--save \(path): the directory is not empty; give a new or empty directory (nothing is overwritten)")
            }
        } else {
            let parent = (path as NSString).deletingLastPathComponent
            if !parent.isEmpty { try? FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: true) }
            guard mkdir(path, 0o700) == 0 else {
                throw LiveEvidence.SaveError(description: "--save \(path): cannot create it: \(String(cString: strerror(errno)))")
            }
        }
        descriptor = Glibc.open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard descriptor >= 0 else {
            throw LiveEvidence.SaveError(description: "--save \(path): cannot open it: \(String(cString: strerror(errno)))")
        }
    }

    deinit { close(descriptor) }

    /// Opens (making where missing) the directories of `components`, without following links.
    private func directory(_ components: ArraySlice<String>) throws -> Int32 {
        var current = dup(descriptor)
        for name in components {
            guard name != ".", name != "..", !name.isEmpty else { close(current); throw failure(components, "bad path component") }
            if mkdirat(current, name, 0o700) != 0 && errno != EEXIST { let error = errno; close(current); throw failure(components, error) }
            let next = openat(current, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            let error = errno
            close(current)
            guard next >= 0 else { throw failure(components, error) }
            current = next
        }
        return current
    }

    func makeDirectory(_ components: [String]) throws {
        close(try directory(components[...]))
    }

    /// Creates the file new (0600) and writes all of `bytes`.
    func write(_ components: [String], _ bytes: [UInt8]) throws {
        guard let name = components.last else { return }
        let parent = try directory(components.dropLast())
        defer { close(parent) }
        guard name != ".", name != ".." else { throw failure(components[...], "bad path component") }
        let file = openat(parent, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard file >= 0 else { throw failure(components[...], errno) }
        defer { close(file) }
        var written = 0
        while written < bytes.count {
            let count = bytes.withUnsafeBytes { Glibc.write(file, $0.baseAddress! + written, bytes.count - written) }
            if count < 0 { if errno == EINTR { continue }; throw failure(components[...], errno) }
            written += count
        }
    }

    private func failure(_ components: ArraySlice<String>, _ error: Int32) -> LiveEvidence.SaveError {
        failure(components, String(cString: strerror(error)))
    }

    private func failure(_ components: ArraySlice<String>, _ reason: String) -> LiveEvidence.SaveError {
        LiveEvidence.SaveError(description: "--save \(path): cannot write \(components.joined(separator: "/")): \(reason)")
    }
}
